"""The Gemma 4 family as data: which backend model ids belong to which member.

Backends name the same model differently (Ollama `gemma4:26b-q4_K_M`, LM Studio
`google/gemma-4-26b-a4b`), so members are matched by pattern, never by exact string.
Facts come from shared/gemma4-family.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.types import Modality

AUTO_ALIASES = frozenset({"auto", "gemma4", ""})

_ALL = frozenset(Modality)
_SEEING = frozenset({Modality.TEXT, Modality.IMAGE, Modality.VIDEO})


@dataclass(frozen=True, slots=True)
class Member:
    """One member of the family: its public alias and what it can take."""

    alias: str
    pattern: re.Pattern[str]
    inputs: frozenset[Modality]
    context: int
    ollama_tag: str
    lmstudio_id: str

    @property
    def how_to_get(self) -> str:
        return f"`ollama pull {self.ollama_tag}` or `lms get {self.lmstudio_id}`"

    def matches(self, model_id: str) -> bool:
        return bool(self.pattern.search(model_id.lower()))


def _pattern(size: str) -> re.Pattern[str]:
    # "gemma4:e4b", "gemma-4-E4B-it", "google/gemma-4-26b-a4b", "gemma4:26b-q4_K_M"
    return re.compile(rf"gemma-?4[^a-z0-9]*{size}(?![0-9])")


FAMILY: tuple[Member, ...] = (
    Member("gemma4-e2b", _pattern("e2b"), _ALL, 131072, "gemma4:e2b", "google/gemma-4-e2b"),
    Member("gemma4-e4b", _pattern("e4b"), _ALL, 131072, "gemma4:e4b", "google/gemma-4-e4b"),
    Member(
        "gemma4-26b-a4b", _pattern("26b"), _SEEING, 262144, "gemma4:26b", "google/gemma-4-26b-a4b"
    ),
    Member("gemma4-31b", _pattern("31b"), _SEEING, 262144, "gemma4:31b", "google/gemma-4-31b"),
)
BY_ALIAS = {m.alias: m for m in FAMILY}


def member_of(model_id: str) -> Member | None:
    """The family member a backend's model id belongs to, if any.

    >>> [member_of(i).alias for i in ("gemma4:e4b", "google/gemma-4-26B-A4B-it")]
    ['gemma4-e4b', 'gemma4-26b-a4b']
    >>> member_of("llama3.2:latest") is None
    True
    """
    return next((m for m in FAMILY if m.matches(model_id)), None)
