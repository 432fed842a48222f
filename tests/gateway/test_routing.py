"""route() is pure: table-driven cases over inventories and wishes, asserting the reason."""

from __future__ import annotations

import pytest

from gateway.config import RoutingConfig
from gateway.errors import GatewayError, InvalidRequest, ModelNotFound, NoRoute
from gateway.inventory import BackendState, Inventory
from gateway.routing import Wish, route
from gateway.types import ModelInfo


def models(backend: str, *ids: str, loaded: tuple[str, ...] = ()) -> tuple[ModelInfo, ...]:
    return tuple(ModelInfo(i, backend, loaded=i in loaded) for i in ids)


def inventory(*states: BackendState) -> Inventory:
    return Inventory(states, taken_at=1.0)


OLLAMA = BackendState(
    "ollama", "ollama", "http://o", True, "", models("ollama", "gemma4:e4b", "gemma4:26b")
)
LMS_26B = "google/gemma-4-26b-a4b"
LMS = BackendState(
    "lmstudio", "openai", "http://l", True, "",
    models("lmstudio", LMS_26B, "google/gemma-4-31b", loaded=(LMS_26B,)),
)  # fmt: skip
DOWN = BackendState("ollama", "ollama", "http://o", False, "connection refused")
EMBEDDED = BackendState(
    "embedded", "openai", "http://e", True, "", models("embedded", "gemma-3-270m")
)
POLICY = RoutingConfig()

CASES = [
    # (name, inventory, wish, model, backend, reason)
    ("auto picks the default member", inventory(OLLAMA), Wish(), "gemma4:26b", "ollama", "default"),
    ("'gemma4' means auto", inventory(OLLAMA), Wish("gemma4"), "gemma4:26b", "ollama", "default"),
    ("auto prefers a loaded copy", inventory(OLLAMA, LMS), Wish("auto"),
     "google/gemma-4-26b-a4b", "lmstudio", "default"),
    ("auto without the default member takes the first model", inventory(EMBEDDED), Wish(),
     "gemma-3-270m", "embedded", "default"),
    ("auto skips a backend that is down", inventory(DOWN, EMBEDDED), Wish(),
     "gemma-3-270m", "embedded", "default"),
    ("an alias names a member", inventory(OLLAMA, LMS), Wish("gemma4-31b"),
     "google/gemma-4-31b", "lmstudio", "override"),
    ("an exact id", inventory(OLLAMA, LMS), Wish("gemma4:e4b"), "gemma4:e4b", "ollama", "override"),
    ("a pinned backend", inventory(OLLAMA, LMS), Wish("gemma4-26b-a4b", "ollama"),
     "gemma4:26b", "ollama", "override"),
    ("auto on a pinned backend", inventory(OLLAMA, EMBEDDED), Wish(None, "embedded"),
     "gemma-3-270m", "embedded", "default"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inv", "wish", "model", "backend", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_route(inv: Inventory, wish: Wish, model: str, backend: str, reason: str) -> None:
    decision = route(wish, inv, POLICY)
    assert (decision.model.id, decision.backend, decision.reason) == (model, backend, reason)
    assert decision.candidates[0] == decision.model


def test_default_model_is_configurable() -> None:
    decision = route(Wish(), inventory(OLLAMA), RoutingConfig(default_model="gemma4:e4b"))
    assert decision.model.id == "gemma4:e4b"


ERRORS = [
    ("nothing healthy", inventory(DOWN), Wish(), NoRoute, "connection refused"),
    ("no backends", inventory(), Wish(), NoRoute, "no backends configured"),
    ("unknown exact id", inventory(OLLAMA), Wish("llama3"), ModelNotFound, "gemma4:e4b"),
    ("missing member says how to get it", inventory(EMBEDDED), Wish("gemma4-e2b"), NoRoute,
     "ollama pull gemma4:e2b"),
    ("unknown pinned backend", inventory(OLLAMA), Wish(None, "gpu9"), InvalidRequest, "gpu9"),
    ("pinned backend down", inventory(DOWN, EMBEDDED), Wish(None, "ollama"), NoRoute,
     "unavailable"),
    ("model not on the pinned backend", inventory(OLLAMA, LMS), Wish("gemma4-31b", "ollama"),
     NoRoute, "on backend 'ollama'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inv", "wish", "error", "says"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_route_errors(inv: Inventory, wish: Wish, error: type[GatewayError], says: str) -> None:
    with pytest.raises(error) as err:
        route(wish, inv, POLICY)
    assert says in err.value.message
