"""An emulator of an OpenAI-compatible server: LM Studio (protocols.md §3) or a plain one.

The `lmstudio` flavour adds LM Studio's `/api/v0/models` and (0.4.0+) `/api/v1/models`
listings, its 200-for-anything fallback, its JIT loading and its silent truncation of a
prompt over the loaded context; `plain` is a bare `/v1` server (so a client must fall back
to `/v1/models`). Replies have the shapes of TV-L1..L5 and TV-A1/A2, and errors come in
either of the two shapes LM Studio is recorded with (§3 "Error format").

`/v1/embeddings` answers as `lmstudio.ai/docs/text-embeddings` shows: `input` a string or a
list of strings, `{"object": "list", "data": [{"object": "embedding", "embedding": [...],
"index": i}], "model", "usage"}`, LM Studio's usage all zeros (as in that example), a plain
server's counted. Vectors are deterministic (a hash of the text).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.fakes.base import Emulator, Handler, Middleware, Received, dumps, text_vector

__all__ = ["LMModel", "OpenAIEmulator", "Received", "Truncation"]

Flavour = Literal["lmstudio", "plain"]
ErrorShape = Literal["string", "object"]

JIT_CONTEXT = 4096  # what a just-in-time load gets (TV-L2, TV-L3 loaded_instances)
SIZE_BYTES = 17990911801  # TV-L3's Gemma 4 26B A4B Q4_K_M
REASONING = {"allowed_options": ["off", "on"], "default": "on"}  # TV-L3 capabilities
IMAGE_TOKENS = 256  # a Gemma image at its usual budget (§6), for prompt_tokens
BAD_IMAGE = "'url' field must be a base64 encoded image."  # LMSTUDIO_ERROR, #1027/#1839
NO_VISION = "Model does not support images. Please use a model that does."  # #908
BAD_PART = (
    "Invalid 'content': 'content' objects must have a 'type' field that is either "
    "'text' or 'image_url'"
)
# LM Studio's answer to embeddings from a model that is no embedding model is not recorded:
# this wording is an assumption (the status too).
NOT_EMBEDDING = "Model is not an embedding model. Please load an embedding model."
_DATA_URL = re.compile(r"data:image/(?:png|jpeg);base64,(.*)", re.S)
_ID_CHARS = string.ascii_lowercase + string.digits


@dataclass
class LMModel:
    """One downloaded model, as LM Studio's `/api/v0/models` describes it (`/api/v1/models`
    shows the same state in its own shape)."""

    id: str
    type: str = "vlm"  # llm | vlm | embeddings
    arch: str = "gemma4"
    publisher: str = "google"
    quantization: str = "Q4_K_M"
    max_context_length: int = 262144
    state: str = "not-loaded"  # loaded | not-loaded
    loaded_context_length: int | None = None
    params_string: str | None = None  # "26B-A4B" in TV-L3; null is documented (L-v1)
    num_experts: int | None = None  # only MoE models carry it (TV-L3: 8)
    parallel: int = 4  # TV-L3 loaded_instances[].config.parallel
    tool_use: bool = True
    dimensions: int = 768  # an embedding model's vector length

    @property
    def loaded_context(self) -> int | None:
        """The context it is loaded at, or None when not loaded."""
        return (self.loaded_context_length or JIT_CONTEXT) if self.state == "loaded" else None

    def v0_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "object": "model",
            "type": self.type,
            "publisher": self.publisher,
            "arch": self.arch,
            "compatibility_type": "gguf",
            "quantization": self.quantization,
            "state": self.state,
            "max_context_length": self.max_context_length,
        }
        if self.loaded_context is not None:  # recorded payloads carry it only then (TV-L2)
            entry["loaded_context_length"] = self.loaded_context
        return entry

    def v1_entry(self) -> dict[str, Any]:
        """L-v1 `list.md`: embedding models lack architecture, capabilities, description and
        every instance config field but `context_length`; LLMs look like TV-L3."""
        bits = re.search(r"\d+", self.quantization)
        config: dict[str, Any] = {"context_length": self.loaded_context}
        entry: dict[str, Any] = {
            "type": "embedding" if self.type == "embeddings" else "llm",
            "publisher": self.publisher,
            "key": self.id,
            "display_name": self.id.rsplit("/", 1)[-1],
            "quantization": {"name": self.quantization, "bits_per_weight": bits and int(bits[0])},
            "size_bytes": SIZE_BYTES,
            "params_string": self.params_string,
            "loaded_instances": [{"id": self.id, "config": config}] if self.loaded_context else [],
            "max_context_length": self.max_context_length,
            "format": "gguf",
        }
        if self.type == "embeddings":
            return entry
        config.update(eval_batch_size=512, parallel=self.parallel, flash_attention=True)
        if self.num_experts is not None:
            config["num_experts"] = self.num_experts
        config["offload_kv_cache_to_gpu"] = True
        variant = f"{self.id}@{self.quantization.lower()}"
        return {
            **entry,
            "architecture": self.arch,
            "capabilities": {
                "vision": self.type == "vlm",
                "trained_for_tool_use": self.tool_use,
                "reasoning": REASONING,
            },
            "description": None,
            "variants": [variant],
            "selected_variant": variant,
        }


@dataclass
class Truncation:
    """A prompt LM Studio cut to fit the loaded context, answering 200 all the same."""

    model: str
    prompt_tokens: int
    context: int


class OpenAIEmulator(Emulator):
    """`/v1/models`, `/v1/chat/completions` and (lmstudio) `/api/v0/models`.

    Knobs (plain attributes): `reply_tokens`, `fail_mid_stream`, `status_override`,
    `delay_first_byte`, `token_delay`, `truncate_stream` / `garbage` / `fault_after` (see
    `Emulator`); `chat_cancelled` / `cancellations` report clients that hung up.
    `/v1/completions` (a raw prompt) takes the chat knobs, its bodies in `completions()`.
    `/v1/embeddings` honours `status_override` and `garbage`; `reverse_embeddings` sends its
    `data` last index first (order is by `index`); `embeds()` returns its bodies.
    """

    chat_path = "/v1/chat/completions"

    def __init__(
        self,
        models: list[LMModel] | None = None,
        flavour: Flavour = "lmstudio",
        error_shape: ErrorShape = "string",
        api_key: str | None = None,
        api_v1: bool = True,
    ) -> None:
        super().__init__()
        self.models: list[LMModel] = (
            list(models) if models is not None else [LMModel("google/gemma-4-26b-a4b")]
        )
        self.flavour: Flavour = flavour
        self.error_shape: ErrorShape = error_shape
        self.api_key = api_key
        self.api_v1 = api_v1  # /api/v1/models is LM Studio 0.4.0+; before, "200 anyway"
        self.truncations: list[Truncation] = []
        self._jit_loaded: set[str] = set()
        self.reverse_embeddings = False

    def completions(self) -> list[Any]:
        """The JSON bodies of every `/v1/completions` request, oldest first."""
        return [r.body for r in self.received if r.path == "/v1/completions"]

    def embeds(self) -> list[Any]:
        """The JSON bodies of every `/v1/embeddings` request, oldest first."""
        return [r.body for r in self.received if r.path == "/v1/embeddings"]

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/v1/models", self._v1_models),
            web.post("/v1/chat/completions", self._chat),
            web.post("/v1/completions", self._completions),
            web.post("/v1/embeddings", self._embeddings),
        ]
        if self.flavour == "lmstudio":
            routes += [
                web.get("/api/v0/models", self._v0_models),
                web.get("/api/v1/models", self._v1_native_models),
                web.route("*", "/{tail:.*}", self._anything),  # "Returning 200 anyway"
            ]
        else:
            routes.append(web.get("/", self._root))
        return routes

    def middlewares(self) -> list[Middleware]:
        return [self._auth]

    def find(self, model_id: str) -> LMModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def error(self, status: int, message: str, **fields: str | None) -> web.Response:
        """An error response, its body as `error_body` makes it (`kind`, `param`, `code`)."""
        return web.json_response(self.error_body(status, message, **fields), status=status)

    def error_body(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """An error in the configured shape: `{"error": str}` or OpenAI's error object."""
        if self.error_shape == "string":
            return {"error": message}
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """With an API key set, every route wants `Authorization: Bearer <key>` (§3)."""
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return self.error(401, "Invalid or missing API key", code="invalid_api_key")
        return await handler(request)

    # --- listings --------------------------------------------------------------------

    async def _root(self, _: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _anything(self, request: web.Request) -> web.Response:
        """LM Studio logs "Unexpected endpoint or method ... Returning 200 anyway" (#1879)."""
        return web.json_response(
            {"error": f"Unexpected endpoint or method. ({request.method} {request.path})"}
        )

    async def _v1_models(self, _: web.Request) -> web.Response:
        if self.flavour == "lmstudio":  # only id/object/owned_by (TV-L5)
            data = [
                {"id": m.id, "object": "model", "owned_by": "organization_owner"}
                for m in self.models
            ]
        else:  # the OpenAI spec's Model object
            data = [
                {"id": m.id, "object": "model", "created": 1731990317, "owned_by": "system"}
                for m in self.models
            ]
        return web.json_response({"data": data, "object": "list"})

    async def _v0_models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [m.v0_entry() for m in self.models]})

    async def _v1_native_models(self, request: web.Request) -> web.Response:
        if not self.api_v1:
            return await self._anything(request)
        return web.json_response({"models": [m.v1_entry() for m in self.models]})

    # --- embeddings ------------------------------------------------------------------

    async def _embeddings(self, request: web.Request) -> web.Response:
        if self.status_override is not None:
            status, payload = self.status_override
            return web.json_response(payload, status=status)
        if garbage := self.garbage_response():
            return garbage
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.error(400, "Invalid JSON in request body")
        given = body.get("input") if isinstance(body, dict) else None
        inputs = [given] if isinstance(given, str) else given
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            return self.error(400, "'input' field must be a string or an array of strings",
                              param="input")  # fmt: skip
        name = body.get("model")
        model = self.find(name if isinstance(name, str) else "")
        if model is None:
            return self.not_found(name)
        if model.type != "embeddings":
            return self.error(400, NOT_EMBEDDING, param="model")
        self._jit_load(model)
        data = [
            {"object": "embedding", "embedding": text_vector(model.id, t, model.dimensions),
             "index": i}
            for i, t in enumerate(inputs)
        ]  # fmt: skip
        if self.reverse_embeddings:
            data.reverse()
        words = 0 if self.flavour == "lmstudio" else sum(len(t.split()) for t in inputs)
        usage = {"prompt_tokens": words, "total_tokens": words}
        return web.json_response(
            {"object": "list", "data": data, "model": model.id, "usage": usage}
        )

    def not_found(self, name: Any) -> web.Response:
        known = "\n".join(m.id for m in self.models)
        return self.error(
            404,
            f'Model "{name}" not found. Please specify a valid model.\n\nYour models:\n\n{known}',
            param="model",
            code="model_not_found",
        )

    # --- chat ------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.error(400, "Invalid JSON in request body")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(400, "'messages' field is required", param="messages")
        name = body.get("model")
        model = self.find(name if isinstance(name, str) else "")
        if model is None:
            return self.not_found(name)
        messages: list[dict[str, Any]] = body["messages"]
        refusal, images = self.admit(model, messages)
        if refusal is not None:
            return refusal
        self._jit_load(model)
        refusal, prompt = self.fit(model, _prompt_tokens(messages) + IMAGE_TOKENS * images)
        if refusal is not None:
            return refusal
        tokens, reason, usage = self._reply(body, prompt)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            return await self._stream(request, model.id, tokens, reason, usage, include_usage)
        if refusal := self._unstreamed_fault():
            return refusal
        reply = {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.id,
            "choices": [
                {
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": reason,
                    "message": {"role": "assistant", "content": "".join(tokens)},
                }
            ],
            "usage": usage,
        }
        return web.json_response(reply)

    def _reply(self, body: dict[str, Any], prompt: int) -> tuple[list[str], str, dict[str, int]]:
        """The answer's tokens (cut at `max_tokens`), its finish reason and usage."""
        tokens, reason = list(self.reply_tokens), "stop"
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if isinstance(limit, int) and 0 <= limit < len(tokens):  # -1 means no limit
            tokens, reason = tokens[:limit], "length"
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(tokens),
            "total_tokens": prompt + len(tokens),
        }
        return tokens, reason, usage

    def _unstreamed_fault(self) -> web.Response | None:
        """What the fault knobs make of an answer that is not streamed (else None)."""
        if self.fail_mid_stream is not None:
            return self.error(500, self.fail_mid_stream, kind="server_error")
        return self.garbage_response()

    # --- completions (a raw prompt) ----------------------------------------------------

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self.guarded(request, self._complete)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/completions, OpenAI's legacy text completions, which LM Studio lists
        among its OpenAI-compatible endpoints (`lmstudio.ai/docs/api/openai-api`) and
        llama-server serves (`tools/server` README: `/completion` "is not OAI-compatible.
        For OAI-compatible client, use `/v1/completions`"): the prompt is continued as it
        is, no chat template; `text_completion` objects, streamed as SSE chunks of the same
        shape. Only a string prompt is taken here (the wording of the refusal is assumed).
        """
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.error(400, "Invalid JSON in request body")
        prompt = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(prompt, str):
            return self.error(400, "'prompt' field must be a string", param="prompt")
        name = body.get("model")
        model = self.find(name if isinstance(name, str) else "")
        if model is None:
            return self.not_found(name)
        self._jit_load(model)
        _, words = self.fit(model, len(prompt.split()))
        tokens, reason, usage = self._reply(body, words)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            return await self._stream(request, model.id, tokens, reason, usage, include_usage)
        if refusal := self._unstreamed_fault():
            return refusal
        choice = {"index": 0, "text": "".join(tokens), "logprobs": None, "finish_reason": reason}
        return web.json_response({
            "id": _completion_id("cmpl-"), "object": "text_completion",
            "created": int(time.time()), "model": model.id, "choices": [choice], "usage": usage,
        })  # fmt: skip

    def admit(self, model: LMModel, messages: list[Any]) -> tuple[web.Response | None, int]:
        """The refusal of content this server does not take (else None), and the image count."""
        problem, images = _check_content(messages, audio_ok=self.flavour == "plain")
        if problem is not None:
            return self.error(400, problem, param="messages"), images
        if images and model.type != "vlm":
            return self.error(400, NO_VISION), images
        return None, images

    def fit(self, model: LMModel, prompt: int) -> tuple[web.Response | None, int]:
        """The refusal of a prompt too long for the model (else None), and the prompt tokens
        it processes.

        LM Studio refuses none: by its context overflow policy (lmstudio-python
        `LLMContextOverflowPolicy`; `truncateMiddle` keeps the system prompt and the first
        user message) it cuts the prompt to the loaded context and answers 200 as usual, so
        only `truncations` shows the harm.
        """
        window = model.loaded_context
        if self.flavour != "lmstudio" or window is None or prompt <= window:
            return None, prompt
        self.truncations.append(Truncation(model.id, prompt, window))
        return None, window

    def _jit_load(self, model: LMModel) -> None:
        """JIT-load a cold model; Auto-Evict keeps at most one JIT-loaded model (L-ttl)."""
        if model.state == "loaded":
            return
        for other in self.models:
            if other.id in self._jit_loaded:
                other.state, other.loaded_context_length = "not-loaded", None
        self._jit_loaded = {model.id}
        model.state, model.loaded_context_length = "loaded", JIT_CONTEXT

    async def _stream(
        self,
        request: web.Request,
        model_id: str,
        tokens: list[str],
        reason: str,
        usage: dict[str, int],
        include_usage: bool,
    ) -> web.StreamResponse:
        """SSE in TV-A1 order: role, one chunk per token, finish, usage?, [DONE]; for
        `/v1/completions`, `text_completion` chunks whose choices carry `text`, no role."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        text = request.path == "/v1/completions"
        head = {
            "id": _completion_id("cmpl-" if text else "chatcmpl-"),
            "object": "text_completion" if text else "chat.completion.chunk",
            "created": int(time.time()),
            "model": model_id,
            "system_fingerprint": model_id if self.flavour == "lmstudio" else "fp_emulator",
        }
        tail = {"usage": None} if include_usage else {}  # A-oas: null on the other chunks

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            said: dict[str, Any] = {"text": delta.get("content", "")} if text else {"delta": delta}
            choice = {"index": 0, **said, "logprobs": None, "finish_reason": finish}
            return {**head, "choices": [choice], **tail}

        events: list[dict[str, Any] | str] = (
            [] if text else [chunk({"role": "assistant", "content": ""})]
        )
        events += [chunk({"content": t}) for t in tokens]
        if self.fail_mid_stream is not None:  # after the first token, then no [DONE]
            events = [*events[:2], self.error_body(500, self.fail_mid_stream, kind="server_error")]
        else:
            events.append(chunk({}, reason))
            if include_usage:
                events.append({**head, "choices": [], "usage": usage})
            events.append("[DONE]")
        for i, event in enumerate(self.faulted(events)):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            if isinstance(event, bytes):  # garbage, as it is
                frame = event
            else:
                frame = f"data: {event if isinstance(event, str) else dumps(event)}\n\n".encode()
            if not await self.write_frame(response, frame):
                return response
        await response.write_eof()
        return response


def _completion_id(prefix: str = "chatcmpl-") -> str:
    """LM Studio's style: chatcmpl- and 21 lowercase alphanumerics (TV-L4)."""
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(21))


