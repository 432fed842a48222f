"""LM Studio, llama.cpp and any other OpenAI-compatible server, over aiohttp."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

from gateway.backends.base import BackendBase
from gateway.backends.media_body import StandIns, splice
from gateway.config import BackendConfig
from gateway.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    backend_status_error,
)
from gateway.types import (
    Audio,
    BackendRequest,
    ChatMessage,
    Chunk,
    Completion,
    Health,
    Image,
    Modality,
    ModelInfo,
    Text,
)

_VISION = frozenset({Modality.TEXT, Modality.IMAGE})
_TEXT = frozenset({Modality.TEXT})


class OpenAICompatBackend(BackendBase):
    """A server speaking `/v1/chat/completions`; LM Studio's `/api/v0/models` when present."""

    kind = "openai"

    def __init__(self, cfg: BackendConfig) -> None:
        super().__init__(cfg)
        self._headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self._session: aiohttp.ClientSession | None = None
        self._has_v0: bool | None = None  # learnt on the first model listing

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                sock_connect=self.cfg.connect_timeout_s, sock_read=self.cfg.first_byte_timeout_s
            )
            self._session = aiohttp.ClientSession(
                self.url, headers=self._headers, timeout=timeout, auto_decompress=True
            )
        return self._session

    async def chat(self, req: BackendRequest) -> Completion:
        with self._errors():
            body = await encoded_body(req, stream=False)
            async with (
                asyncio.timeout(self.cfg.first_byte_timeout_s),
                self.session.post("/v1/chat/completions", data=body, headers=_JSON) as r,
            ):
                await self._raise_for_status(r)
                completion: Completion = await r.json(content_type=None)
        completion["model"] = req.model
        return completion

    async def _stream(self, req: BackendRequest) -> AsyncIterator[Chunk]:
        finished = False
        with self._errors():
            body = await encoded_body(req, stream=True)
            async with self.session.post("/v1/chat/completions", data=body, headers=_JSON) as r:
                await self._raise_for_status(r)
                decoder = SSEDecoder()
                async for data in r.content.iter_any():
                    for event in decoder.feed(data):
                        if event == "[DONE]":
                            return
                        chunk = self._parse_event(event)
                        chunk["model"] = req.model
                        finished = finished or any(
                            c.get("finish_reason") for c in chunk.get("choices") or ()
                        )
                        yield chunk
        if not finished:
            raise BackendError(f"backend {self.name!r} closed the stream before finishing")

    def _parse_event(self, event: str) -> Chunk:
        try:
            chunk = json.loads(event)
        except json.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            raise BackendError(f"backend {self.name!r} sent a malformed event: {event[:200]}")
        if "error" in chunk:
            raise BackendError(f"backend {self.name!r} failed mid-answer: {error_text(chunk)}")
        return chunk

    async def list_models(self) -> list[ModelInfo]:
        with self._errors():
            if self._has_v0 is not False:
                models = await self._lmstudio_models()
                self._has_v0 = models is not None
                if models is not None:
                    return models
            return await self._openai_models()

    async def _lmstudio_models(self) -> list[ModelInfo] | None:
        """LM Studio's richer listing (type, state, context); None when absent."""
        async with self.session.get("/api/v0/models") as r:
            if r.status != 200:
                return None
            body = await r.json(content_type=None)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return None  # LM Studio answers unknown routes with 200; others may too
        return [
            ModelInfo(
                id=m["id"],
                backend=self.name,
                inputs=_VISION if m.get("type") == "vlm" else _TEXT,
                context=m.get("max_context_length"),
                loaded=m.get("state") == "loaded",
                loaded_context=m.get("loaded_context_length"),
            )
            for m in body["data"]
            if m.get("type") in ("llm", "vlm")
        ]

    async def _openai_models(self) -> list[ModelInfo]:
        async with self.session.get("/v1/models") as r:
            await self._raise_for_status(r)
            body = await r.json(content_type=None)
        return [
            ModelInfo(
                id=m["id"],
                backend=self.name,
                context=(m.get("meta") or {}).get("n_ctx_train"),  # llama.cpp's llama-server
            )  # inputs unknown: the catalogue decides
            for m in body.get("data", [])
        ]

    async def health(self) -> Health:
        try:
            with self._errors():
                async with self.session.get("/v1/models") as r:
                    await self._raise_for_status(r)
        except GatewayError as e:
            return Health(False, e.message)
        return Health(True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _raise_for_status(self, r: aiohttp.ClientResponse) -> None:
        if r.status < 400:
            return
        text = await r.text()
        try:
            message = error_text(json.loads(text))
        except (json.JSONDecodeError, AttributeError):
            message = text[:500] or r.reason or "no message"
        raise backend_status_error(self.name, r.status, message)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise BackendTimeout(
                f"backend {self.name!r} at {self.url} did not answer in time"
            ) from None
        except aiohttp.ClientConnectionError as e:
            raise BackendUnavailable(
                f"cannot reach backend {self.name!r} at {self.url} ({type(e).__name__}); "
                "is the server (LM Studio: `lms server start`) running there?"
            ) from None
        except aiohttp.ClientError as e:
            raise BackendError(f"backend {self.name!r}: {e}") from None


def error_text(body: dict[str, Any]) -> str:
    """The message of any error shape seen in the wild.

    >>> [error_text(b) for b in ({"error": "x"}, {"error": {"message": "y"}}, {"detail": "z"})]
    ['x', 'y', 'z']
    """
    err = body.get("error", body.get("detail"))
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)


