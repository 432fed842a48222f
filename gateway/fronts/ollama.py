"""The Ollama front: Ollama's native API on the gateway's port, through the same pipeline.

`/api/chat` and `/api/generate` are parsed into the core `Request` (Ollama's `options` in
OpenAI's names, `format` as a response format, `images` split into pictures and audio by
their bytes as Ollama's own sniffer does) and answered in Ollama's shapes: one JSON object,
or NDJSON lines ending with Ollama's counters. The listing endpoints answer from the
inventory of every backend, so an Ollama client sees LM Studio's and llama-server's models
too. What changes a backend's store (pull, push, create, copy, delete) is not proxied: the
gateway fronts several backends and would not know which one to change.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.core.errors import GatewayError, InvalidRequest
from gateway.core.estimate import Estimate
from gateway.core.family import FAMILY
from gateway.core.messages import ChatMessage, Chunk, Completion
from gateway.core.model import Modality, ModelInfo
from gateway.core.pipeline import EmbedCall, EmbedOutcome
from gateway.core.prepare import Prepared
from gateway.core.request import Request
from gateway.core.routing import Wish
from gateway.edge import parse_body
from gateway.fastjson import dumps, json_response
from gateway.fronts import Endpoint
from gateway.fronts.body import read_body
from gateway.fronts.ollama_wire import (
    OLLAMA_VERSION,
    ChatBody,
    EmbedBody,
    GenerateBody,
    LegacyEmbedBody,
    Message,
    ModelBody,
    Options,
    _Generation,
    error_body,
    now,
    ns_since,
)
from gateway.fronts.stream import stream_response
from gateway.logs import note_usage
from gateway.state import PIPELINE, REQUEST_ID
from preprocess.media import Encoded, MediaPlan, Source, Text

NEVER = "0001-01-01T00:00:00Z"  # Go's zero time: what Ollama writes for "not set"
PLACEHOLDER = "[img]"  # Ollama fills these with the message's images, in order
# Ollama `options` key -> the OpenAI sampling field the backend adapters translate.
_OPTIONS = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p",
    "seed": "seed", "stop": "stop", "repeat_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
}  # fmt: skip


class Unsupported(GatewayError):
    status = 501
    type = "invalid_request_error"
    code = "not_implemented"


def error_response(e: GatewayError) -> web.Response:
    return web.json_response(error_body(e), status=e.status, headers=e.headers)


# --- chat and generate --------------------------------------------------------------------


async def chat(request: web.Request) -> web.StreamResponse:
    body = await read_body(request, _parse_chat)
    messages = _paired([_message(m, i) for i, m in enumerate(body.messages)])
    req = _request(request, body, messages)
    if body.tools:
        req.sampling["tools"] = [t.model_dump(exclude_unset=True) for t in body.tools]
    return await _answer(request, req, chat=True, load=not body.messages)


async def generate(request: web.Request) -> web.StreamResponse:
    body = await read_body(request, _parse_generate)
    for field in ("suffix", "template"):
        if getattr(body, field):
            raise InvalidRequest(f"{field} is not supported by the gateway", param=field)
    if body.raw:
        raise InvalidRequest("raw prompts are not supported by the gateway", param="raw")
    system = [ChatMessage[Source]("system", [Text(body.system)])] if body.system else []
    user = ChatMessage("user", _parts(body.prompt, body.images or [], "images"))
    req = _request(request, body, [*system, user])
    return await _answer(request, req, chat=False, load=not (body.prompt or body.images))


def _parse_chat(raw: bytes) -> ChatBody:
    return parse_body(ChatBody, raw, "an Ollama chat request")


def _parse_generate(raw: bytes) -> GenerateBody:
    return parse_body(GenerateBody, raw, "an Ollama generate request")


def _request(
    request: web.Request, body: _Generation, messages: list[ChatMessage[Source]]
) -> Request:
    if not body.model:
        raise InvalidRequest("model is required", param="model")
    options = body.options or Options()
    sampling = {_OPTIONS[k]: v for k, v in options.model_dump(exclude_none=True).items()
                if k in _OPTIONS}  # fmt: skip
    if options.num_predict is not None and options.num_predict > 0:
        sampling["max_tokens"] = options.num_predict
    if others := options.model_extra:
        sampling["options"] = others  # Ollama's other runner options, for Ollama backends
    for field in ("keep_alive", "think", "logprobs", "top_logprobs"):
        if (value := getattr(body, field)) is not None:
            sampling[field] = value
    if (fmt := response_format(body.format)) is not None:
        sampling["response_format"] = fmt
    return Request(
        messages=messages,
        wish=_wish(request, body.model),
        sampling=sampling,
        stream=body.stream,
        include_usage=True,  # Ollama's final line carries the counts
        output_tokens=sampling.get("max_tokens"),
        context=options.num_ctx,
    )


def response_format(fmt: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Ollama's `format` as OpenAI's `response_format`, which every adapter translates.

    >>> response_format("json"), response_format(""), response_format({"type": "object"})
    ({'type': 'json_object'}, None, {'type': 'json_schema', 'json_schema': {'name': 'response', 'schema': {'type': 'object'}}})
    """  # noqa: E501
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}
    return None


