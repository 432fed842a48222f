"""OpenAI Chat Completions as clients send it: the pydantic models the OpenAI front parses.

`ChatRequest` is parsed once at the HTTP edge. It validates what the gateway reads
(`model`, `messages`, `stream`, content parts), type-checks the OpenAI fields a backend
adapter translates (`SamplingFields`: stop, tools, response_format, ...) so that a wrong type
is a 400 naming the field rather than a failure inside an adapter, and carries every other
field through untouched in `model_extra`, so a new OpenAI field reaches an
OpenAI-compatible backend without a gateway release.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)
from pydantic_core import PydanticCustomError

from gateway.core.errors import GatewayError


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Part):
    type: Literal["text"]
    text: str


class ImageURL(_Part):
    url: str
    detail: str | None = None


class ImagePart(_Part):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Part):
    data: str
    format: Literal["wav", "mp3", "flac", "ogg"]


class AudioPart(_Part):
    type: Literal["input_audio"]
    input_audio: InputAudio


class VideoURL(_Part):
    url: str


class VideoPart(_Part):
    type: Literal["video_url"]
    video_url: VideoURL


ContentPart = Annotated[TextPart | ImagePart | AudioPart | VideoPart, Field(discriminator="type")]


class _Open(BaseModel):
    """An OpenAI object whose fields the gateway checks; any others are kept as sent."""

    model_config = ConfigDict(extra="allow")


class CalledFunction(_Open):
    name: str
    # OpenAI sends a JSON string; a dict (Ollama's own shape) is taken as well.
    arguments: str | dict[str, Any]


class ToolCall(_Open):
    id: str | None = None
    type: Literal["function"] = "function"
    function: CalledFunction


# Validating a request costs ~2 µs a JSON object with the GIL held throughout: the caps keep
# one request from freezing the event loop (10^6 messages blocked /healthz for seconds).
MAX_MESSAGES = 5_000  # a full 128K window is ~5,000 short turns
MAX_PARTS = 500  # content parts in one message


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def passthrough(self) -> dict[str, Any]:
        """What the gateway does not read itself (tool calls, name, unknown fields), as sent:
        the backends get it back with the message."""
        return self.model_dump(exclude_unset=True, exclude={"role", "content"})


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


# Each choice is a whole generation on a local engine, queued like any request: beyond a few,
# `n` is a long queue rather than an answer (OpenAI itself allows 128).
MAX_CHOICES = 8
# `max_tokens: -1` is "no limit" in LM Studio's docs, llama-server's `n_predict` and Ollama's
# `num_predict`; clients written for them send it.
NO_LIMIT = -1


Number = StrictInt | StrictFloat  # true and "0.7" are no numbers
# Go's time.ParseDuration, as Ollama reads keep_alive ("5m", "1h30m", "-1s", "0").
_DURATION = re.compile(r"[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")
MAX_TOP_LOGPROBS = 20  # OpenAI's limit and Ollama's (server/routes.go)


class FunctionDef(_Open):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class Tool(_Open):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class TextFormat(_Open):
    type: Literal["text"]


class JsonObjectFormat(_Open):
    type: Literal["json_object"]


class JsonSchema(_Open):
    name: str | None = None
    description: str | None = None
    # `schema` itself would shadow BaseModel.schema
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class JsonSchemaFormat(_Open):
    type: Literal["json_schema"]
    json_schema: JsonSchema


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class Sampling(BaseModel):
    """The sampling numbers every generating endpoint takes (chat and legacy completions)."""

    stop: str | list[str] | None = None
    seed: StrictInt | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    top_k: StrictInt | None = None
    min_p: Number | None = None
    frequency_penalty: Number | None = None
    presence_penalty: Number | None = None
    repeat_penalty: Number | None = None


class SamplingFields(Sampling):
    """The OpenAI fields backend adapters translate (the Ollama one into `options`, `tools`,
    `format`, `think`, `keep_alive`), typed so that the adapters never see a wrong type. They
    are forwarded as the client sent them (`ChatRequest.sampling`)."""

    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    keep_alive: Number | str | None = None

    @field_validator("keep_alive")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and not _DURATION.fullmatch(value):
            message = 'must be seconds or a duration such as "5m" or "1h30m", not "{got}"'
            raise PydanticCustomError("duration", message, {"got": value})
        return value


class ChatRequest(SamplingFields):
    """An OpenAI Chat Completions request; unknown fields are kept, not dropped."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None

    @field_validator("max_tokens", "max_completion_tokens")
    @classmethod
    def _token_limit(cls, value: int | None) -> int | None:
        """0 is refused, as OpenAI refuses it: the backends disagree on what it means (Ollama's
        runner limits only when num_predict > 0, so no limit; llama-server generates nothing)."""
        if value is None or value == NO_LIMIT or value >= 1:
            return value
        message = "must be a positive integer, or -1 for no limit (got {got})"
        raise PydanticCustomError("token_limit", message, {"got": value})

    @property
    def n_choices(self) -> int:
        return self.n or 1

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def output_tokens(self) -> int | None:
        """The answer's token limit; None when there is none (absent, or -1)."""
        limit = self.max_completion_tokens
        limit = self.max_tokens if limit is None else limit
        return None if limit == NO_LIMIT else limit

    def sampling(self) -> dict[str, Any]:
        """Every field the gateway does not interpret itself, as the client sent it."""
        typed = self.model_dump(include=_SAMPLING, exclude_unset=True, by_alias=True)
        extra = {**(self.model_extra or {}), **typed}
        if self.output_tokens is not None:
            extra["max_tokens"] = self.output_tokens
        return extra


_SAMPLING = set(SamplingFields.model_fields)


def error_body(e: GatewayError) -> dict[str, Any]:
    """OpenAI's error envelope, plus a marker saying the gateway produced it."""
    return {
        "error": {
            "message": e.message,
            "type": e.type,
            "param": e.param,
            "code": e.code,
            "source": "gateway",
        }
    }


class EmbeddingsRequest(_Open):
    """`POST /v1/embeddings`: text in (token arrays are refused: no backend kind here is
    sure to take them), one vector per input back, in order."""

    model: str | None = None
    input: str | list[str] | list[StrictInt] | list[list[StrictInt]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: StrictInt | None = Field(default=None, ge=1)
