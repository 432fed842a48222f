"""An emulator of Ollama's native API (default port 11434), faithful to protocols.md §1 and
to today's server (§0b; ollama/ollama at fb30760).

Replies have the exact shapes of the recorded payloads in `vectors` (TV-O*, TV-T*, TV-S1,
TV-P1) so the gateway's parsing is exercised against what Ollama really sends, and every
request is recorded so tests can assert what the gateway sent. Like today's Ollama it:
- thinks when a model has the `thinking` capability and the request sends no `think`
  (`server/routes.go` ChatHandler), and then answers audio with an empty `content` and an
  invented `thinking` (ollama#16584); refuses `think` values other than true, false, "low",
  "medium", "high", "max" (`api/types.go` ThinkValue) with Go's binding error;
- renders the prompt as its Gemma 4 renderer does and records it (`prompts`), and silently
  drops old messages that do not fit `num_ctx` counting 768 per image (`ollama_render`,
  `truncated`);
- answers a `format` schema with JSON that fits it, and `logprobs` with per-token logprobs;
- embeds on `/api/embed` and the legacy `/api/embeddings` as `server/routes.go` EmbedHandler
  and EmbeddingsHandler do (api/types.go EmbedRequest/EmbedResponse, EmbeddingRequest/
  EmbeddingResponse): vectors are deterministic (a hash of the text), normalised, cut to
  `dimensions` and normalised again; see `_embed`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.base import Emulator, dumps, normalized, text_vector
from tests.fakes.ollama_render import count, is_large, render, truncate

__all__ = ["OllamaEmulator", "OllamaModel", "embeddinggemma"]

# --- Ollama ----------------------------------------------------------------------------

VERSION = "0.20.0"  # the first tag with Gemma 4 (O-g4)
MODIFIED_AT = "2025-10-03T23:34:03.409490317-07:00"  # Ollama's nanosecond timestamps (TV-T2)
TOOL_CALL_TOKENS = 15  # eval_count of the recorded tool-call answer (TV-O3)
NS_PER_PROMPT_TOKEN = 1_000_000
NS_PER_EVAL_TOKEN = 25_000_000
LOAD_NS, WARM_LOAD_NS = 101_397_084, 1_334_875  # TV-O4 (cold) and TV-O1 (warm) load times
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")
THOUGHT = ["The user", " greets me;", " I should answer."]  # streamed as message.thinking
# What Gemma 4 on Ollama thinks about audio with thinking on, instead of transcribing it:
# the answer's content stays empty (ollama#16584).
INVENTED_THOUGHT = "The user wants a transcription. The audio probably says: thank you."
THINK_VALUES = ("high", "medium", "low", "max")  # api/types.go ThinkValue.UnmarshalJSON
_ZERO_DURATION = re.compile(r"0+(\.0*)?(ns|us|µs|ms|s|m|h)?")
# What a chat model's runner says when asked to embed: since Ollama runs llama-server for GGUF
# models (v0.30.0), a runner started without `--embedding` (llm/llama_server.go
# appendBatchArgs: only models with `<arch>.pooling_type`) answers /v1/embeddings with
# llama.cpp's 501, which EmbedHandler passes on with its status (llm/llama_server.go
# normalizeEmbeddingError keeps it). The wording is llama.cpp's tools/server (not mirrored
# here: quoted from its handle_embeddings_impl).
NO_EMBEDDINGS = "This server does not support embeddings. Start it with `--embeddings`"
TOO_LONG = "the input length exceeds the context length"  # EmbedHandler, truncate false


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class OllamaModel:
    """One pulled model; `loaded` / `loaded_context` change as chats load it, as in Ollama."""

    name: str
    family: str = "gemma4"
    parameter_size: str = "8.0B"
    quantization_level: str = "Q4_K_M"
    # `ollama show gemma4:e4b` (ollama#15299)
    capabilities: tuple[str, ...] = ("completion", "vision", "audio", "tools", "thinking")
    context_length: int = 131072
    loaded: bool = False
    loaded_context: int = 4096
    digest: str = field(default="")  # empty -> a sha256 of the name (stable across runs)
    size: int = 9608350245
    embedding_length: int = 2560  # TV-S1's gemma4; an embedding model's vector length

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = _sha256(self.name)

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def model_info(self) -> dict[str, Any]:
        """The GGUF keys of TV-S1, prefixed by the architecture; the encoder keys exist only
        when the model has that encoder (Ollama derives the capabilities from them)."""
        arch = self.family
        info: dict[str, Any] = {
            f"{arch}.attention.head_count": 8,
            f"{arch}.attention.head_count_kv": 2,
            f"{arch}.attention.sliding_window": 512,
        }
        if "audio" in self.capabilities:
            info[f"{arch}.audio.block_count"] = 12
            info[f"{arch}.audio.embedding_length"] = 1024
        info[f"{arch}.block_count"] = 42
        info[f"{arch}.context_length"] = self.context_length
        info[f"{arch}.embedding_length"] = self.embedding_length
        if "embedding" in self.capabilities:  # server/images.go: `pooling_type` -> embedding
            info[f"{arch}.pooling_type"] = 1
        if "vision" in self.capabilities:
            info[f"{arch}.vision.block_count"] = 16
            info[f"{arch}.vision.patch_size"] = 16
            info[f"{arch}.vision.projector.scale_factor"] = 3
        info["general.architecture"] = arch
        info["general.file_type"] = 15
        info["tokenizer.ggml.eos_token_ids"] = [1, 106, 50]
        info["tokenizer.ggml.pre"] = arch
        return info


def embeddinggemma(name: str = "embeddinggemma", **kw: Any) -> OllamaModel:
    """EmbeddingGemma as `ollama pull embeddinggemma` gives it: 300M, 768-long vectors, a
    2048-token window, `embedding` its only capability (ollama.com/library/embeddinggemma;
    the family name is an assumption: the GGUF architecture is `gemma-embedding`)."""
    fields: dict[str, Any] = {
        "family": "gemma3",
        "parameter_size": "307.58M",
        "quantization_level": "BF16",
        "capabilities": ("embedding",),
        "context_length": 2048,
        "size": 621875688,
        "embedding_length": 768,
    }
    return OllamaModel(name, **{**fields, **kw})


def _full_name(name: str) -> str:
    """Ollama's name normalisation: a missing tag means `:latest`."""
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=dumps)


