"""Backend adapters: one module per kind of local server, and the registry of kinds."""

from typing import get_args

from gateway.backends.base import Backend
from gateway.backends.ollama import OllamaBackend
from gateway.backends.openai_compat import OpenAICompatBackend
from gateway.config import BackendConfig, BackendKind

Kind = type[OllamaBackend] | type[OpenAICompatBackend]
KINDS: dict[str, Kind] = {b.kind: b for b in (OllamaBackend, OpenAICompatBackend)}
assert set(KINDS) == set(get_args(BackendKind)), "config's kinds and the registry differ"


def build_backend(cfg: BackendConfig) -> Backend:
    """The adapter for a configured backend."""
    return KINDS[cfg.kind](cfg)


__all__ = ["KINDS", "Backend", "build_backend"]
