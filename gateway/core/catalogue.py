"""How a backend's model id becomes a routable profile: the family (`gateway.core.family`) plus
config `[[models]]` entries.

What a model can take is decided in this order: a config `[[models]]` entry that says so,
then what its backend reports (Ollama `/api/show` capabilities, LM Studio's `type`), then
the member's catalogue facts, then text only. Context windows likewise.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import replace

from gateway.config import ModelEntry
from gateway.core.family import BY_ALIAS, E2B, E4B, Member, member_of
from gateway.core.model import Modality, ModelInfo

UNKNOWN_CONTEXT = 8192  # a model nobody describes: assume a small window, not a large one


class Catalogue:
    """The family plus config `[[models]]` entries; turns backend listings into profiles."""

    def __init__(self, entries: Sequence[ModelEntry] = ()) -> None:
        self.entries = list(entries)
        custom = {
            e.member: Member(
                e.member,
                _glob(e.match),
                frozenset(map(Modality, e.modalities or ())),
                e.context or UNKNOWN_CONTEXT,
                embedding=e.embedding,
            )  # fmt: skip
            for e in self.entries
            if e.member not in BY_ALIAS
        }
        self.members: dict[str, Member] = {**BY_ALIAS, **custom}

    def resolve(self, info: ModelInfo, edge_images: bool = True) -> ModelInfo:
        """A backend's listing completed with member, inputs and context; without
        `edge_images` (a backend's switch), E2B/E4B there take no images or video."""
        entry = next((e for e in self.entries if _glob(e.match).search(info.id.lower())), None)
        member = self.members[entry.member] if entry else member_of(info.id)
        inputs = (
            frozenset(map(Modality, entry.modalities))
            if entry and entry.modalities is not None
            else info.inputs
            if info.inputs is not None
            else member.inputs
            if member
            else frozenset({Modality.TEXT})
        )
        context = (
            (entry.context if entry else None)
            or info.context
            or (member.context if member else UNKNOWN_CONTEXT)
        )
        if not edge_images and member in (E2B, E4B):
            inputs -= {Modality.IMAGE, Modality.VIDEO}
        embedding = (
            info.embedding or bool(entry and entry.embedding) or bool(member and member.embedding)
        )
        return replace(
            info,
            member=member.alias if member else None,
            inputs=inputs,
            context=context,
            embedding=embedding,
        )

    def member(self, name: str) -> Member | None:
        return self.members.get(name.lower())


def _glob(pattern: str) -> re.Pattern[str]:
    """A case-insensitive glob anchored at both ends (`gemma4:*`, `*my-finetune*`)."""
    return re.compile(fnmatch.translate(pattern.lower()))