def _wish(request: web.Request, model: str) -> Wish:
    """The routing headers, and Ollama's naming: `name` means `name:latest` when only that
    exists (as Ollama resolves it)."""
    name = request.headers.get("X-Gateway-Model") or model
    if ":" not in name and "/" not in name:
        ids = {m.id for m in request.app[PIPELINE].keeper.snapshot.models()}
        if name not in ids and f"{name}:latest" in ids:
            name = f"{name}:latest"
    return Wish(name, request.headers.get("X-Gateway-Backend"),
                request.headers.get("X-Gateway-Prefer"))  # fmt: skip


def _message(msg: Message, i: int) -> ChatMessage[Source]:
    extra: dict[str, Any] = {}
    if msg.tool_calls:
        extra["tool_calls"] = [
            {"id": f"call_{i}_{j}", "type": "function",
             "function": {"name": c.function.name, "arguments": _json_text(c.function.arguments)}}
            for j, c in enumerate(msg.tool_calls)
        ]  # fmt: skip
    if msg.tool_name:
        extra["name"] = msg.tool_name
    if msg.thinking:
        extra["reasoning_content"] = msg.thinking
    parts = _parts(msg.content, msg.images or [], f"messages[{i}].images")
    return ChatMessage(msg.role, parts, extra)


def _paired(messages: list[ChatMessage[Source]]) -> list[ChatMessage[Source]]:
    """Ollama's tool results name their tool (`tool_name`) where OpenAI's answer a call by id:
    each is given the id of the earliest unanswered call of that name (else of any), as the
    backends need (OpenAI-compatible servers require `tool_call_id`; the Ollama adapter
    finds `tool_name` through it)."""
    pending: list[tuple[str, str]] = []
    for msg in messages:
        calls = msg.extra.get("tool_calls") or []
        if calls:
            pending = [(c["id"], c["function"]["name"]) for c in calls]
        elif msg.role == "tool" and pending:
            name = msg.extra.get("name")
            match = next((p for p in pending if p[1] == name), pending[0])
            pending.remove(match)
            msg.extra["tool_call_id"] = match[0]
    return messages


def _json_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _parts(text: str, images: Sequence[str], param: str) -> list[Source]:
    """Text and media where Ollama's renderer puts them: each `[img]` placeholder takes the
    next item in order, and items left over go before the text."""
    media = [_media(data, f"{param}[{k}]") for k, data in enumerate(images)]
    pieces = text.split(PLACEHOLDER)
    placed = len(pieces) - 1
    parts: list[Source] = list(media[placed:])
    for k, piece in enumerate(pieces):
        if k and k - 1 < len(media):
            parts.append(media[k - 1])
        elif k:
            piece = PLACEHOLDER + piece  # more placeholders than items: kept as text
        if piece:
            parts.append(Text(piece))
    return parts


def _media(data: str, param: str) -> Encoded:
    """An `images` entry: audio when its bytes are WAV or MP3 (Ollama's `llm/media.go`
    sniffs `RIFF....WAVE`, `ID3` and MPEG frame sync), a picture otherwise."""
    head = _head(data)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Encoded("audio", data, param, "wav")
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return Encoded("audio", data, param, "mp3")
    return Encoded("image", "data:application/octet-stream;base64," + data, param)


def _head(data: str) -> bytes:
    try:
        return base64.b64decode(data[:16], validate=True)
    except (binascii.Error, ValueError):
        return b""  # decoding the whole item says what is wrong, naming it


