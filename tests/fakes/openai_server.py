"""An emulator of an OpenAI-compatible server: LM Studio (protocols.md §3) or a plain one.

The `lmstudio` flavour adds LM Studio's `/api/v0/models` listing, its 200-for-anything
fallback and its JIT loading; `plain` is a bare `/v1` server (so a client must fall back to
`/v1/models`). Replies have the shapes of TV-L1/L2/L4/L5 and TV-A1/A2, and errors come in
either of the two shapes LM Studio is recorded with (§3 "Error format").
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
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.fakes.base import Emulator, Handler, Middleware, Received, dumps

__all__ = ["LMModel", "OpenAIEmulator", "Received"]

Flavour = Literal["lmstudio", "plain"]
ErrorShape = Literal["string", "object"]

JIT_CONTEXT = 4096  # what a just-in-time load gets (TV-L2, TV-L3 loaded_instances)
IMAGE_TOKENS = 256  # a Gemma image at its usual budget (§6), for prompt_tokens
BAD_IMAGE = "'url' field must be a base64 encoded image."  # LMSTUDIO_ERROR, #1027/#1839
NO_VISION = "Model does not support images. Please use a model that does."  # #908
BAD_PART = (
    "Invalid 'content': 'content' objects must have a 'type' field that is either "
    "'text' or 'image_url'"
)
_DATA_URL = re.compile(r"data:image/(?:png|jpeg);base64,(.*)", re.S)
_ID_CHARS = string.ascii_lowercase + string.digits


@dataclass
class LMModel:
    """One downloaded model, as LM Studio's `/api/v0/models` describes it."""

    id: str
    type: str = "vlm"  # llm | vlm | embeddings
    arch: str = "gemma4"
    publisher: str = "google"
    quantization: str = "Q4_K_M"
    max_context_length: int = 262144
    state: str = "not-loaded"  # loaded | not-loaded
    loaded_context_length: int | None = None

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
        if self.state == "loaded":  # recorded payloads carry it only then (TV-L2)
            entry["loaded_context_length"] = self.loaded_context_length or JIT_CONTEXT
        return entry


class OpenAIEmulator(Emulator):
    """`/v1/models`, `/v1/chat/completions` and (lmstudio) `/api/v0/models`.

    Knobs (plain attributes): `reply_tokens`, `fail_mid_stream`, `status_override`,
    `delay_first_byte`, `token_delay`; `chat_cancelled` / `cancellations` report clients
    that hung up.
    """

    chat_path = "/v1/chat/completions"

    def __init__(
        self,
        models: list[LMModel] | None = None,
        flavour: Flavour = "lmstudio",
        error_shape: ErrorShape = "string",
        api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.models: list[LMModel] = (
            list(models) if models is not None else [LMModel("google/gemma-4-26b-a4b")]
        )
        self.flavour: Flavour = flavour
        self.error_shape: ErrorShape = error_shape
        self.api_key = api_key
        self._jit_loaded: set[str] = set()

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/v1/models", self._v1_models),
            web.post("/v1/chat/completions", self._chat),
        ]
        if self.flavour == "lmstudio":
            routes += [
                web.get("/api/v0/models", self._v0_models),
                web.route("*", "/{tail:.*}", self._anything),  # "Returning 200 anyway"
            ]
        else:
            routes.append(web.get("/", self._root))
        return routes

    def middlewares(self) -> list[Middleware]:
        return [self._auth]

    def find(self, model_id: str) -> LMModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> web.Response:
        """An error in the configured shape: `{"error": str}` or OpenAI's error object."""
        if self.error_shape == "string":
            return web.json_response({"error": message}, status=status)
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        return web.json_response(body, status=status)

    def _error_event(self, message: str) -> dict[str, Any]:
        if self.error_shape == "string":
            return {"error": message}
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

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

    # --- chat ------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.error(400, "Invalid JSON in request body")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(400, "'messages' field is required", param="messages")
        name = body.get("model")
        model = self.find(name) if isinstance(name, str) else None
        if model is None:
            known = "\n".join(m.id for m in self.models)
            return self.error(
                404,
                f'Model "{name}" not found. Please specify a valid model.\n\n'
                f"Your models:\n\n{known}",
                param="model",
                code="model_not_found",
            )
        messages: list[dict[str, Any]] = body["messages"]
        problem, images = _check_content(messages, audio_ok=self.flavour == "plain")
        if problem is not None:
            return self.error(400, problem, param="messages")
        if images and model.type != "vlm":
            return self.error(400, NO_VISION)
        self._jit_load(model)
        tokens, reason = list(self.reply_tokens), "stop"
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if isinstance(limit, int) and 0 <= limit < len(tokens):  # -1 means no limit
            tokens, reason = tokens[:limit], "length"
        prompt = _prompt_tokens(messages) + IMAGE_TOKENS * images
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(tokens),
            "total_tokens": prompt + len(tokens),
        }
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            return await self._stream(request, model.id, tokens, reason, usage, include_usage)
        if self.fail_mid_stream is not None:
            return self.error(500, self.fail_mid_stream, kind="server_error")
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
        """SSE in TV-A1 order: role, one chunk per token, finish, usage?, [DONE]."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        head = {
            "id": _completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model_id,
            "system_fingerprint": model_id if self.flavour == "lmstudio" else "fp_emulator",
        }
        tail = {"usage": None} if include_usage else {}  # A-oas: null on the other chunks

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**head, "choices": [choice], **tail}

        events: list[dict[str, Any] | str] = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": t}) for t in tokens]
        if self.fail_mid_stream is not None:  # after the first token, then no [DONE]
            events = [*events[:2], self._error_event(self.fail_mid_stream)]
        else:
            events.append(chunk({}, reason))
            if include_usage:
                events.append({**head, "choices": [], "usage": usage})
            events.append("[DONE]")
        for i, event in enumerate(events):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            data = event if isinstance(event, str) else dumps(event)
            if not await self.write_frame(response, f"data: {data}\n\n".encode()):
                return response
        await response.write_eof()
        return response


def _completion_id() -> str:
    """LM Studio's style: chatcmpl- and 21 lowercase alphanumerics (TV-L4)."""
    return "chatcmpl-" + "".join(secrets.choice(_ID_CHARS) for _ in range(21))


def _check_content(messages: list[Any], audio_ok: bool = False) -> tuple[str | None, int]:
    """The 400 message for content LM Studio refuses (else None), and the image count.

    Only PNG/JPEG base64 data URLs pass: remote URLs (#1120) and WebP (#1027) do not.
    `input_audio` (base64 `data`) passes only where the server takes audio (llama.cpp's
    server, the plain flavour: protocols.md §4); LM Studio documents none.
    """
    images = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                continue
            if kind == "input_audio" and audio_ok:
                base64.b64decode(part["input_audio"]["data"], validate=True)
                continue
            if kind != "image_url":
                return BAD_PART, images
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
            try:
                if match is None:
                    raise ValueError(url)
                base64.b64decode(match.group(1), validate=True)
            except (binascii.Error, ValueError):
                return BAD_IMAGE, images
            images += 1
    return None, images


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
