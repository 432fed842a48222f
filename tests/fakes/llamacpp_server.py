"""An emulator of llama.cpp's `llama-server` as it behaves today (protocols.md §4, §0b 8).

One model, always loaded, whatever `model` a request names (the server does not check it).
Read in ggml-org/llama.cpp `tools/server/`:

- `GET /props` (`get_props`): `default_generation_settings.n_ctx` is the per-slot window
  (`-c` divided by `-np`); `modalities {vision, audio}` says what the projector
  (`--mmproj`) takes. Newer builds add `video` there (PR #24269, unverified).
- `GET /v1/models` (`get_models`, `server_context::model_meta`): `meta.n_ctx_train` is the
  trained window, not the one the server runs with; no modalities.
- `POST /v1/chat/completions` (`server-common.cpp` `oaicompat_chat_params_parse`): an
  `image_url` or `input_audio` part without the projector throws `std::runtime_error`,
  which `ex_wrapper` (`server.cpp`) answers 500 `server_error`; `input_audio.format` must be
  wav or mp3 (400). A prompt of `n_ctx` tokens or more is a 400 `exceed_context_size_error`
  with `n_prompt_tokens` and `n_ctx` (`server-context.cpp`; `server-task.cpp`
  `server_task_result_error::to_json`). Nothing is truncated.
- Errors are `{"error": {"code", "message", "type"}}` (`format_error_response`).
- While the model loads (`server-http.cpp` `middleware_server_state`) every route but
  `/v1/models` answers 503 "Loading model"; `/v1/models` answers with `meta: null`.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from aiohttp import web

from tests.fakes.base import Handler, Middleware
from tests.fakes.openai_server import LMModel, OpenAIEmulator, image_bytes, parts

NO_IMAGE = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)
NO_AUDIO = (
    "audio input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)
AUDIO_FORMAT = "input_audio.format must be either 'wav' or 'mp3'"
BAD_MEDIA = "Failed to load image or audio file"  # users record 400 (some builds 500); no WebP
BAD_PART = "unsupported content[].type"


class LlamaServerEmulator(OpenAIEmulator):
    """`/health`, `/props`, `/v1/models` and `/v1/chat/completions` of one llama-server.

    Knobs besides the base ones: `n_ctx`, `n_ctx_train`, `vision`, `audio` (False: started
    without a projector for that modality), `total_slots`, `loading`.
    """

    def __init__(
        self,
        model_path: str = "/models/gemma-4-E4B-it-Q4_K_M.gguf",
        *,
        n_ctx: int = 4096,
        n_ctx_train: int = 131072,
        vision: bool = True,
        audio: bool = True,
        total_slots: int = 1,
    ) -> None:
        # Without --alias the model's id is its path (`get_models`).
        super().__init__([LMModel(model_path, state="loaded")], flavour="plain")
        self.n_ctx = n_ctx
        self.n_ctx_train = n_ctx_train
        self.vision = vision
        self.audio = audio
        self.total_slots = total_slots
        self.loading = False

    @property
    def model_id(self) -> str:
        return self.models[0].id

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self._health),
            web.get("/props", self._props),
            web.get("/v1/models", self._v1_models),
            web.post("/v1/chat/completions", self._chat),
            web.post("/v1/completions", self._completions),  # tools/server README
        ]

    def middlewares(self) -> list[Middleware]:
        return [*super().middlewares(), self._loading_gate]

    @web.middleware
    async def _loading_gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.loading and request.path != "/v1/models":
            return self.error(503, "Loading model", kind="unavailable_error")
        return await handler(request)

    def find(self, model_id: str) -> LMModel | None:
        return self.models[0]

    def error_body(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        return {"error": {"code": status, "message": message, "type": kind}}

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _props(self, _: web.Request) -> web.Response:
        settings = {
            "params": {"n_predict": -1, "seed": 4294967295, "temperature": 0.8, "top_k": 40,
                       "top_p": 0.95, "min_p": 0.05},  # a subset of task_params::to_json
            "n_ctx": self.n_ctx,
        }  # fmt: skip
        return web.json_response({
            "default_generation_settings": settings,
            "total_slots": self.total_slots,
            "model_alias": "",  # no --alias
            "model_path": self.model_id,
            "modalities": {"vision": self.vision, "audio": self.audio},
            "endpoint_slots": True,
            "endpoint_props": False,
            "endpoint_metrics": False,
            "webui": True,
            "chat_template": "{{ bos_token }}{% for message in messages %}...{% endfor %}",
            "bos_token": "<bos>",
            "eos_token": "<eos>",
            "build_info": "b6709-5ea10e2",
        })  # fmt: skip

    async def _v1_models(self, _: web.Request) -> web.Response:
        """`get_models`: an Ollama-style `models` list beside the OpenAI `data` list."""
        name = self.model_id
        meta = {"vocab_type": 1, "n_vocab": 262144, "n_ctx_train": self.n_ctx_train,
                "n_embd": 2560, "n_params": 7518365184, "size": 5138250752}  # fmt: skip
        details = {"parent_model": "", "format": "gguf", "family": "", "families": [""],
                   "parameter_size": "", "quantization_level": ""}  # fmt: skip
        multimodal = ["completion", "multimodal"] if self.vision or self.audio else ["completion"]
        ollama_style = {"name": name, "model": name, "modified_at": "", "size": "",
                        "digest": "", "type": "model", "description": "", "tags": [""],
                        "capabilities": multimodal, "parameters": "",
                        "details": details}  # fmt: skip
        data = {"id": name, "object": "model", "created": int(time.time()),
                "owned_by": "llamacpp", "meta": None if self.loading else meta}  # fmt: skip
        return web.json_response({"models": [ollama_style], "object": "list", "data": [data]})

    def admit(self, model: LMModel, messages: list[Any]) -> tuple[web.Response | None, int]:
        """Parts in order, as `oaicompat_chat_params_parse` walks them: the first one it
        cannot take decides the answer."""
        images = 0
        for part in parts(messages):
            kind = part.get("type")
            if kind == "image_url":
                if not self.vision:
                    return self.error(500, NO_IMAGE, kind="server_error"), images
                if image_bytes(part) is None:
                    return self.error(400, BAD_MEDIA), images
                images += 1
            elif kind == "input_audio":
                if not self.audio:
                    return self.error(500, NO_AUDIO, kind="server_error"), images
                problem = _audio_problem(part.get("input_audio"))
                if problem is not None:
                    return self.error(400, problem), images
            elif kind != "text":
                return self.error(400, BAD_PART), images
        return None, images

    def fit(self, model: LMModel, prompt: int) -> tuple[web.Response | None, int]:
        if prompt < self.n_ctx:
            return None, prompt
        message = (
            f"request ({prompt} tokens) exceeds the available context size "
            f"({self.n_ctx} tokens), try increasing it"
        )
        body = self.error_body(400, message, kind="exceed_context_size_error")
        body["error"].update(n_prompt_tokens=prompt, n_ctx=self.n_ctx)
        return web.json_response(body, status=400), prompt


def _audio_problem(audio: Any) -> str | None:
    """Why an `input_audio` object is refused (else None): format, then base64 bytes."""
    if not isinstance(audio, dict) or audio.get("format") not in ("wav", "mp3"):
        return AUDIO_FORMAT
    try:
        base64.b64decode(str(audio.get("data", "")), validate=True)
    except binascii.Error:
        return BAD_MEDIA
    return None
