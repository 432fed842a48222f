"""gemma-gateway: an OpenAI-compatible gateway over local Gemma 4 backends."""

__version__ = "0.1.0"
