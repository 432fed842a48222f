"""`POST /v1/completions`: OpenAI's legacy text completions, a raw prompt continued.

The prompt travels as one user message (so preparing, estimating and routing are the chat
path's) in a `Request` marked `raw`: the backends continue it as it is, without the chat
template (Ollama's `/api/generate` with `raw`, an OpenAI-compatible server's own
`/v1/completions`). Answers come back in the neutral chat shape and are rendered here as
`text_completion` objects, or SSE chunks of the same shape ending in `data: [DONE]`.

What OpenAI's endpoint has and the gateway does not: several prompts in one request, token
arrays, `suffix` (fill-in-the-middle), `best_of` beyond `n`; each is a 400 naming the field
(`best_of` is passed on as sent). `echo` is done here (the prompt is put before the text);
`logprobs: k` becomes the backends' per-token logprobs with `k` alternatives, rendered in
the legacy shape (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from gateway.core.errors import InvalidRequest
from gateway.core.messages import ChatMessage, Chunk, Completion
from gateway.core.pipeline import Outcome
from gateway.core.request import Request
from gateway.core.routing import Wish
from gateway.edge import parse_body
from gateway.fronts import SCHEMA_REF, Endpoint, sse_event_schema, wish
from gateway.fronts.body import read_body
from gateway.fronts.openai import SSE, error_response, event
from gateway.fronts.openai_wire import (
    MAX_CHOICES,
    MAX_TOP_LOGPROBS,
    NO_LIMIT,
    Sampling,
    SamplingFields,
    StreamOptions,
)
from gateway.fronts.stream import stream_response
from gateway.logs import note_usage
from gateway.state import PIPELINE, REQUEST_ID
from preprocess.media import Text

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint (not chat's "no limit")
# Fields adapters read that are typed for chat only: never forwarded from here untyped.
_NOT_FORWARDED = set(SamplingFields.model_fields) | {"think", "options", "reasoning"}
_TYPED = tuple(Sampling.model_fields)


class CompletionRequest(Sampling):
    """An OpenAI legacy completions request; unknown fields are passed on as sent."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str | list[Any] = Field(description="The text to continue: a string, or a list "
                                    "of one string.")  # fmt: skip
    max_tokens: StrictInt | None = DEFAULT_MAX_TOKENS
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(default=None, ge=1, le=MAX_CHOICES)
    echo: StrictBool = False
    suffix: str | None = None
    logprobs: StrictInt | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)

    @field_validator("prompt")
    @classmethod
    def _one_text(cls, value: str | list[Any]) -> str:
        if isinstance(value, list):
            if len(value) != 1 or not isinstance(value[0], str):
                message = (
                    "must be a string or a list of one string: several prompts and token "
                    "arrays are not supported by the gateway"
                )
                raise PydanticCustomError("one_prompt", message)
            value = value[0]
        if not value:
            raise PydanticCustomError("empty_prompt", "must not be empty")
        return value

    @field_validator("max_tokens")
    @classmethod
    def _token_limit(cls, value: int | None) -> int | None:
        if value is None or value == NO_LIMIT or value >= 1:
            return value
        message = "must be a positive integer, or -1 for no limit (got {got})"
        raise PydanticCustomError("token_limit", message, {"got": value})

    @property
    def text(self) -> str:
        assert isinstance(self.prompt, str)  # made one by the validator
        return self.prompt

    @property
    def output_tokens(self) -> int | None:
        """The answer's limit: 16 when absent (OpenAI's default), none for null or -1."""
        return None if self.max_tokens in (None, NO_LIMIT) else self.max_tokens

    def sampling(self) -> dict[str, Any]:
        """The sampling fields in the neutral (chat) names: `logprobs: k` as `logprobs` and
        `top_logprobs`; extras as sent, but none an adapter reads without their types."""
        extra = {k: v for k, v in (self.model_extra or {}).items() if k not in _NOT_FORWARDED}
        out = {**extra, **self.model_dump(include=set(_TYPED), exclude_none=True)}
        if self.output_tokens is not None:
            out["max_tokens"] = self.output_tokens
        if self.logprobs is not None:
            out.update(logprobs=True, top_logprobs=self.logprobs)
        return out


