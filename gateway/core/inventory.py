"""One consistent, immutable view of every backend and its models: what routing reads.

`gateway.keeper` takes it (I/O); this module only holds it, so routing imports no client.
A snapshot also keeps what is derived from it alone (`derived`): routing's indexes are
built once per snapshot, on its first request, not on every decision.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from gateway.core.model import ModelInfo

T = TypeVar("T")


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
    _derived: dict[Hashable, object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def models(self) -> list[ModelInfo]:
        """Every model on a healthy backend, in backend order."""
        return list(self.derived("models", self._healthy_models))

    def _healthy_models(self) -> tuple[ModelInfo, ...]:
        return tuple(m for b in self.backends if b.healthy for m in b.models)

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, computed once per snapshot: `make` must read nothing but this snapshot
        and what `key` names (the snapshot never changes, so neither does the value)."""
        if key not in self._derived:
            self._derived[key] = make()
        return cast(T, self._derived[key])

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