def _loaded(name: str, reason: str) -> web.Response:
    """GenerateHandler's answer to an empty prompt: `load`, or `unload` (zero keep_alive)."""
    reply = {"model": name, "created_at": _now(), "response": "", "done": True,
             "done_reason": reason}  # fmt: skip
    return web.json_response(reply, dumps=dumps)


def _bad_base64_offset(data: str) -> int:
    """Where Go's decoder would complain: the first byte outside the alphabet, else the end."""
    return next((i for i, ch in enumerate(data) if ch not in _BASE64), len(data))


def _is_zero_keep_alive(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and _ZERO_DURATION.fullmatch(value) is not None


class OllamaEmulator(Emulator):
    """Ollama's `/`, `/api/version`, `/api/tags`, `/api/show`, `/api/ps` and `/api/chat`.

    Knobs (plain attributes): `reply_tokens` (or `reply_for`), `fail_mid_stream`,
    `status_override`, `delay_first_byte`, `token_delay`, `truncate_stream` / `garbage` /
    `fault_after` (see `Emulator`); `chat_cancelled` / `cancellations` report clients
    that hung up, `reloads` counts model (re)loads caused by chats, `prompts` and
    `truncated` record each chat's rendered prompt and the messages Ollama dropped.
    `/api/generate` answers as GenerateHandler does (raw or templated, load and unload with
    an empty prompt), takes the chat knobs, adds its prompt to `prompts` (its `truncated`
    is not kept) and its body to `generates()`.
    `/api/embed` and `/api/embeddings` honour `status_override`, `delay_first_byte` and
    `garbage`; `embeds()` returns the bodies `/api/embed` received.
    """

    chat_path = "/api/chat"

    def __init__(self, models: list[OllamaModel] | None = None) -> None:
        super().__init__()
        self.models: list[OllamaModel] = (
            list(models) if models is not None else [OllamaModel("gemma4")]
        )
        self.version = VERSION
        self.reloads = 0
        self.prompts: list[str] = []  # each chat's prompt, as Ollama's renderer built it
        self.truncated: list[int] = []  # each chat's messages dropped to fit num_ctx
        # A reply that depends on the request (its JSON body -> the answer's pieces), e.g. to
        # tell which audio clip a chat carried; None: `reply_tokens`, as always.
        self.reply_for: Callable[[dict[str, Any]], list[str]] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self._root),
            web.get("/api/version", self._version),
            web.get("/api/tags", self._tags),
            web.post("/api/show", self._show),
            web.get("/api/ps", self._ps),
            web.post("/api/chat", self._chat),
            web.post("/api/generate", self._generate),
            web.post("/api/embed", self._embed),
            web.post("/api/embeddings", self._embeddings),
        ]

    def generates(self) -> list[dict[str, Any]]:
        """The JSON bodies of every `/api/generate` request, oldest first."""
        return [r.body for r in self.received if r.path == "/api/generate" and r.body]

    def embeds(self) -> list[Any]:
        """The JSON bodies of every `/api/embed` request, oldest first."""
        return [r.body for r in self.received if r.path == "/api/embed"]

    def find(self, name: str) -> OllamaModel | None:
        """The pulled model `name` refers to (`gemma4` and `gemma4:latest` are one)."""
        wanted = _full_name(name)
        return next((m for m in self.models if _full_name(m.name) == wanted), None)

    # --- model endpoints -------------------------------------------------------------

    async def _root(self, _: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, _: web.Request) -> web.Response:
        return web.json_response({"version": self.version}, dumps=dumps)

    async def _tags(self, _: web.Request) -> web.Response:
        models = [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": MODIFIED_AT,
                "size": m.size,
                "digest": m.digest,
                # Today's /api/tags adds the window and capabilities (api/types.go)
                "details": {**m.details(), "context_length": m.context_length},
                "capabilities": list(m.capabilities),
            }
            for m in self.models
        ]
        return web.json_response({"models": models}, dumps=dumps)

    async def _show(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        name = (body or {}).get("model") or (body or {}).get("name")
        if not name:
            return _error(400, "model is required")
        model = self.find(str(name))
        if model is None:
            return _error(404, f"model '{name}' not found")
        show = {
            "license": "Gemma Terms of Use \n\nLast modified: February 21, 2024...",
            "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.name}\n',
            "parameters": "temperature 1\ntop_k 64\ntop_p 0.95",
            "template": "{{ .Prompt }}",
            "details": model.details(),
            "model_info": model.model_info(),
            "capabilities": list(model.capabilities),
            "modified_at": MODIFIED_AT,
        }
        return web.json_response(show, dumps=dumps)

    async def _ps(self, _: web.Request) -> web.Response:
        expires = (datetime.now().astimezone() + timedelta(minutes=5)).isoformat()
        models = [
            {
                "name": m.name,
                "model": m.name,
                "size": m.size,
                "digest": m.digest,
                "details": m.details(),
                "expires_at": expires,
                "size_vram": m.size,
                "context_length": m.loaded_context,
            }
            for m in self.models
            if m.loaded
        ]
        return web.json_response({"models": models}, dumps=dumps)

    # --- embeddings ------------------------------------------------------------------

    async def _faults(self) -> web.Response | None:
        """The fault knobs as the embeddings routes take them (before any parsing)."""
        if self.delay_first_byte:
            await asyncio.sleep(self.delay_first_byte)
        if self.status_override is not None:
            status, payload = self.status_override
            return web.json_response(payload, status=status, dumps=dumps)
        return self.garbage_response()

    async def _embed(self, request: web.Request) -> web.Response:
        """POST /api/embed, as server/routes.go EmbedHandler answers it."""
        if fault := await self._faults():
            return fault
        started = datetime.now()
        body, problem = await _parse_embed(request)
        if problem is not None:
            return _error(400, problem)
        assert body is not None
        name = str(body.get("model") or "")
        model = self.find(name) if name else None
        if model is None:  # getExistingName (and an empty name) fail alike
            return _error(404, f"model '{name}' not found")
        cold = self._load(model, (body.get("options") or {}).get("num_ctx"))
        inputs: list[str] = body["input"]
        if not inputs:  # a load request: no durations, no counts (omitempty)
            return web.json_response({"model": name, "embeddings": []}, dumps=dumps)
        if "embedding" not in model.capabilities:
            return _error(501, NO_EMBEDDINGS)
        window = _embed_window(model, body.get("options") or {})
        vectors, tokens = [], 0
        for text in inputs:
            words = text.split()
            if len(words) > window and body.get("truncate") is False:
                return _error(400, TOO_LONG)
            kept = " ".join(words[:window])  # truncation by tokens (a word each here)
            vectors.append(_dimensioned(text_vector(model.name, kept, model.embedding_length),
                                        body.get("dimensions")))  # fmt: skip
            tokens += min(len(words), window) + 2  # with BOS and EOS, as the runner counts
        load = LOAD_NS if cold else WARM_LOAD_NS
        took = int((datetime.now() - started).total_seconds() * 1e9)
        reply = {
            "model": name,
            "embeddings": vectors,
            "total_duration": load + took,
            "load_duration": load,
            "prompt_eval_count": tokens,
        }
        return web.json_response(reply, dumps=dumps)

    async def _embeddings(self, request: web.Request) -> web.Response:
        """POST /api/embeddings (legacy), as EmbeddingsHandler answers it: `prompt` in,
        `embedding` out, the runner's vector as it is (not normalised by the handler)."""
        if fault := await self._faults():
            return fault
        body = await _json_object(request)
        if body is None:
            return _error(400, "missing request body")
        name = str(body.get("model") or "")
        if not name:
            return _error(400, "model is required")
        model = self.find(name)
        if model is None:
            return _error(404, f'model "{name}" not found, try pulling it first')
        self._load(model, (body.get("options") or {}).get("num_ctx"))
        prompt = body.get("prompt")
        if not prompt:  # an empty request loads the model
            return web.json_response({"embedding": []}, dumps=dumps)
        if "embedding" not in model.capabilities:
            return _error(500, NO_EMBEDDINGS)  # any runner error is a 500 here
        raw = [3 * x for x in text_vector(model.name, str(prompt), model.embedding_length)]
        return web.json_response({"embedding": raw}, dumps=dumps)

    # --- generate ----------------------------------------------------------------------

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        return await self.guarded(request, self._generate_answer)

    async def _generate_answer(self, request: web.Request) -> web.StreamResponse:
        """POST /api/generate as server/routes.go GenerateHandler answers it: an empty
        prompt with a zero keep_alive unloads (before any check), else an empty prompt loads;
        `raw` sends the prompt as it is (with template, system or context: 400), otherwise it
        is templated as a one-message chat (system first when given) and the done line
        carries `context`."""
        body, problem = await _parse_generate(request)
        if problem is not None:
            return _error(400, problem)
        assert body is not None
        name = str(body.get("model") or "")
        model = self.find(name) if name else None
        if model is None:
            return _error(404, f"model '{name}' not found")
        if not body.get("prompt") and _is_zero_keep_alive(body.get("keep_alive")):
            model.loaded = False
            return _loaded(name, "unload")
        refusal, thinking = _generate_refusal(model, body)
        if refusal is not None:
            return _error(400, refusal)
        options: dict[str, Any] = body.get("options") or {}
        cold = self._load(model, options.get("num_ctx"))
        if not body.get("prompt"):
            return _loaded(name, "load")
        return await self._generated(request, model, body, thinking, cold)

    async def _generated(
        self, request: web.Request, model: OllamaModel, body: dict[str, Any], thinking: bool,
        cold: bool,
    ) -> web.StreamResponse:  # fmt: skip
        raw = body.get("raw") is True
        user = {"role": "user", "content": body["prompt"], "images": body.get("images") or []}
        system = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        prompt = body["prompt"] if raw else render([*system, user], [], thinking,
                                                   is_large(model.name))  # fmt: skip
        self.prompts.append(prompt)
        parts, reason = self._plan(body, [user], body.get("options") or {}, thinking)
        tokens = count(prompt, [user], "vision" in model.capabilities)
        metrics = _metrics(tokens, _eval_tokens(parts), cold)
        last = {} if raw else {"context": list(range(tokens + len(parts)))}
        shape = _Shape(str(body["model"]), generate=True, last=last)
        top = body.get("top_logprobs", 0) if body.get("logprobs") else None
        if body.get("stream") is False:
            return self._single(shape, parts, reason, metrics, top)
        return await self._stream(request, shape, parts, reason, metrics, top)

    # --- chat ------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body, problem = await _parse_chat(request)
        if problem is not None:
            return _error(400, problem)
        assert body is not None
        name = body.get("model")
        if not name:
            return _error(400, "model is required")
        model = self.find(str(name))
        if model is None:
            return _error(404, f'model "{name}" not found, try pulling it first')
        think = body.get("think")
        if "thinking" in model.capabilities:
            think = True if think is None else think  # ChatHandler's default
        elif think not in (None, False):
            return _error(400, f'"{name}" does not support thinking')
        messages: list[dict[str, Any]] = body.get("messages") or []
        if missing := _missing_capability(model, messages):
            return _error(400, f'"{name}" does not support {missing}')
        options: dict[str, Any] = body.get("options") or {}
        cold = self._load(model, options.get("num_ctx"))
        unload = _is_zero_keep_alive(body.get("keep_alive"))
        try:
            if not messages:  # a bare load (or unload) request, answered as plain JSON
                reason = "unload" if unload else "load"
                return web.json_response(
                    {
                        "model": name,
                        "created_at": _now(),
                        "message": {"role": "assistant", "content": ""},
                        "done_reason": reason,
                        "done": True,
                    },
                    dumps=dumps,
                )
            thinking, tools = think not in (None, False), body.get("tools") or []
            vision = "vision" in model.capabilities
            large = is_large(model.name)
            kept, dropped = truncate(messages, tools, thinking, model.loaded_context, vision, large)
            prompt = render(kept, tools, thinking, large)
            self.prompts.append(prompt)
            self.truncated.append(dropped)
            parts, reason = self._plan(body, kept, options, thinking)
            metrics = _metrics(count(prompt, kept, vision), _eval_tokens(parts), cold)
            top = body.get("top_logprobs", 0) if body.get("logprobs") else None
            if body.get("stream") is False:
                return self._single(_Shape(str(name)), parts, reason, metrics, top)
            return await self._stream(request, _Shape(str(name)), parts, reason, metrics, top)
        finally:
            if unload:
                model.loaded = False

    def _load(self, model: OllamaModel, num_ctx: Any) -> bool:
        """Load the model (again) when it is cold or asked for another context, as Ollama's
        scheduler does for a different num_ctx; True when this request paid for a load."""
        wanted = int(num_ctx) if isinstance(num_ctx, int | float) and num_ctx > 0 else None
        if model.loaded and (wanted is None or wanted == model.loaded_context):
            return False
        model.loaded = True
        if wanted is not None:
            model.loaded_context = wanted
        self.reloads += 1
        return True

    def _plan(
        self,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        options: dict[str, Any],
        thinking: bool,
    ) -> tuple[list[dict[str, Any]], str]:
        """The assistant message parts to send, one per streamed chunk, and done_reason."""
        tools = body.get("tools") or []
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        if tools and re.search(r"\bweather\b", str(last_user.get("content", "")), re.I):
            function = {"name": tools[0]["function"]["name"], "arguments": {"city": "Tokyo"}}
            call = {"function": function}
            return [{"role": "assistant", "content": "", "tool_calls": [call]}], "stop"
        if thinking and any(_is_wav(i) for m in messages for i in m.get("images") or ()):
            return [{"role": "assistant", "content": "", "thinking": INVENTED_THOUGHT}], "stop"
        fmt = body.get("format")
        if fmt:
            tokens = _json_tokens(fmt)
        else:
            tokens = self.reply_for(body) if self.reply_for else list(self.reply_tokens)
        reason, limit = "stop", options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):  # negative means no limit
            tokens, reason = tokens[:limit], "length"
        thoughts = [{"role": "assistant", "content": "", "thinking": t} for t in THOUGHT]
        answer = [{"role": "assistant", "content": t} for t in tokens]
        return (thoughts if thinking else []) + answer, reason

    def _single(
        self,
        shape: _Shape,
        parts: list[dict[str, Any]],
        reason: str,
        metrics: dict[str, int],
        top: int | None,
    ) -> web.Response:
        if self.fail_mid_stream is not None:  # without a stream the error gets a status
            return _error(500, self.fail_mid_stream)
        if garbage := self.garbage_response():
            return garbage
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(p["content"] for p in parts),
        }
        if thinking := "".join(p.get("thinking", "") for p in parts):
            message["thinking"] = thinking
        calls = [c for p in parts for c in p.get("tool_calls", [])]
        if calls:
            message["tool_calls"] = calls
        reply = {
            "model": shape.name,
            "created_at": _now(),
            **shape.fields(message),
            "done_reason": reason,
            "done": True,
            **metrics,
            **shape.last,
        }
        if top is not None:
            reply["logprobs"] = [lp for p in parts for lp in _logprobs(p, top)]
        return web.json_response(reply, dumps=dumps)

    async def _stream(
        self,
        request: web.Request,
        shape: _Shape,
        parts: list[dict[str, Any]],
        reason: str,
        metrics: dict[str, int],
        top: int | None,
    ) -> web.StreamResponse:
        """NDJSON: one chunk per part, then the done chunk (or an error line, status 200)."""
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        final = {
            "model": shape.name,
            "created_at": "",
            **shape.fields({"role": "assistant", "content": ""}),
            "done_reason": reason,
            "done": True,
            **metrics,
            **shape.last,
        }
        lines: list[dict[str, Any]] = [
            {"model": shape.name, "created_at": "", **shape.fields(part), "done": False}
            | ({"logprobs": _logprobs(part, top)} if top is not None and part["content"] else {})
            for part in parts
        ]
        if self.fail_mid_stream is not None:
            lines = [*lines[:1], {"error": self.fail_mid_stream}]
        else:
            lines.append(final)
        for i, line in enumerate(self.faulted(lines)):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            if isinstance(line, bytes):  # garbage, as it is
                data = line
            else:
                if "created_at" in line:
                    line["created_at"] = _now()
                data = (dumps(line) + "\n").encode()
            if not await self.write_frame(response, data):
                return response
        await response.write_eof()
        return response