async def _answer(request: web.Request, req: Request, chat: bool, load: bool) -> web.StreamResponse:
    """Prepare, plan, dispatch, and answer in Ollama's shape. A request with nothing to say
    is Ollama's load request: routed (so an unknown model is a 404), answered `load`."""
    pipeline, request_id, started = request.app[PIPELINE], request[REQUEST_ID], time.perf_counter()
    if load:
        req.messages = [ChatMessage("user", [Text("")])]
    prepared = await pipeline.prepare(req)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    reply = Reply(chat, decision.model.id, started)
    if load:  # Ollama's load/unload request: to the backend that has the model
        keep_alive = req.sampling.get("keep_alive")
        await pipeline.load(decision, keep_alive)
        reason = "unload" if _is_zero(keep_alive) else "load"
        return web.json_response(reply.final({}, reason, None, None))
    outcome = await pipeline.dispatch(req, prepared, decision, request_id)
    if outcome.stream is not None:
        return await stream_response(request, outcome.stream, outcome.headers, NDJSON(reply))
    assert outcome.completion is not None
    note_usage(request, outcome.completion)
    return json_response(reply.whole(outcome.completion), headers=outcome.headers)


def _is_zero(duration: object) -> bool:
    """Whether a `keep_alive` is zero ("unload now"): 0, "0", "0s", "0.0m", ...

    >>> [_is_zero(v) for v in (0, "0s", "0.0m", "5m", None, 1)]
    [True, True, True, False, False, False]
    """
    if isinstance(duration, str):
        return re.fullmatch(r"0+(\.0*)?(ns|us|µs|ms|s|m|h)?", duration) is not None
    return isinstance(duration, int | float) and not isinstance(duration, bool) and duration == 0


class Reply:
    """Ollama's answer objects for one request: `message` for chat, `response` for
    generate; counts from the backend's usage, durations from its `timings` (llama-server's
    and the Ollama adapter's) or measured here when it gave none."""

    def __init__(self, chat: bool, model: str, started: float) -> None:
        self.chat, self.model, self.started = chat, model, started
        self.first_at: float | None = None

    def fields(self, content: str, thinking: str | None, calls: list[Any] | None) -> dict[str, Any]:
        if not self.chat:
            return {"response": content, **({"thinking": thinking} if thinking else {})}
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = [_ollama_call(c) for c in calls]
        return {"message": message}

    def line(self, fields: dict[str, Any], done: bool = False) -> dict[str, Any]:
        return {"model": self.model, "created_at": now(), **fields, "done": done}

    def whole(self, completion: Completion) -> dict[str, Any]:
        choice = completion["choices"][0]
        msg = choice.get("message") or {}
        fields = self.fields(msg.get("content") or "", msg.get("reasoning_content"),
                             msg.get("tool_calls"))  # fmt: skip
        if logprobs := (choice.get("logprobs") or {}).get("content"):
            fields["logprobs"] = logprobs
        return self.final(fields, choice.get("finish_reason"), completion.get("usage"),
                          completion.get("timings"))  # fmt: skip

    def final(
        self, fields: dict[str, Any], finish: str | None, usage: Any, timings: Any
    ) -> dict[str, Any]:
        if not fields:
            fields = self.fields("", None, None)
        reason = finish if finish in ("length", "load", "unload") else "stop"
        return {
            **self.line(fields, done=True),
            "done_reason": reason,
            **self.counters(usage, timings),
        }

    def counters(self, usage: Any, timings: Any) -> dict[str, int]:
        usage = usage if isinstance(usage, dict) else {}
        total = ns_since(self.started)
        first = int((self.first_at - self.started) * 1e9) if self.first_at else 0
        out = {"total_duration": total, "load_duration": 0,
               "prompt_eval_count": int(usage.get("prompt_tokens") or 0),
               "prompt_eval_duration": first,
               "eval_count": int(usage.get("completion_tokens") or 0),
               "eval_duration": total - first}  # fmt: skip
        if isinstance(timings, dict):
            for key, ms in (("load_duration", "load_ms"), ("prompt_eval_duration", "prompt_ms"),
                            ("eval_duration", "predicted_ms")):  # fmt: skip
                if isinstance(timings.get(ms), int | float):
                    out[key] = int(timings[ms] * 1e6)
        return out


