"""Which model on which backend serves a request: a pure function of its inputs.

`route()` reads only its arguments (no I/O, no logging, no clock), so every decision can be
replayed in a table-driven test and printed by `gateway route` exactly as the server makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalogue import AUTO_ALIASES, BY_ALIAS, Member
from gateway.config import RoutingConfig
from gateway.errors import InvalidRequest, ModelNotFound, NoRoute
from gateway.inventory import Inventory
from gateway.types import ModelInfo


@dataclass(frozen=True, slots=True)
class Wish:
    """What the client asked for: a model name (header wins over body) and a backend pin."""

    model: str | None = None
    backend: str | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen model, why, and the ordered candidates to fail over to."""

    model: ModelInfo
    reason: str
    candidates: tuple[ModelInfo, ...]

    @property
    def backend(self) -> str:
        return self.model.backend


def route(wish: Wish, inventory: Inventory, policy: RoutingConfig) -> RouteDecision:
    """Pick the model for a request, or raise the error the client should see."""
    models = _pinned(inventory, wish.backend)
    name = (wish.model or "").strip()
    if name.lower() in AUTO_ALIASES:
        return _default(models, inventory, policy)
    found = _resolve(name, models)
    if not found:
        raise _missing(name, inventory, wish.backend)
    return _decision(found, "override")


def _pinned(inventory: Inventory, backend: str | None) -> list[ModelInfo]:
    if backend is None:
        return inventory.models()
    state = next((b for b in inventory.backends if b.name == backend), None)
    if state is None:
        names = ", ".join(b.name for b in inventory.backends)
        raise InvalidRequest(
            f"no backend named {backend!r}; configured: {names}", param="X-Gateway-Backend"
        )
    if not state.healthy:
        raise NoRoute(f"backend {backend!r} is unavailable: {state.detail}")
    return list(state.models)


def _default(models: list[ModelInfo], inventory: Inventory, policy: RoutingConfig) -> RouteDecision:
    if not models:
        raise NoRoute(
            "no backend has a model to serve this request: "
            + inventory.why_not_ready()
            + ". Start Ollama or LM Studio with a Gemma 4 model (e.g. `ollama pull gemma4:e4b`),"
            " or run `gateway up --embedded`."
        )
    preferred = _resolve(policy.default_model, models)
    return _decision(preferred or models, "default")


def _resolve(name: str, models: list[ModelInfo]) -> list[ModelInfo]:
    """Models a name means: a family alias matches by pattern, anything else exactly."""
    member = BY_ALIAS.get(name.lower())
    if member is not None:
        return [m for m in models if member.matches(m.id)]
    return [m for m in models if m.id == name]


def _decision(found: list[ModelInfo], reason: str) -> RouteDecision:
    # A loaded model answers without a load (seconds to minutes); otherwise config order.
    ordered = sorted(found, key=lambda m: not m.loaded)
    return RouteDecision(ordered[0], reason, tuple(ordered))


def _missing(name: str, inventory: Inventory, backend: str | None) -> Exception:
    member: Member | None = BY_ALIAS.get(name.lower())
    where = f"on backend {backend!r}" if backend else "on any healthy backend"
    if member is not None:
        return NoRoute(f"no {member.alias} model {where}; get one with {member.how_to_get}")
    if down := [b for b in inventory.backends if not b.healthy and backend in (None, b.name)]:
        # It may well be on a backend that is down: say so rather than "no such model".
        why = "; ".join(f"{b.name}: {b.detail}" for b in down)
        return NoRoute(f"model {name!r} is not {where}; unavailable backends: {why}")
    known = sorted({m.id for m in inventory.models()})
    listing = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") if known else "none"
    return ModelNotFound(
        f"model {name!r} is not {where}. Use `auto`, a family alias (gemma4-e2b, gemma4-e4b, "
        f"gemma4-26b-a4b, gemma4-31b) or one of: {listing}",
        param="model",
    )
