"""What a model can take, as data: modalities and the profile of a model on a backend."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model on a backend; capabilities are data, not code paths.

    Backends fill what they know (`inputs`/`context` None when they do not say; `embedding`
    when they mark an embedding model: Ollama's `embedding` capability, LM Studio's `type`);
    `Catalogue.resolve` completes them and sets `member`, so routing sees no None there.
    """

    id: str
    backend: str
    inputs: frozenset[Modality] | None = None
    context: int | None = None
    loaded: bool = False
    loaded_context: int | None = None
    loaded_until: str | None = None  # when the server unloads it if unused (Ollama's expires_at)
    member: str | None = None
    embedding: bool = False  # the model makes embeddings, not chat: chat routing skips it

    @property
    def window(self) -> int:
        return self.context or 0

    @property
    def takes(self) -> frozenset[Modality]:
        return self.inputs or frozenset({Modality.TEXT})