@dataclass
class _Shape:
    """How an answer's lines carry it: `/api/chat`'s `message`, or `/api/generate`'s
    `response` and `thinking` (api/types.go GenerateResponse), its done line with `last`
    (the templated prompt's `context` tokens; none for a raw one)."""

    name: str
    generate: bool = False
    last: dict[str, Any] = field(default_factory=dict)

    def fields(self, part: dict[str, Any]) -> dict[str, Any]:
        if not self.generate:
            return {"message": part}
        thinking = {"thinking": part["thinking"]} if part.get("thinking") else {}
        return {"response": part.get("content") or "", **thinking}


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def _parse_object(
    request: web.Request, go_type: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object, or the 400 message gin's binding gives for it."""
    raw = await request.read()
    if not raw.strip():
        return None, "missing request body"
    try:
        body = json.loads(raw)
    except ValueError as e:
        return None, f"invalid character in request body: {e.msg}"
    if not isinstance(body, dict):
        return None, f"json: cannot unmarshal into Go value of type {go_type}"
    return body, None


def _bad_generation(body: dict[str, Any]) -> str | None:
    """The 400 for a `think` or `top_logprobs` chat and generate both refuse (else None)."""
    think = body.get("think")
    if think is not None and not isinstance(think, bool) and think not in THINK_VALUES:
        return (
            f"invalid think value: {json.dumps(think)} "
            '(must be "high", "medium", "low", "max", true, or false)'
        )
    top = body.get("top_logprobs", 0)
    if not isinstance(top, int) or not 0 <= top <= 20:
        return "top_logprobs must be between 0 and 20"
    return None


async def _parse_chat(request: web.Request) -> tuple[dict[str, Any] | None, str | None]:
    """The body, or the 400 message Ollama's JSON binding gives (images are []byte in Go, so
    anything but standard base64 fails here, before the model is even looked up)."""
    body, problem = await _parse_object(request, "api.ChatRequest")
    if body is None or (problem := _bad_generation(body)):
        return None, problem
    messages = body.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None, "json: cannot unmarshal messages into Go struct field of type []api.Message"
    error = _bad_image(messages)
    return (None, error) if error else (body, None)


async def _parse_embed(request: web.Request) -> tuple[dict[str, Any] | None, str | None]:
    """The body with `input` made a list (a string: one input, empty: none), or the 400
    message EmbedHandler gives."""
    body, problem = await _parse_object(request, "api.EmbedRequest")
    if body is None:
        return None, problem
    given = body.get("input")
    if isinstance(given, str):
        inputs = [given] if given else []
    elif isinstance(given, list) and all(isinstance(i, str) for i in given):
        inputs = list(given)
    elif given is None:
        inputs = []
    else:
        return None, "invalid input type"
    for key, kind, go in (("truncate", bool, "bool"), ("dimensions", int, "int")):
        value = body.get(key)
        if value is not None and (type(value) is not kind):
            return None, (
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                f"EmbedRequest.{key} of type {go}"
            )
    return {**body, "input": inputs}, None


async def _parse_generate(request: web.Request) -> tuple[dict[str, Any] | None, str | None]:
    """The body, or the 400 GenerateHandler's binding and first checks give (`images` are
    []byte: standard base64 only; `prompt` a string)."""
    body, problem = await _parse_object(request, "api.GenerateRequest")
    if body is None or (problem := _bad_generation(body)):
        return None, problem
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        return None, (f"json: cannot unmarshal {_json_kind(prompt)} into Go struct field "
                      "GenerateRequest.prompt of type string")  # fmt: skip
    error = _bad_image([{"images": body.get("images") or []}])
    return (None, error) if error else (body, None)


def _generate_refusal(model: OllamaModel, body: dict[str, Any]) -> tuple[str | None, bool]:
    """GenerateHandler's refusals after the model is found (else None), in its order, and
    whether the answer thinks: a thinking model does unless `think` is false (as chat), but
    a raw prompt has no parser to split thoughts off, so it never does here."""
    name, raw, think = body.get("model"), body.get("raw") is True, body.get("think")
    if raw and (body.get("template") or body.get("system") or body.get("context")):
        return "raw mode does not support template, system, or context", False
    if "thinking" in model.capabilities:
        think = True if think is None else think
    elif think not in (None, False):
        return f'"{name}" does not support thinking', False
    if "completion" not in model.capabilities:
        return f'"{name}" does not support generate', False
    if missing := _missing_capability(model, [{"images": body.get("images") or []}]):
        return f'"{name}" does not support {missing}', False
    return None, think not in (None, False) and not raw


def _json_kind(value: Any) -> str:
    """How Go's encoding/json names a JSON value's kind in its errors."""
    kinds = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}
    return kinds.get(type(value), "object")