def _ollama_call(call: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call as Ollama writes it: arguments as an object, not a string."""
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = {"arguments": arguments}  # not JSON: kept, not dropped
    out = {"function": {"name": function.get("name", ""), "arguments": arguments}}
    return {"id": call["id"], **out} if call.get("id") else out


class NDJSON:
    """Ollama's streamed answer: a line per piece of text, tool calls whole once complete,
    then the `done` line with the counts; a failure after the first byte is an `error` line."""

    content_type = "application/x-ndjson"

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None
        self.usage: Any = None
        self.timings: Any = None

    def chunk(self, chunk: Chunk) -> bytes:
        if self.reply.first_at is None:
            self.reply.first_at = time.perf_counter()
        self.usage = chunk.get("usage") or self.usage
        self.timings = chunk.get("timings") or self.timings
        out = b""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self._gather(delta.get("tool_calls") or [])
            self.finish = choice.get("finish_reason") or self.finish
            content, thinking = delta.get("content") or "", delta.get("reasoning_content")
            fields = self.reply.fields(content, thinking, None)
            if logprobs := (choice.get("logprobs") or {}).get("content"):
                fields["logprobs"] = logprobs
            if content or thinking or logprobs:
                out += _line(self.reply.line(fields))
        return out

    def _gather(self, fragments: list[dict[str, Any]]) -> None:
        """OpenAI streams a call's arguments in pieces; Ollama sends each call whole."""
        for fragment in fragments:
            call = self.calls.setdefault(fragment.get("index", 0), {"function": {"arguments": ""}})
            if fragment.get("id"):
                call["id"] = fragment["id"]
            function = fragment.get("function") or {}
            if function.get("name"):
                call["function"]["name"] = function["name"]
            args = function.get("arguments")
            if isinstance(args, dict):
                args = json.dumps(args)
            call["function"]["arguments"] += args or ""

    def error(self, e: GatewayError) -> bytes:
        return _line(error_body(e))

    def end(self) -> bytes:
        out = b""
        if self.calls:
            calls = [self.calls[i] for i in sorted(self.calls)]
            out = _line(self.reply.line(self.reply.fields("", None, calls)))
        return out + _line(self.reply.final({}, self.finish, self.usage, self.timings))


def _line(obj: object) -> bytes:
    return dumps(obj) + b"\n"


# --- embeddings ---------------------------------------------------------------------------


async def embed(request: web.Request) -> web.Response:
    body = await read_body(request, lambda raw: parse_body(EmbedBody, raw, "an embed request"))
    # As Ollama: an empty string is no input; a list is taken as it is.
    texts = ([body.input] if body.input else []) if isinstance(body.input, str) else body.input
    outcome, started = await _embedded(request, body.model, texts or [], body)
    vectors = outcome.embeddings
    return web.json_response({
        "model": outcome.model.id, "embeddings": vectors.vectors,
        "total_duration": ns_since(started), "load_duration": 0,
        "prompt_eval_count": vectors.prompt_tokens or 0,
    }, headers=outcome.headers)  # fmt: skip


async def embeddings(request: web.Request) -> web.Response:
    """The older call: one prompt, one vector (an empty prompt: an empty vector)."""
    body = await read_body(request, lambda raw: parse_body(LegacyEmbedBody, raw, "a prompt"))
    outcome, _ = await _embedded(request, body.model, [body.prompt] if body.prompt else [], body)
    vectors = outcome.embeddings.vectors
    return web.json_response({"embedding": vectors[0] if vectors else []},
                             headers=outcome.headers)  # fmt: skip


async def _embedded(
    request: web.Request, model: str, texts: list[str], body: EmbedBody | LegacyEmbedBody
) -> tuple[EmbedOutcome, float]:
    if not model:
        raise InvalidRequest("model is required", param="model")
    started = time.perf_counter()
    call = EmbedCall(
        texts, _wish(request, model),
        dimensions=body.dimensions if isinstance(body, EmbedBody) else None,
        truncate=body.truncate if isinstance(body, EmbedBody) else True,
        keep_alive=body.keep_alive, request_id=request[REQUEST_ID],
    )  # fmt: skip
    return await request.app[PIPELINE].embed(call), started


# --- what the backends have ---------------------------------------------------------------


async def tags(request: web.Request) -> web.Response:
    """Every routable model of every backend, after `auto` and the family aliases present."""
    keeper = request.app[PIPELINE].keeper
    models = keeper.snapshot.models()
    present, ids = {m.member for m in models}, {m.id for m in models}
    aliases = ["auto", *(a for a in keeper.catalogue.members if a in present and a not in ids)]
    listed = [{"name": a, "model": a, "modified_at": now(), "size": 0, "digest": "",
               "details": _details(None)} for a in aliases]  # fmt: skip
    listed += [_entry(m) for m in models]
    return web.json_response({"models": listed})


async def ps(request: web.Request) -> web.Response:
    """The models loaded on any backend now, with the window they are loaded with: a fresh
    inventory unless the last is under a second old (loads follow requests closely)."""
    keeper = request.app[PIPELINE].keeper
    fresh = time.monotonic() - keeper.snapshot.taken_at < 1.0
    snapshot = keeper.snapshot if fresh else await keeper.refresh()
    loaded = [m for m in snapshot.models() if m.loaded]
    return web.json_response({"models": [
        {**_entry(m), "expires_at": m.loaded_until or NEVER, "size_vram": 0,
         "context_length": m.loaded_context or m.context or 0}
        for m in loaded
    ]})  # fmt: skip


async def show(request: web.Request) -> web.Response:
    """One model's facts; an alias or `auto` shows the model it routes a text request to."""
    body = await read_body(request, lambda raw: parse_body(ModelBody, raw, "a model name"))
    name = body.model or body.name
    if not name:
        raise InvalidRequest("model is required", param="model")
    pipeline, wish = request.app[PIPELINE], _wish(request, name)
    listed = [m for m in pipeline.keeper.snapshot.models() if m.id == wish.model]
    if listed:
        model = listed[0]
    else:  # an alias, `auto`, or a model not seen yet: as routing resolves it
        text = Prepared([], frozenset({Modality.TEXT}), Estimate(), MediaPlan())
        model = (await pipeline.plan(text, wish, request[REQUEST_ID])).model
    arch = _family(model) or "unknown"
    return web.json_response({
        "modelfile": "", "parameters": "", "template": "", "details": _details(model),
        "model_info": {"general.architecture": arch, "general.basename": model.id,
                       f"{arch}.context_length": model.context or 0},
        "capabilities": capabilities(model), "modified_at": now(),
    })  # fmt: skip


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": OLLAMA_VERSION})


async def alive(request: web.Request) -> web.Response:
    """Ollama's liveness answer, which clients probe before anything else."""
    return web.Response(text="Ollama is running")


async def not_proxied(request: web.Request) -> web.Response:
    raise Unsupported(
        f"{request.method} {request.path} changes a backend's models, which the gateway does "
        "not proxy: it fronts several backends. Run it against the backend itself (e.g. "
        "`ollama pull <model>` on the Ollama host); the gateway finds the change at its next "
        "inventory refresh."
    )


def capabilities(model: ModelInfo) -> list[str]:
    """Ollama's capability names for what the gateway knows a model takes."""
    if model.embedding:
        return ["embedding"]
    caps = ["completion"]
    caps += [name for m, name in ((Modality.IMAGE, "vision"), (Modality.AUDIO, "audio"))
             if m in model.takes]  # fmt: skip
    if _family(model) == "gemma4":
        caps += ["tools", "thinking"]  # every Gemma 4 member (gemma4-family.md)
    return caps


def _family(model: ModelInfo) -> str:
    return "gemma4" if model.member in GEMMA4 else ""


GEMMA4 = frozenset(m.alias for m in FAMILY)  # the chat members (EmbeddingGemma is not one)


def _details(model: ModelInfo | None) -> dict[str, Any]:
    family = _family(model) if model else ""
    details: dict[str, Any] = {"parent_model": "", "format": "gguf", "family": family,
                               "families": [family] if family else None,
                               "parameter_size": "", "quantization_level": ""}  # fmt: skip
    if model is not None and model.context:
        details["context_length"] = model.context
    return details


def _entry(model: ModelInfo) -> dict[str, Any]:
    return {"name": model.id, "model": model.id, "modified_at": now(), "size": 0, "digest": "",
            "details": _details(model), "capabilities": capabilities(model)}  # fmt: skip


ENDPOINTS = [
    Endpoint("POST", "/api/chat", chat, error_response),
    Endpoint("POST", "/api/generate", generate, error_response),
    Endpoint("GET", "/api/tags", tags, error_response),
    Endpoint("POST", "/api/show", show, error_response),
    Endpoint("GET", "/api/ps", ps, error_response),
    Endpoint("GET", "/api/version", version, error_response),
    Endpoint("POST", "/api/embed", embed, error_response),
    Endpoint("POST", "/api/embeddings", embeddings, error_response),
    Endpoint("GET", "/", alive, error_response, public=True),
    *(Endpoint(method, path, not_proxied, error_response) for method, path in (
        ("POST", "/api/pull"), ("POST", "/api/push"), ("POST", "/api/create"),
        ("POST", "/api/copy"), ("DELETE", "/api/delete"),
    )),
]  # fmt: skip
