"""The normalized request: what every front parses its wire format into.

Messages hold text and still-encoded media (`preprocess.media.Source`); sampling fields are
carried as the client named them in OpenAI's vocabulary (a front speaking another API
translates its names), and the backend adapters translate them once more for their server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.core.messages import ChatMessage
from gateway.core.routing import Wish
from preprocess.media import Encoded, Source
from preprocess.parts import Remote, remote_urls


@dataclass(slots=True)
class Request:
    """One chat request, whichever API it came in by."""

    messages: list[ChatMessage[Source]]
    wish: Wish = field(default_factory=Wish)
    sampling: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False
    choices: int = 1
    output_tokens: int | None = None  # the answer's limit; None for none
    context: int | None = None  # a window the client asked for (Ollama's num_ctx)
    raw: bool = False  # the first user message's text is a raw prompt to continue

    def remote(self) -> Remote:
        """The `https://` media to fetch before decoding."""
        return remote_urls(p for m in self.messages for p in m.parts)

    def decodes(self) -> bool:
        """Whether preparing it runs a decoder (any media at all)."""
        return any(isinstance(p, Encoded) for m in self.messages for p in m.parts)