def parse_completion_request(body: bytes) -> CompletionRequest:
    return parse_body(CompletionRequest, body, "a JSON completions request")


async def completions(request: web.Request) -> web.StreamResponse:
    pipeline, request_id = request.app[PIPELINE], request[REQUEST_ID]
    body = await read_body(request, parse_completion_request)
    req = to_request(body, wish(request, None))
    prepared = await pipeline.prepare(req)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    outcome = await pipeline.dispatch(req, prepared, decision, request_id)
    return await render(request, outcome, body.text if body.echo else "")


def to_request(body: CompletionRequest, wished: Wish) -> Request:
    """The completions request in the core's terms: one user message holding the prompt,
    marked `raw`; the body's `model` is the wish unless a header named one."""
    if body.suffix:
        raise InvalidRequest(
            "suffix: inserting text between a prompt and a suffix is not supported by the "
            "gateway; send the prompt alone",
            param="suffix",
        )
    return Request(
        messages=[ChatMessage("user", [Text(body.text)])],
        wish=Wish(wished.model or body.model, wished.backend, wished.prefer),
        sampling=body.sampling(),
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        choices=body.n or 1,
        output_tokens=body.output_tokens,
        raw=True,
    )


async def render(request: web.Request, outcome: Outcome, echo: str) -> web.StreamResponse:
    texts = TextCompletions(outcome.model.id, echo)
    if outcome.stream is not None:
        return await stream_response(request, outcome.stream, outcome.headers, TextSSE(texts))
    assert outcome.completion is not None
    note_usage(request, outcome.completion)
    return web.json_response(texts.whole(outcome.completion), headers=outcome.headers)


@dataclass(slots=True)
class TextCompletions:
    """Neutral chat completions and chunks as `text_completion` objects: the echoed prompt
    before each choice's first text, logprobs in the legacy shape with each token's offset
    in that choice's text (kept per choice across chunks)."""

    model: str
    echo: str = ""
    _offsets: dict[int, int] = field(default_factory=dict)

    def whole(self, completion: Completion) -> dict[str, Any]:
        choices = [self._choice(c, (c.get("message") or {}).get("content")) for c in
                   completion.get("choices") or ()]  # fmt: skip
        return {**self._head(completion), "choices": choices, "usage": completion.get("usage")}

    def chunk(self, chunk: Chunk) -> dict[str, Any] | None:
        """The chunk's text completion; None when it says nothing (a chat stream's opening
        role, a thought)."""
        choices = [self._choice(c, (c.get("delta") or {}).get("content")) for c in
                   chunk.get("choices") or ()]  # fmt: skip
        said = [c for c in choices if c["text"] or c["finish_reason"] or c["logprobs"]]
        if choices and not said:
            return None
        out = {**self._head(chunk), "choices": said}
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        return out

    def _head(self, obj: dict[str, Any]) -> dict[str, Any]:
        given = str(obj.get("id") or "")
        return {"id": "cmpl-" + given.removeprefix("chatcmpl-"), "object": "text_completion",
                "created": obj.get("created"), "model": self.model}  # fmt: skip

    def _choice(self, choice: dict[str, Any], content: Any) -> dict[str, Any]:
        index = choice.get("index") or 0
        said = content if isinstance(content, str) else ""
        start = self._offsets.get(index)
        prefix = self.echo if start is None else ""  # before this choice's first words
        start = len(self.echo) if start is None else start
        logprobs = legacy_logprobs(choice.get("logprobs"), start)
        self._offsets[index] = start + len(said)
        return {"text": prefix + said, "index": index, "logprobs": logprobs,
                "finish_reason": choice.get("finish_reason")}  # fmt: skip