def _embed_window(model: OllamaModel, options: dict[str, Any]) -> int:
    """The tokens an input may have: the model's window, or `num_ctx` when smaller, less
    BOS and EOS (EmbedHandler inputTokensAndContext, adjustTokenLimit)."""
    window = model.context_length
    num_ctx = options.get("num_ctx")
    if isinstance(num_ctx, int) and num_ctx > 0:
        window = min(window, num_ctx)
    return max(window - 2, 0)


def _dimensioned(vector: list[float], dimensions: Any) -> list[float]:
    """EmbedHandler: normalised, then with 0 < dimensions < length cut and normalised again."""
    if isinstance(dimensions, int) and 0 < dimensions < len(vector):
        return normalized(vector[:dimensions])
    return vector


def _bad_image(messages: list[dict[str, Any]]) -> str | None:
    """Go's error for the first `images` entry that is no standard base64 string."""
    for message in messages:
        for image in message.get("images") or []:
            if not isinstance(image, str):
                kind = type(image).__name__
                return (
                    f"json: cannot unmarshal {kind} into Go struct field "
                    "Message.messages.images of type []uint8"
                )
            try:
                base64.b64decode(image, validate=True)
            except (binascii.Error, ValueError):
                return f"illegal base64 data at input byte {_bad_base64_offset(image)}"
    return None


