"""Ollama's native API as clients send it (`api/types.go` at ollama/ollama fb30760): the
pydantic models the Ollama front parses, and Ollama's answer shapes.

Like Ollama's Go structs, unknown fields are ignored rather than refused; fields the gateway
translates are typed, so a wrong type is a 400 naming the field.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from gateway.core.errors import GatewayError
from gateway.fronts.openai_wire import MAX_MESSAGES, Number, Tool

# The Ollama release whose API this front follows; clients read it from /api/version to
# decide what they may send.
OLLAMA_VERSION = "0.33.0"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class CalledFunction(_Lenient):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ToolCall(_Lenient):
    function: CalledFunction


class Message(_Lenient):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None  # base64: pictures, or audio (told apart by their bytes)
    thinking: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None


class Options(_Lenient):
    """The runner options the gateway translates; others reach an Ollama backend as sent."""

    temperature: Number | None = None
    top_p: Number | None = None
    top_k: StrictInt | None = None
    min_p: Number | None = None
    seed: StrictInt | None = None
    stop: list[str] | str | None = None
    num_predict: StrictInt | None = None
    num_ctx: StrictInt | None = Field(default=None, ge=1)
    repeat_penalty: Number | None = None
    presence_penalty: Number | None = None
    frequency_penalty: Number | None = None


Format = Literal["json", ""] | dict[str, Any]
Think = StrictBool | Literal["low", "medium", "high", "max"]


class _Generation(_Lenient):
    model: str = ""
    format: Format | None = None
    options: Options | None = None
    stream: bool = True  # Ollama streams unless told not to
    keep_alive: Number | str | None = None
    think: Think | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)


class ChatBody(_Generation):
    messages: list[Message] = Field(default_factory=list, max_length=MAX_MESSAGES)
    tools: list[Tool] | None = None


class GenerateBody(_Generation):
    prompt: str = ""
    system: str | None = None
    images: list[str] | None = None
    suffix: str = ""
    template: str = ""
    raw: bool = False


class EmbedBody(_Lenient):
    """`/api/embed`: `input` one text or several (an empty one is no input)."""

    model: str = ""
    input: str | list[str] | None = None
    truncate: bool = True
    dimensions: StrictInt | None = Field(default=None, ge=1)
    keep_alive: Number | str | None = None


class LegacyEmbedBody(_Lenient):
    """`/api/embeddings`, the older call: one `prompt`, one vector back."""

    model: str = ""
    prompt: str = ""
    keep_alive: Number | str | None = None


class ModelBody(_Lenient):
    """`/api/show`: `model`, or `name` as older clients send it."""

    model: str = ""
    name: str = ""


def error_body(e: GatewayError) -> dict[str, Any]:
    """Ollama's error shape: one string, which `ollama.ResponseError` carries as is."""
    return {"error": e.message}


def now() -> str:
    """`created_at` as Ollama writes it (RFC 3339, UTC)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def ns_since(started: float) -> int:
    """Nanoseconds since `started` (a `time.perf_counter()` value): Ollama's durations."""
    return int((time.perf_counter() - started) * 1e9)