_JSON = {"Content-Type": "application/json"}


async def encoded_body(req: BackendRequest, stream: bool) -> io.BytesIO:
    """The JSON body to forward; media are spliced in off the loop (see media_body)."""
    stand_ins = StandIns()
    body = json.dumps(request_body(req, stream, stand_ins)).encode()
    return io.BytesIO(await splice(body, stand_ins.media))


def request_body(req: BackendRequest, stream: bool, stand_ins: StandIns) -> dict[str, Any]:
    """The OpenAI request to forward: sampling fields as sent, media as data URLs whose
    base64 is a stand-in until spliced."""
    body = dict(req.sampling)
    messages = [openai_message(m, stand_ins) for m in req.messages]
    body.update(model=req.model, messages=messages, stream=stream)
    if stream and req.include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def openai_message(msg: ChatMessage, stand_ins: StandIns) -> dict[str, Any]:
    """A decoded message back in OpenAI form; plain text stays a plain string."""
    out = dict(msg.extra)
    out["role"] = msg.role
    if all(isinstance(p, Text) for p in msg.parts):
        out["content"] = msg.text if msg.parts or msg.role != "assistant" else None
        return out
    out["content"] = [_openai_part(p, stand_ins) for p in msg.parts]
    return out


def _openai_part(part: Text | Image | Audio, stand_ins: StandIns) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    b64 = stand_ins.text(part.data)
    if isinstance(part, Image):
        return {"type": "image_url", "image_url": {"url": f"data:{part.mime};base64,{b64}"}}
    return {"type": "input_audio", "input_audio": {"data": b64, "format": part.format}}


class SSEDecoder:
    """Incremental `text/event-stream` parser yielding each event's data.

    Buffers across network reads, so events of any size and any split work.

    >>> d = SSEDecoder()
    >>> list(d.feed(b'data: {"a"')) + list(d.feed(b': 1}\\n\\ndata: [DONE]\\n\\n'))
    ['{"a": 1}', '[DONE]']
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, data: bytes) -> Iterator[str]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode()
            if not line:
                if self._data:
                    yield "\n".join(self._data)
                    self._data = []
            elif line.startswith("data:"):
                self._data.append(line[5:].removeprefix(" "))