def _check_content(messages: list[Any], audio_ok: bool = False) -> tuple[str | None, int]:
    """The 400 message for content LM Studio refuses (else None), and the image count.

    Only PNG/JPEG base64 data URLs pass: remote URLs (#1120) and WebP (#1027) do not.
    `input_audio` (base64 `data`) passes only where the server takes audio (llama.cpp's
    server, the plain flavour: protocols.md §4); LM Studio documents none.
    """
    images = 0
    for part in parts(messages):
        kind = part.get("type")
        if kind == "text":
            continue
        if kind == "input_audio" and audio_ok:
            base64.b64decode(part["input_audio"]["data"], validate=True)
            continue
        if kind != "image_url":
            return BAD_PART, images
        if image_bytes(part) is None:
            return BAD_IMAGE, images
        images += 1
    return None, images


def parts(messages: list[Any]) -> Iterator[dict[str, Any]]:
    """Every content part of every message, in order ({} for a part that is no object)."""
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            yield part if isinstance(part, dict) else {}


def image_bytes(part: dict[str, Any]) -> bytes | None:
    """The bytes of an `image_url` part that is a PNG/JPEG base64 data URL, else None."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
    try:
        return base64.b64decode(match.group(1), validate=True) if match else None
    except binascii.Error:
        return None


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A deterministic stand-in for the tokenizer: the words of every text."""
    words = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):
            texts = (p.get("text", "") for p in content if isinstance(p, dict))
            words += sum(len(str(t).split()) for t in texts)
    return words
