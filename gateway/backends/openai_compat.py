"""LM Studio, llama.cpp and any other OpenAI-compatible server, over aiohttp.

Chat is plain `/v1/chat/completions` everywhere; what differs is where a server tells the
truth about its models (protocols.md §0b items 5, 8, 9):

- LM Studio: `/api/v1/models` (0.4.0+; `lmstudio-ai/docs` `2_rest/list.md`), else
  `/api/v0/models`. A loaded model's context is the window it serves: a longer prompt is
  cut silently by LM Studio's context overflow policy, not refused.
- llama.cpp's llama-server: `/props` (`tools/server` `get_props`). Its per-slot
  `default_generation_settings.n_ctx` is the window (`/v1/models` `meta.n_ctx_train` is only
  the trained one; a longer prompt gets a 400), and `modalities` says whether a projector is
  loaded (without one, media get a 500).
- Anything else (llama-cpp-python's server, vLLM): `/v1/models`, inputs left to the catalogue.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import aiohttp

from gateway import fastjson
from gateway.backends.base import BackendBase, checked_vectors, pool_size, shortened
from gateway.backends.media_body import StandIns, splice
from gateway.config import BackendConfig
from gateway.core.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    backend_status_error,
)
from gateway.core.messages import (
    BackendRequest,
    ChatMessage,
    Chunk,
    ChunkStream,
    Completion,
    Embeddings,
    EmbedRequest,
)
from gateway.core.model import Modality, ModelInfo
from preprocess.media import BackendPart, Image, Text

_VISION = frozenset({Modality.TEXT, Modality.IMAGE})
_TEXT = frozenset({Modality.TEXT})

Listing = Callable[[], Awaitable[list[ModelInfo] | None]]


class OpenAICompatBackend(BackendBase):
    """A server speaking `/v1/chat/completions`, its models read from the richest listing
    it has (see the module docstring)."""

    kind = "openai"

    def __init__(self, cfg: BackendConfig) -> None:
        super().__init__(cfg)
        self._headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self._session: aiohttp.ClientSession | None = None
        self._probes: tuple[Listing, ...] = (
            self._lmstudio_v1_models, self._lmstudio_v0_models, self._llama_server_models
        )  # fmt: skip
        self._listing: Listing | None = None  # the one that answered last time

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                sock_connect=self.cfg.connect_timeout_s, sock_read=self.cfg.first_byte_timeout_s
            )
            self._session = aiohttp.ClientSession(
                self.cfg.url,
                headers=self._headers,
                timeout=timeout,
                auto_decompress=True,
                connector=aiohttp.TCPConnector(limit=pool_size(self.cfg), limit_per_host=0),
            )
        return self._session

    async def chat(self, req: BackendRequest) -> Completion:
        with self._errors():
            body = await encoded_body(req, stream=False)
            async with (
                asyncio.timeout(self.cfg.first_byte_timeout_s),
                self.session.post(_path(req), data=body, headers=_JSON) as r,
            ):
                await self._raise_for_status(r)
                completion = self._completion(await self._capped(r), req.prompt is not None)
        completion["model"] = req.model
        return completion

    async def embed(self, req: EmbedRequest) -> Embeddings:
        """POST /v1/embeddings {model, input: [...]} (+ `dimensions`): OpenAI's shape, which
        LM Studio (`lmstudio.ai/docs` text-embeddings: string or string[] input) and
        llama-server answer; vectors are put in the order of `data[i].index`."""
        body: dict[str, Any] = {"model": req.model, "input": req.inputs}
        if req.dimensions is not None:
            body["dimensions"] = req.dimensions
        with self._errors():
            async with (
                asyncio.timeout(self.cfg.first_byte_timeout_s),
                self.session.post("/v1/embeddings", data=json.dumps(body), headers=_JSON) as r,
            ):
                await self._raise_for_status(r)
                raw = await self._capped(r)
        got = self._embeddings(raw, len(req.inputs))
        # A server that ignores `dimensions` (none documents it): cut as Ollama does.
        return Embeddings(shortened(got.vectors, req.dimensions), got.prompt_tokens)

    def _embeddings(self, raw: bytes, expected: int) -> Embeddings:
        """An embeddings answer, checked: `data` a list of `{index, embedding}` objects with
        every index once (else a 502, so that another backend is tried)."""
        reply = self._reply(raw, "data")
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list) or not all(
            isinstance(d, dict) and type(d.get("index")) is int for d in data
        ):
            text = raw[:200].decode(errors="replace")
            raise BackendError(
                f"backend {self.name!r} at {self.url} answered 200 with something that is not "
                f"an embeddings list: {text!r}; is it an OpenAI-compatible server?"
            )
        if sorted(d["index"] for d in data) != list(range(len(data))):
            raise BackendError(f"backend {self.name!r} sent embeddings with broken indexes")
        ordered = [d.get("embedding") for d in sorted(data, key=lambda d: d["index"])]
        usage = reply.get("usage") if isinstance(reply, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return Embeddings(
            checked_vectors(self.name, ordered, expected),
            tokens if type(tokens) is int and tokens > 0 else None,  # LM Studio says 0
        )

    async def _capped(self, r: aiohttp.ClientResponse) -> bytes:
        """The whole body, refused past `MAX_ANSWER_BYTES` rather than held without bound."""
        body = bytearray()
        async for data in r.content.iter_any():
            body += data
            if len(body) > MAX_ANSWER_BYTES:
                raise BackendError(
                    f"backend {self.name!r} answered with over {MAX_ANSWER_BYTES} bytes"
                )
        return bytes(body)

    def _reply(self, raw: bytes, key: str) -> Any:
        """A 200 answer as JSON, None when it is none (not JSON, not UTF-8); a server's error
        object (one without `key`) is a 502 naming the error, so another backend is tried."""
        try:
            reply = fastjson.loads(raw)
        except ValueError:
            return None
        if isinstance(reply, dict) and "error" in reply and key not in reply:
            raise BackendError(f"backend {self.name!r} failed: {error_text(reply)}")
        return reply

    def _completion(self, raw: bytes, text: bool = False) -> Completion:
        """A whole answer, checked: an HTML page or garbage with status 200 (a proxy, another
        kind of server) is a 502, so that another backend is tried. A `text_completion`
        (`text`: a raw prompt's answer) is made the chat completion it stands for."""
        completion = self._reply(raw, "choices")
        choices = completion.get("choices") if isinstance(completion, dict) else None
        key, kind, what = ("text", str, "text") if text else ("message", dict, "chat")
        if (
            not isinstance(completion, dict)
            or not choices
            or not all(
                isinstance(c, dict) and isinstance(c.get(key), kind) for c in _listed(choices)
            )
        ):
            shown = raw[:200].decode(errors="replace")
            raise BackendError(
                f"backend {self.name!r} at {self.url} answered 200 with something that is not a "
                f"{what} completion: {shown!r}; is it an OpenAI-compatible server?"
            )
        return chat_shaped(completion, "message") if text else completion

    async def _stream(self, req: BackendRequest) -> ChunkStream:
        finished = False
        with self._errors():
            body = await encoded_body(req, stream=True)
            async with self.session.post(_path(req), data=body, headers=_JSON) as r:
                await self._raise_for_status(r)
                decoder = SSEDecoder()
                async for data in r.content.iter_any():
                    for event in self._events(decoder, data):
                        if event == "[DONE]":
                            return
                        chunk = self._parse_event(event, req.prompt is not None)
                        chunk["model"] = req.model
                        finished = finished or any(
                            c.get("finish_reason") for c in chunk.get("choices") or ()
                        )
                        yield chunk
        if not finished:
            raise BackendError(f"backend {self.name!r} closed the stream before finishing")

    def _events(self, decoder: SSEDecoder, data: bytes) -> Iterator[str]:
        """The events in `data`; those before a broken one are relayed first."""
        try:
            yield from decoder.feed(data)
        except ValueError as e:  # not UTF-8, or an event past the size limit
            raise BackendError(f"backend {self.name!r} sent a broken event stream: {e}") from None

    def _parse_event(self, event: str, text: bool = False) -> Chunk:
        """One event's chunk, checked: `choices` a list of objects (empty for usage); a
        `text_completion` chunk's `text` a string (`text`), made a chat chunk's delta."""
        try:
            chunk = fastjson.loads(event)
        except ValueError:
            chunk = None
        if isinstance(chunk, dict) and "error" in chunk:
            raise BackendError(f"backend {self.name!r} failed mid-answer: {error_text(chunk)}")
        if not isinstance(chunk, dict) or not all(
            isinstance(c, dict)
            and isinstance(c.get("delta") or {}, dict)
            and (not text or isinstance(c.get("text", ""), str))
            for c in _listed(chunk.get("choices"))
        ):
            raise BackendError(f"backend {self.name!r} sent a malformed event: {event[:200]}")
        return chat_shaped(chunk, "delta") if text else chunk

    async def list_models(self) -> list[ModelInfo]:
        """The richest listing the server answers. The one that answered is asked alone next
        time; it is forgotten when it fails or stops answering (the server was replaced), so
        the probes run again."""
        with self._errors(), self._garbled_listing():
            listing, self._listing = self._listing, None
            if listing is not None and (models := await listing()) is not None:
                self._listing = listing
                return models
            for probe in (p for p in self._probes if p != listing):
                if (models := await probe()) is not None:
                    self._listing = probe
                    return models
            models = await self._openai_models()
            self._listing = self._openai_models
            return models

    async def _get_json(self, path: str) -> Any:
        """A probe's JSON; None when the route is absent (4xx, or not JSON). A 5xx raises:
        the server is there but failing (llama-server answers 503 while loading)."""
        async with self.session.get(path) as r:
            if r.status >= 500:
                await self._raise_for_status(r)
            if r.status != 200:
                return None
            try:
                return await r.json(content_type=None)
            except json.JSONDecodeError:
                return None

    async def _lmstudio_v1_models(self) -> list[ModelInfo] | None:
        """LM Studio 0.4.0+ (L-v1 `list.md`): `capabilities.vision`, loaded instances."""
        body = await self._get_json("/api/v1/models")
        if not isinstance(body, dict) or not isinstance(body.get("models"), list):
            return None  # LM Studio answers unknown routes with 200; others may too
        return [
            lmstudio_v1_info(m, self.name)
            for m in body["models"]
            if m.get("type") in ("llm", "embedding")
        ]

    async def _lmstudio_v0_models(self) -> list[ModelInfo] | None:
        """LM Studio before 0.4.0 (L-v0): `type` (vlm, llm or embeddings), `state`, contexts."""
        body = await self._get_json("/api/v0/models")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return None
        return [
            lmstudio_info(
                m["id"],
                self.name,
                vision=m.get("type") == "vlm",
                max_context=m.get("max_context_length"),
                loaded=m.get("state") == "loaded",
                loaded_context=m.get("loaded_context_length"),  # recorded, not documented
                embedding=m.get("type") == "embeddings",
            )
            for m in body["data"]
            if m.get("type") in ("llm", "vlm", "embeddings")
        ]

    async def _llama_server_models(self) -> list[ModelInfo] | None:
        """llama-server: its one model, windowed by `/props` and given only the media its
        projector takes (`modalities`)."""
        props = await self._get_json("/props")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        if not isinstance(settings, dict):
            return None
        modalities = props.get("modalities") or {}
        inputs = frozenset(
            {Modality.TEXT}
            | ({Modality.IMAGE} if modalities.get("vision") else set())
            | ({Modality.AUDIO} if modalities.get("audio") else set())
        )
        n_ctx = settings.get("n_ctx") if isinstance(settings.get("n_ctx"), int) else None
        return [
            replace(m, inputs=inputs, context=n_ctx or m.context, loaded=True, loaded_context=n_ctx)
            for m in await self._openai_models()
        ]

    async def _openai_models(self) -> list[ModelInfo]:
        async with self.session.get("/v1/models") as r:
            await self._raise_for_status(r)
            body = await r.json(content_type=None)
        return [
            ModelInfo(
                id=m["id"],
                backend=self.name,
                # llama.cpp's `meta` without `/props`: the trained window is all there is
                context=(m.get("meta") or {}).get("n_ctx_train"),
            )  # inputs unknown: the catalogue decides
            for m in body.get("data", [])
        ]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _raise_for_status(self, r: aiohttp.ClientResponse) -> None:
        if r.status < 400:
            return
        text = (await self._capped(r)).decode(errors="replace")  # any bytes, any size
        try:
            message = error_text(json.loads(text))
        except (json.JSONDecodeError, AttributeError):
            message = text[:500] or r.reason or "no message"
        raise backend_status_error(self.name, r.status, message)

    @contextmanager
    def _garbled_listing(self) -> Iterator[None]:
        """A listing in a shape not foreseen (not UTF-8, `data` no list, an entry without
        `id`) marks the backend unhealthy, saying why; it must not stop the inventory."""
        try:
            yield
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BackendError(
                f"backend {self.name!r} at {self.url} lists its models in a shape the gateway "
                f"does not understand ({type(e).__name__}: {str(e)[:200]})"
            ) from None

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


def lmstudio_v1_info(entry: dict[str, Any], backend: str) -> ModelInfo:
    """A `/api/v1/models` entry (`type` llm or embedding); of several loaded instances, the
    smallest context: a request for the model may land on any of them."""
    contexts = [
        i["config"]["context_length"]
        for i in entry.get("loaded_instances") or ()
        if isinstance((i.get("config") or {}).get("context_length"), int)
    ]
    return lmstudio_info(
        entry["key"],
        backend,
        vision=(entry.get("capabilities") or {}).get("vision") is True,
        max_context=entry.get("max_context_length"),
        loaded=bool(entry.get("loaded_instances")),
        loaded_context=min(contexts, default=None),
        embedding=entry.get("type") == "embedding",
    )


def lmstudio_info(
    model_id: str,
    backend: str,
    *,
    vision: bool,
    max_context: Any,
    loaded: bool,
    loaded_context: Any,
    embedding: bool = False,
) -> ModelInfo:
    """An LM Studio model. While loaded, its loaded context is a hard window: LM Studio cuts
    a longer prompt silently (its context overflow policy) and answers 200, so the window
    routing sees is that context, and a request over it goes to another model or gets a
    400. Unloaded, a load may pick any context up to `max_context_length`. Inputs are text,
    plus images if it sees: LM Studio documents no audio input.
    """
    held = loaded_context if loaded and isinstance(loaded_context, int) else None
    return ModelInfo(
        id=model_id,
        backend=backend,
        inputs=_VISION if vision else _TEXT,
        context=held or (max_context if isinstance(max_context, int) else None),
        loaded=loaded,
        loaded_context=held,
        embedding=embedding,
    )


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
    body = fastjson.dumps(request_body(req, stream, stand_ins))
    return io.BytesIO(await splice(body, stand_ins.media))


# Fields of Ollama's own API that the Ollama front carries for Ollama backends: an
# OpenAI-compatible server has no `think` nor runner `options`.
OLLAMA_ONLY = ("think", "options")


def request_body(req: BackendRequest, stream: bool, stand_ins: StandIns) -> dict[str, Any]:
    """The OpenAI request to forward: sampling fields as sent, media as data URLs whose
    base64 is a stand-in until spliced. A raw prompt goes to `/v1/completions` as `prompt`,
    which LM Studio (`lmstudio.ai/docs/api/openai-api`) and llama-server (`tools/server`
    README, "POST /v1/completions") serve: its `logprobs` is the legacy count."""
    body = {k: v for k, v in req.sampling.items() if k not in OLLAMA_ONLY}
    if req.prompt is not None:
        if body.pop("logprobs", None):
            body["logprobs"] = body.pop("top_logprobs", None) or 0
        body.update(model=req.model, prompt=req.prompt, stream=stream)
    else:
        messages = [openai_message(m, stand_ins) for m in req.messages]
        body.update(model=req.model, messages=messages, stream=stream)
    if stream and req.include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def _path(req: BackendRequest) -> str:
    return "/v1/chat/completions" if req.prompt is None else "/v1/completions"


def chat_shaped(completion: dict[str, Any], key: str) -> dict[str, Any]:
    """A `text_completion` (`key` "message") or its chunk (`key` "delta") in the neutral
    chat shape: each choice's `text` becomes the content; `logprobs` stay as sent.

    >>> chat_shaped({"object": "text_completion", "choices": [
    ...     {"index": 0, "text": "ab", "logprobs": None, "finish_reason": "stop"}]}, "delta")
    {'object': 'chat.completion.chunk', 'choices': [{'index': 0, 'logprobs': None, \
'finish_reason': 'stop', 'delta': {'content': 'ab'}}]}
    """
    kind = "chat.completion" if key == "message" else "chat.completion.chunk"
    choices = []
    for choice in completion.get("choices") or ():
        text = choice.get("text") or ""
        if key == "message":
            said: dict[str, Any] = {"role": "assistant", "content": text}
        else:
            said = {"content": text} if text else {}
        choices.append({**{k: v for k, v in choice.items() if k != "text"}, key: said})
    return {**completion, "object": kind, "choices": choices}


def openai_message(msg: ChatMessage[BackendPart], stand_ins: StandIns) -> dict[str, Any]:
    """A decoded message back in OpenAI form; plain text stays a plain string."""
    out = dict(msg.extra)
    out["role"] = msg.role
    if all(isinstance(p, Text) for p in msg.parts):
        out["content"] = msg.text if msg.parts or msg.role != "assistant" else None
        return out
    out["content"] = [_openai_part(p, stand_ins) for p in msg.parts]
    return out


def _openai_part(part: BackendPart, stand_ins: StandIns) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    b64 = stand_ins.text(part.data)
    if isinstance(part, Image):
        return {"type": "image_url", "image_url": {"url": f"data:{part.mime};base64,{b64}"}}
    return {"type": "input_audio", "input_audio": {"data": b64, "format": part.format}}


def _listed(value: Any) -> list[Any]:
    """`value` if it is a list; else a list with one non-object, which fails the checks."""
    return value if isinstance(value, list) else [None]


MAX_EVENT_BYTES = 16 * 2**20  # one streamed chunk; a token or a few, or logprobs
MAX_ANSWER_BYTES = 64 * 2**20  # one whole chat completion


class SSEDecoder:
    """Incremental `text/event-stream` parser yielding each event's data.

    Buffers across network reads, so events of any split work; an event over
    `MAX_EVENT_BYTES`, or one that is not UTF-8, raises ValueError.

    >>> d = SSEDecoder()
    >>> list(d.feed(b'data: {"a"')) + list(d.feed(b': 1}\\n\\ndata: [DONE]\\n\\n'))
    ['{"a": 1}', '[DONE]']
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._size = 0  # bytes in _data

    def feed(self, data: bytes) -> Iterator[str]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode()
            if not line:
                if self._data:
                    yield "\n".join(self._data)
                    self._data, self._size = [], 0
            elif line.startswith("data:"):
                self._data.append(line[5:].removeprefix(" "))
                self._size += len(raw)
        if self._size + len(self._buffer) > MAX_EVENT_BYTES:
            raise ValueError(f"an event of over {MAX_EVENT_BYTES} bytes")
