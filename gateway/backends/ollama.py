"""Ollama through the official `ollama.AsyncClient`, on the native API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import ollama
import pydantic

from gateway.backends.aiohttp_transport import AiohttpTransport
from gateway.backends.base import BackendBase, checked_vectors, pool_size
from gateway.backends.media_body import StandIns, sending
from gateway.backends.ollama_format import (
    ChunkTranslator,
    chat_response,
    completion_from_ollama,
    to_ollama_kwargs,
    to_ollama_messages,
)
from gateway.config import BackendConfig
from gateway.core.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InvalidRequest,
    backend_status_error,
)
from gateway.core.messages import BackendRequest, ChunkStream, Completion, Embeddings, EmbedRequest
from gateway.core.model import Modality, ModelInfo
from gateway.edge import field_path

# `/api/show` capability -> the input it means (types/model/capability.go). `image` is not
# here: it means image *generation* (errCapabilityImage = "image generation").
_CAPABILITY_INPUTS = {
    "completion": Modality.TEXT,
    "embedding": Modality.TEXT,  # an embedding model (`pooling_type` in its GGUF) reads text
    "vision": Modality.IMAGE,
    "audio": Modality.AUDIO,
}
# Where Ollama keeps `audio` off although the GGUF has an audio encoder
# (server/images.go suppressAudioCapability; projector gemma3nv is Gemma 3n's).
_AUDIO_SUPPRESSED = frozenset({"nemotron_h_omni", "gemma3n"})
ChunkParts = AsyncGenerator[ollama.ChatResponse, None]


def _hears(show: ollama.ShowResponse) -> bool:
    """Whether the model takes audio as Ollama itself decides it: its `audio` capability, or,
    from builds that list no such capability yet (v0.20's TV-S1 example), an
    `<arch>.audio.block_count` key in a GGUF model whose family Ollama does not suppress."""
    if "audio" in (show.capabilities or ()):
        return True
    info = show.modelinfo or {}
    details = show.details
    arch = str(info.get("general.architecture", ""))
    return (
        any(k.endswith(".audio.block_count") for k in info)
        and (details is None or details.format in (None, "", "gguf"))
        and arch not in _AUDIO_SUPPRESSED
        and not (details and set(details.families or ()) & _AUDIO_SUPPRESSED)
    )


def _auth_headers(cfg: BackendConfig) -> dict[str, str] | None:
    """The api_key as a bearer token, else the URL's user:password as Basic auth: the ollama
    client keeps only scheme, host, port and path of its host (`_parse_host`)."""
    if cfg.api_key:
        return {"Authorization": f"Bearer {cfg.api_key}"}
    url = urlsplit(cfg.url)
    if url.username is None:
        return None
    user, password = unquote(url.username), unquote(url.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class OllamaBackend(BackendBase):
    """An Ollama server; `/api/show` answers are cached per digest (they never change)."""

    kind = "ollama"
    sizes_context = True

    def __init__(self, cfg: BackendConfig) -> None:
        super().__init__(cfg)
        headers = _auth_headers(cfg)
        timeout = httpx.Timeout(
            connect=cfg.connect_timeout_s,
            read=max(cfg.first_byte_timeout_s, cfg.read_timeout_s),
            write=cfg.read_timeout_s,
            pool=cfg.connect_timeout_s,
        )
        # With a transport of its own, httpx takes no proxy from the environment: the same
        # as on the OpenAI-compatible path.
        transport = AiohttpTransport(pool_size(cfg))
        self.client = ollama.AsyncClient(
            host=cfg.url, headers=headers, timeout=timeout, transport=transport
        )
        self._shown: dict[str, ollama.ShowResponse] = {}

    async def chat(self, req: BackendRequest) -> Completion:
        stand_ins = StandIns()  # the transport splices the media in, off the loop
        kwargs, forced = to_ollama_kwargs(req)
        with self._errors(), sending(stand_ins), self._reading():
            async with asyncio.timeout(self.cfg.first_byte_timeout_s):
                part = await self._ask(req, stand_ins, kwargs, stream=False)
        if not part.done:
            raise self._unfinished()
        return completion_from_ollama(part, req.model, forced)

    async def _stream(self, req: BackendRequest) -> ChunkStream:
        stand_ins = StandIns()
        kwargs, forced = to_ollama_kwargs(req)
        translator = ChunkTranslator(req.model, req.include_usage, forced)
        done = False
        with self._errors():
            with sending(stand_ins), self._reading():  # the request goes out with the first part
                parts = await self._ask(req, stand_ins, kwargs, stream=True)
                part = await anext(parts, None)
            while part is not None:
                done = done or bool(part.done)
                for chunk in translator.translate(part):
                    yield chunk
                with self._reading():
                    part = await anext(parts, None)
        if not done:
            raise self._unfinished()

    async def _ask(
        self, req: BackendRequest, stand_ins: StandIns, kwargs: dict[str, Any], stream: bool
    ) -> Any:
        """`/api/chat` with the messages; or, for a raw prompt (`req.prompt`), `/api/generate`
        with `raw` (server/routes.go GenerateHandler: no template, no system, no parser),
        its replies made chat replies. `think` stays false: left out, Ollama turns thinking
        on for a thinking model. Returns a ChatResponse, or their stream."""
        call: Any = self.client.chat  # both are typed by `stream` literals only
        if req.prompt is None:
            args = {"messages": to_ollama_messages(req.messages, stand_ins.raw), **kwargs}
            return await call(model=req.model, stream=stream, **args)
        call = self.client.generate
        args = {k: v for k, v in kwargs.items() if k != "tools"}  # generate takes no tools
        reply = await call(model=req.model, prompt=req.prompt, raw=True, stream=stream, **args)
        return _chat_parts(reply) if stream else chat_response(reply)

    async def embed(self, req: EmbedRequest) -> Embeddings:
        """POST /api/embed (server/routes.go EmbedHandler): Ollama normalises each vector,
        and with `dimensions` cuts and normalises again; `truncate` false makes an input
        over the window a 400 instead of cut."""
        with self._errors(), self._reading():
            async with asyncio.timeout(self.cfg.first_byte_timeout_s):
                reply = await self.client.embed(
                    model=req.model,
                    input=req.inputs,
                    truncate=req.truncate,
                    keep_alive=req.keep_alive,
                    dimensions=req.dimensions,
                )
            vectors = [list(v) for v in reply.embeddings]
        return Embeddings(
            checked_vectors(self.name, vectors, len(req.inputs)), reply.prompt_eval_count
        )

    async def load(self, model: str, keep_alive: float | str | None) -> None:
        """Ollama's own load (or, with a zero `keep_alive`, unload) request: a chat with no
        messages (server/routes.go ChatHandler answers it `load`/`unload`)."""
        with self._errors(), self._reading():
            async with asyncio.timeout(self.cfg.first_byte_timeout_s):
                await self.client.chat(model=model, messages=[], keep_alive=keep_alive)

    async def list_models(self) -> list[ModelInfo]:
        with self._errors(), self._reading():
            tags, ps = await asyncio.gather(self.client.list(), self.client.ps())
            loaded = {m.model: m for m in ps.models}
            shows = await asyncio.gather(*(self._show(m) for m in tags.models))
        return [
            self._model_info(m.model or "", show, loaded)
            for m, show in zip(tags.models, shows, strict=True)
        ]

    async def _show(self, model: Any) -> ollama.ShowResponse:
        key = model.digest or model.model
        if key not in self._shown:
            self._shown[key] = await self.client.show(model.model)
        return self._shown[key]

    def _model_info(
        self, model_id: str, show: ollama.ShowResponse, loaded: dict[str | None, Any]
    ) -> ModelInfo:
        caps = set(show.capabilities or ["completion"])
        if _hears(show):
            caps.add("audio")
        info = show.modelinfo or {}
        context = next((v for k, v in info.items() if k.endswith(".context_length")), None)
        return ModelInfo(
            id=model_id,
            backend=self.name,
            inputs=frozenset(_CAPABILITY_INPUTS[c] for c in caps if c in _CAPABILITY_INPUTS),
            context=context if isinstance(context, int) and context > 0 else None,
            loaded=(running := loaded.get(model_id)) is not None,
            loaded_context=running.context_length if running else None,
            loaded_until=running.expires_at.isoformat() if running and running.expires_at else None,
            embedding="embedding" in caps,  # server/images.go: a GGUF with `pooling_type`
        )

    async def close(self) -> None:
        # ollama 0.6 leaves AsyncClient.close unannotated (it awaits its httpx client's aclose)
        await self.client.close()  # type: ignore[no-untyped-call]

    def _unfinished(self) -> BackendError:
        return BackendError(
            f"backend {self.name!r} ended its answer without finishing it (no `done: true`); "
            "the connection was cut or a proxy in between ended it"
        )

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Failures of the client's own parsing. Of the request it builds (a field Ollama
        cannot take; the edge types them, so this is a safety net): 400 naming the field. Of
        Ollama's answer (not UTF-8, not JSON, not an object, not Ollama's shape: a proxy's
        error page, a cut line): 502, so that another backend is tried."""
        try:
            yield
        except pydantic.ValidationError as e:
            if not e.title.endswith("Response"):  # ChatRequest, Message, Tool, Options
                raise _refused(e) from None
            raise self._malformed(e) from None
        except (ValueError, TypeError, AttributeError) as e:  # json, UTF-8, `**list`, `[].get`
            raise self._malformed(e) from None

    def _malformed(self, e: Exception) -> BackendError:
        return BackendError(
            f"backend {self.name!r} at {self.url} sent something that is not Ollama's JSON "
            f"({type(e).__name__}: {str(e)[:200]}); is it an Ollama server?"
        )

    @contextmanager
    def _errors(self) -> Any:
        """Translate the client's exceptions into gateway errors that say what to check."""
        try:
            yield
        except ollama.ResponseError as e:
            if e.status_code == -1:  # an {"error": ...} line in the middle of a stream
                raise BackendError(f"backend {self.name!r} failed mid-answer: {e.error}") from None
            raise backend_status_error(self.name, e.status_code, e.error) from None
        except (TimeoutError, httpx.TimeoutException):
            raise BackendTimeout(
                f"backend {self.name!r} at {self.url} did not answer in time"
            ) from None
        except (ConnectionError, httpx.TransportError) as e:
            raise BackendUnavailable(
                f"cannot reach Ollama backend {self.name!r} at {self.url} ({type(e).__name__}); "
                "is `ollama serve` running there?"
            ) from None


async def _chat_parts(parts: AsyncIterator[ollama.GenerateResponse]) -> ChunkParts:
    async for part in parts:
        yield chat_response(part)


def _refused(e: pydantic.ValidationError) -> InvalidRequest:
    """The ollama client's own refusal of a request field, naming it."""
    error = e.errors(include_url=False)[0]
    field = field_path(error["loc"]) or e.title
    return InvalidRequest(f"Ollama cannot take {field}: {error['msg']}", param=field)