def legacy_logprobs(logprobs: Any, offset: int) -> dict[str, Any] | None:
    """Chat logprobs (`{"content": [{token, logprob, top_logprobs}]}`) in the legacy
    completions shape; a backend's own legacy shape (it has `tokens`) as it is.

    >>> legacy_logprobs({"content": [{"token": "Hi", "logprob": -0.5, "top_logprobs": [
    ...     {"token": "Hi", "logprob": -0.5}]}, {"token": "!", "logprob": -1.0}]}, 3)
    {'tokens': ['Hi', '!'], 'token_logprobs': [-0.5, -1.0], 'top_logprobs': [{'Hi': -0.5}, \
{}], 'text_offset': [3, 5]}
    """
    if not isinstance(logprobs, dict):
        return None
    if "tokens" in logprobs:
        return logprobs
    entries = [e for e in logprobs.get("content") or () if isinstance(e, dict)]
    offsets = []
    for e in entries:
        offsets.append(offset)
        offset += len(str(e.get("token", "")))
    return {
        "tokens": [e.get("token") for e in entries],
        "token_logprobs": [e.get("logprob") for e in entries],
        "top_logprobs": [
            {t.get("token"): t.get("logprob") for t in e.get("top_logprobs") or ()} for e in entries
        ],  # fmt: skip
        "text_offset": offsets,
    }


class TextSSE(SSE):
    """OpenAI's server-sent events with `text_completion` chunks; `data: [DONE]` at a
    clean end, an error event after a failure mid-stream (as the chat front's)."""

    def __init__(self, texts: TextCompletions) -> None:
        self.texts = texts

    def chunk(self, chunk: Chunk) -> bytes:
        text = self.texts.chunk(chunk)
        return b"" if text is None else event(text)


def openapi_paths() -> dict[str, Any]:
    """`/openapi.json` paths of this front (`gateway.openapi` merges them)."""
    from gateway import openapi as spec  # it imports this module

    ok = spec._chat_ok()
    ok["description"] = (
        "A `text_completion`, or with `stream: true` SSE `text_completion` chunks ending in "
        '`data: [DONE]` (or, after a failure mid-stream, one `data: {"error": ...}` event).'
    )
    ok["content"] = {
        "application/json": {"schema": spec._ref("TextCompletion")},
        "text/event-stream": {"schema": spec._ref("TextCompletionEvent")},
    }
    return {
        "/v1/completions": {
            "post": {
                "operationId": "createCompletion",
                "summary": "OpenAI's legacy completions: a raw prompt continued (no chat "
                "template) by a routed backend, as JSON or SSE.",
                "security": [{"bearerAuth": []}],
                "parameters": spec._gateway_headers(),
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": spec._ref("CompletionRequest")}}},
                "responses": {"200": ok, **spec._errors(*spec.ERROR_STATUSES)},
            }
        }
    }  # fmt: skip


def openapi_schemas() -> dict[str, Any]:
    """`/openapi.json` schemas of this front."""
    request = CompletionRequest.model_json_schema(ref_template=SCHEMA_REF)
    defs = request.pop("$defs", {})
    nullable_text = {"type": ["string", "null"]}
    choice = {"type": "object", "required": ["text", "index", "finish_reason"],
              "properties": {"text": {"type": "string"}, "index": {"type": "integer"},
                             "logprobs": {"type": ["object", "null"]},
                             "finish_reason": nullable_text}}  # fmt: skip
    return {
        **defs,
        "CompletionRequest": request,
        "TextCompletion": {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "text_completion"},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {"type": "array", "items": choice},
                "usage": {"type": ["object", "null"]},
            },
        },
        "TextCompletionEvent": sse_event_schema("TextCompletion", "Error"),
    }


ENDPOINTS = [Endpoint("POST", "/v1/completions", completions, error_response)]
