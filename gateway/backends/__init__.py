"""Backend adapters: one module per kind of local server."""

from gateway.backends.base import Backend
from gateway.backends.ollama import OllamaBackend
from gateway.backends.openai_compat import OpenAICompatBackend
from gateway.config import BackendConfig


def build_backend(cfg: BackendConfig) -> Backend:
    """The adapter for a configured backend."""
    if cfg.kind == "ollama":
        return OllamaBackend(cfg)
    return OpenAICompatBackend(cfg)


__all__ = ["Backend", "OllamaBackend", "OpenAICompatBackend", "build_backend"]
