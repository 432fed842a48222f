"""One consistent, immutable view of every backend and its models: what routing reads.

`gateway.keeper` takes it (I/O); this module only holds it, so routing imports no client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.model import ModelInfo


@dataclass(frozen=True, slots=True)
class BackendState:
    name: str
    kind: str
    url: str
    healthy: bool
    detail: str = ""
    models: tuple[ModelInfo, ...] = ()
    sizes_context: bool = False  # its kind's capability (`gateway.backends`)


@dataclass(frozen=True, slots=True)
class Inventory:
    """One consistent view of all backends, in configuration order, models resolved
    against the catalogue (member, inputs and context always set)."""

    backends: tuple[BackendState, ...] = ()
    taken_at: float = field(default=0.0)

    def models(self) -> list[ModelInfo]:
        """Every model on a healthy backend, in backend order."""
        return [m for b in self.backends if b.healthy for m in b.models]

    @property
    def ready(self) -> bool:
        return bool(self.models())

    def why_not_ready(self) -> str:
        if not self.backends:
            return "no backends configured"
        return "; ".join(
            f"{b.name} ({b.url}): {b.detail if not b.healthy else 'healthy but lists no models'}"
            for b in self.backends
        )