def _missing_capability(model: OllamaModel, messages: list[dict[str, Any]]) -> str | None:
    """The capability a request needs but the model lacks: chat, vision for images, audio
    for WAV data in `images` (Ollama sniffs RIFF....WAVE, §1.6)."""
    if "completion" not in model.capabilities:
        return "chat"
    for message in messages:
        for image in message.get("images") or []:
            needs = "audio" if _is_wav(image) else "vision"
            if needs not in model.capabilities:
                return needs
    return None


def _is_wav(image: str) -> bool:
    """Ollama tells audio from images by the bytes: RIFF....WAVE (llm/media.go)."""
    data = base64.b64decode(image[:24])
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def _json_tokens(fmt: Any) -> list[str]:
    """An answer that fits `format` ("json" or a schema), in a few pieces as a model streams
    it (Ollama turns the schema into a grammar the output must follow)."""
    text = dumps(_instance(fmt) if isinstance(fmt, dict) else {"answer": "Hello"})
    third = max(1, len(text) // 3)
    return [text[i : i + third] for i in range(0, len(text), third)]


def _instance(schema: dict[str, Any]) -> Any:
    """The simplest value a JSON schema accepts (const, enum, first anyOf branch, types)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if branches := schema.get("anyOf") or schema.get("oneOf"):
        return _instance(branches[0])
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _instance(v) for k, v in props.items()}
    simple = {"string": "Tokyo", "integer": 1, "number": 1.5, "boolean": True, "null": None}
    return simple.get(kind, [])


def _logprobs(part: dict[str, Any], top: int | None) -> list[dict[str, Any]]:
    """Ollama's per-token logprobs (api/types.go Logprob) for one content piece."""
    text = part.get("content") or ""
    if not text or top is None:
        return []
    alternatives = [{"token": text, "logprob": -0.25}, {"token": " maybe", "logprob": -2.5}]
    return [{"token": text, "logprob": -0.25, "top_logprobs": alternatives[:top]}]


def _eval_tokens(parts: list[dict[str, Any]]) -> int:
    return TOOL_CALL_TOKENS if any("tool_calls" in p for p in parts) else len(parts)


def _metrics(prompt: int, evals: int, cold: bool) -> dict[str, int]:
    """The timing fields of the done chunk (nanoseconds), deterministic for tests."""
    load = LOAD_NS if cold else WARM_LOAD_NS
    prompt_ns, eval_ns = prompt * NS_PER_PROMPT_TOKEN, evals * NS_PER_EVAL_TOKEN
    return {
        "total_duration": load + prompt_ns + eval_ns,
        "load_duration": load,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": prompt_ns,
        "eval_count": evals,
        "eval_duration": eval_ns,
    }
