"""Messages inside the gateway, free of any wire format: decoded parts, what a backend is
asked, and the neutral answer shapes (OpenAI's completion and chunk objects, as dicts)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from preprocess.media import BackendPart, Source, Text

PartT = TypeVar("PartT", bound=Source | BackendPart)


@dataclass(slots=True)
class ChatMessage(Generic[PartT]):
    """A message in the core's terms; `extra` keeps tool_calls, tool_call_id, name.

    `ChatMessage[Source]` as a front hands it over (media still encoded),
    `ChatMessage[BackendPart]` once prepared (what backends take).
    """

    role: str
    parts: list[PartT]
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
    messages: list[ChatMessage[BackendPart]]
    sampling: dict[str, Any]
    include_usage: bool = False
    num_ctx: int | None = None
    prompt: str | None = None  # a raw prompt to continue (no chat template); else messages


# An OpenAI `chat.completion` or `chat.completion.chunk` object, as JSON-ready dicts:
# they are relayed at thousands per second, so they stay plain dicts, not models.
Completion = dict[str, Any]
Chunk = dict[str, Any]
# Chunks as an async generator, not just an iterator: whoever stops reading one early closes
# it (`aclose`), which ends the upstream request and frees its limiter slot.
ChunkStream = AsyncGenerator[Chunk, None]


@dataclass(slots=True)
class EmbedRequest:
    """What an adapter is asked to embed: one concrete model, the texts in order.

    `dimensions` shortens each vector (Ollama and OpenAI both take it; None: the model's
    own); `truncate` False makes an input over the model's window an error instead of cut
    (Ollama's `truncate`); `keep_alive` is Ollama's (seconds or a Go duration).
    """

    model: str
    inputs: list[str]
    dimensions: int | None = None
    truncate: bool = True
    keep_alive: float | str | None = None


@dataclass(slots=True)
class Embeddings:
    """One vector per input, in the inputs' order; the tokens read, when the server says."""

    vectors: list[list[float]]
    prompt_tokens: int | None = None
