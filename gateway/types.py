"""The request at the boundary (pydantic, OpenAI shape) and the plain types used inside.

`ChatRequest` is parsed once at the HTTP edge. It validates what the gateway reads
(`model`, `messages`, `stream`, content parts) and carries every other field (sampling,
tools, response_format, ...) through untouched in `model_extra`, so a new OpenAI field
reaches an OpenAI-compatible backend without a gateway release.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


# --- the OpenAI request, as clients send it -------------------------------------------


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


# Validating a request costs ~2 µs a JSON object with the GIL held throughout: the caps keep
# one request from freezing the event loop (10^6 messages blocked /healthz for seconds).
MAX_MESSAGES = 5_000  # a full 128K window is ~5,000 short turns
MAX_PARTS = 500  # content parts in one message


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


# Each choice is a whole generation on a local engine, queued like any request: beyond a few,
# `n` is a long queue rather than an answer (OpenAI itself allows 128).
MAX_CHOICES = 8
# `max_tokens: -1` is "no limit" in LM Studio's docs, llama-server's `n_predict` and Ollama's
# `num_predict`; clients written for them send it.
NO_LIMIT = -1


class ChatRequest(BaseModel):
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
        extra = dict(self.model_extra or {})
        if self.output_tokens is not None:
            extra["max_tokens"] = self.output_tokens
        return extra


# --- inside the gateway: decoded media, plain dataclasses -------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    mime: str


@dataclass(frozen=True, slots=True)
class Audio:
    data: bytes
    format: str


@dataclass(frozen=True, slots=True)
class Video:
    data: bytes
    mime: str


Part = Text | Image | Audio | Video


@dataclass(slots=True)
class ChatMessage:
    """A message whose media is decoded; `extra` keeps tool_calls, tool_call_id, name."""

    role: str
    parts: list[Part]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return join_text(p.text for p in self.parts if isinstance(p, Text))


def join_text(pieces: Iterable[str]) -> str:
    """Text parts as one string in which words never run together: a space goes between two
    pieces where neither side has whitespace already.

    >>> join_text(["Describe", "this", " image ", "now", "[img]"])
    'Describe this image now [img]'
    """
    out: list[str] = []
    for piece in pieces:
        if out and piece and out[-1] and not (out[-1][-1].isspace() or piece[0].isspace()):
            out.append(" ")
        out.append(piece)
    return "".join(out)


@dataclass(slots=True)
class BackendRequest:
    """What a backend adapter is asked to do: one concrete model, decoded messages."""

    model: str
    messages: list[ChatMessage]
    sampling: dict[str, Any]
    include_usage: bool = False
    num_ctx: int | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model on a backend; capabilities are data, not code paths.

    Backends fill what they know (`inputs`/`context` None when they do not say);
    `Catalogue.resolve` completes them and sets `member`, so routing sees no None there.
    """

    id: str
    backend: str
    inputs: frozenset[Modality] | None = None
    context: int | None = None
    loaded: bool = False
    loaded_context: int | None = None
    member: str | None = None

    @property
    def window(self) -> int:
        return self.context or 0

    @property
    def takes(self) -> frozenset[Modality]:
        return self.inputs or frozenset({Modality.TEXT})


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""


# An OpenAI `chat.completion` or `chat.completion.chunk` object, as JSON-ready dicts:
# they are relayed at thousands per second, so they stay plain dicts, not models.
Completion = dict[str, Any]
Chunk = dict[str, Any]
