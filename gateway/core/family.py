"""The Gemma 4 family's facts: one leaf module every alias list and rule derives from.

Backends name the same model differently (Ollama `gemma4:26b-q4_K_M`, LM Studio
`google/gemma-4-26b-a4b`), so members are matched by pattern, never by exact string.
Facts come from shared/gemma4-family.md and protocols.md 0b.10 (the 12B, June 2026: it hears
like E2B/E4B; its window is known only from third-party copies, so the family table assumes
the edge models' 128K and trusts what a backend reports). Config validates member names
against `ALIASES`; routing's rules name members through `EDGE`, `HEARING` and `LONG`.

EmbeddingGemma (308M, September 2025; `google/embeddinggemma-300m`, 2048-token input) is a
member too, but it makes embeddings, not chat: it is in `MEMBERS` (so the catalogue knows
it) and not in `FAMILY`, the chat members the routing rules and their messages draw on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core.model import Modality

AUTO_ALIASES = frozenset({"auto", "gemma4", ""})

_ALL = frozenset(Modality)
_SEEING = frozenset({Modality.TEXT, Modality.IMAGE, Modality.VIDEO})


@dataclass(frozen=True, slots=True)
class Member:
    """One member of the family (or a config-defined one): alias, inputs, window."""

    alias: str
    pattern: re.Pattern[str]
    inputs: frozenset[Modality]
    context: int
    ollama_tag: str = ""
    lmstudio_id: str = ""
    embedding: bool = False  # makes embeddings, not chat

    @property
    def how_to_get(self) -> str:
        if not self.ollama_tag:
            return f"add a model matching {self.alias!r} to a backend"
        if self.embedding:  # LM Studio's id for it is what its server lists, not a `lms get` key
            return f"`ollama pull {self.ollama_tag}` or load {self.lmstudio_id} in LM Studio"
        return f"`ollama pull {self.ollama_tag}` or `lms get {self.lmstudio_id}`"

    def matches(self, model_id: str) -> bool:
        return bool(self.pattern.search(model_id.lower()))


def _pattern(size: str) -> re.Pattern[str]:
    # "gemma4:e4b", "gemma-4-E4B-it", "google/gemma-4-26b-a4b", "gemma4:26b-q4_K_M"
    return re.compile(rf"gemma-?4[^a-z0-9]*{size}(?![0-9])")


E2B = Member("gemma4-e2b", _pattern("e2b"), _ALL, 131072, "gemma4:e2b", "google/gemma-4-e2b")
E4B = Member("gemma4-e4b", _pattern("e4b"), _ALL, 131072, "gemma4:e4b", "google/gemma-4-e4b")
A26B = Member(
    "gemma4-26b-a4b", _pattern("26b"), _SEEING, 262144, "gemma4:26b", "google/gemma-4-26b-a4b"
)
D31B = Member("gemma4-31b", _pattern("31b"), _SEEING, 262144, "gemma4:31b", "google/gemma-4-31b")
D12B = Member("gemma4-12b", _pattern("12b"), _ALL, 131072, "gemma4:12b", "google/gemma-4-12b")
FAMILY: tuple[Member, ...] = (E2B, E4B, D12B, A26B, D31B)  # the chat members
# Ollama `embeddinggemma` / `embeddinggemma:300m` (ollama.com/library/embeddinggemma); LM Studio
# lists it as `text-embedding-embeddinggemma-300m` (or `-qat`): that id is seen in users' code
# against LM Studio's /v1/embeddings, not in LM Studio's own docs. HF `google/embeddinggemma-300m`.
EMBEDDING_GEMMA = Member(
    "embeddinggemma",
    re.compile(r"embedding[-_ ]?gemma"),
    frozenset({Modality.TEXT}),
    2048,
    "embeddinggemma",
    "text-embedding-embeddinggemma-300m",
    embedding=True,
)
MEMBERS: tuple[Member, ...] = (*FAMILY, EMBEDDING_GEMMA)
BY_ALIAS = {m.alias: m for m in MEMBERS}
EDGE = (E4B.alias, E2B.alias)  # the small members that hear: plain audio goes here
HEARING = (*EDGE, D12B.alias)  # every member that hears; the 12B takes what is too long
LONG = (A26B.alias, D31B.alias)  # the 256K windows


def member_of(model_id: str) -> Member | None:
    """The family member a backend's model id belongs to, if any.

    >>> [member_of(i).alias for i in ("gemma4:e4b", "google/gemma-4-26B-A4B-it")]
    ['gemma4-e4b', 'gemma4-26b-a4b']
    >>> member_of("llama3.2:latest") is None
    True
    >>> [member_of(i).alias for i in ("embeddinggemma:300m", "text-embedding-embeddinggemma-300m")]
    ['embeddinggemma', 'embeddinggemma']
    """
    return next((m for m in MEMBERS if m.matches(model_id)), None)


def can_take(inputs: frozenset[Modality], needed: frozenset[Modality]) -> bool:
    """Video reaches models as stills, so a model that sees images can take video."""
    if Modality.VIDEO in needed and Modality.IMAGE in inputs:
        needed = needed - {Modality.VIDEO}
    return needed <= inputs


ALIASES = tuple(m.alias for m in MEMBERS)
EMBEDDING_ALIASES = frozenset(m.alias for m in MEMBERS if m.embedding)
