"""Decision time of the pure router, in microseconds per call (not a test: run it).

    .venv/bin/python bench/bench_route.py

Inventories: the four members on one backend; a rack of 8 backends x 12 models with some
loaded; requests: short text, long text, audio, override, a refusal. Decisions reuse the
indexes a snapshot builds on its first request (as the server does until the next refresh);
the first decision on a new snapshot, which builds them, is timed apart. Also the cost of
preparing a text-only request (token estimate), which runs before every decision.
"""

from __future__ import annotations

import contextlib
import statistics
import timeit

from gateway.config import GatewayConfig, RoutingConfig
from gateway.core.catalogue import Catalogue
from gateway.core.errors import GatewayError
from gateway.core.inventory import BackendState, Inventory
from gateway.core.messages import ChatMessage
from gateway.core.model import Modality, ModelInfo
from gateway.core.prepare import prepare
from gateway.core.routing import Need, Wish, route
from preprocess.media import Text

CAT, POLICY = Catalogue(), RoutingConfig()
TAGS = ["gemma4:e2b", "gemma4:e4b", "gemma4:26b", "gemma4:31b"]


def backend(name: str, ids: list[str], loaded: set[str] = frozenset()) -> BackendState:  # type: ignore[assignment]
    models = tuple(CAT.resolve(ModelInfo(i, name, loaded=i in loaded)) for i in ids)
    return BackendState(name, "ollama", f"http://{name}", True, "", models)


SMALL = Inventory((backend("ollama", TAGS),), 1.0)
RACK = Inventory(
    tuple(
        backend(f"gpu{n}", [*TAGS, *(f"{t}-q{q}" for t in TAGS for q in (4, 8))], {TAGS[n % 4]})
        for n in range(8)
    ),
    1.0,
)
T, A = Modality.TEXT, Modality.AUDIO
CASES = {
    "short text, auto": (Need(frozenset({T}), 1_500), Wish()),
    "long text, auto": (Need(frozenset({T}), 90_000), Wish()),
    "audio, auto": (Need(frozenset({T, A}), 2_000), Wish()),
    "override by alias": (Need(frozenset({T}), 1_500), Wish("gemma4-31b")),
    "refused (too long)": (Need(frozenset({T}), 400_000), Wish()),
}


def per_call_us(fn: object, number: int = 2_000) -> float:
    runs = timeit.repeat(fn, number=number, repeat=5)  # type: ignore[arg-type]
    return min(runs) / number * 1e6


def decide(need: Need, wish: Wish, inventory: Inventory) -> None:
    with contextlib.suppress(GatewayError):
        route(need, wish, inventory, POLICY, CAT, {"gpu0": 2})


def main() -> None:
    print("| case | 1 backend x 4 models (µs) | 8 backends x 96 models (µs) |")
    print("|---|---|---|")
    for name, (need, wish) in CASES.items():
        small = per_call_us(lambda n=need, w=wish: decide(n, w, SMALL))
        rack = per_call_us(lambda n=need, w=wish: decide(n, w, RACK), number=500)
        print(f"| {name} | {small:.1f} | {rack:.1f} |")
    need, wish = CASES["short text, auto"]
    first = per_call_us(lambda: decide(need, wish, Inventory(RACK.backends, 1.0)), number=200)
    print(
        f"\nfirst short-text decision on a new rack snapshot (builds its indexes): {first:.0f} µs"
    )
    prose = "The gateway routes each request to the right member of the family. " * 40
    messages = [ChatMessage("system", [Text("Be brief.")]), ChatMessage("user", [Text(prose)])]
    config = GatewayConfig()
    cost = per_call_us(lambda: prepare(messages, None, config))
    print(f"\nprepare() of a {len(prose)}-character text request: {cost:.1f} µs")
    sizes = [len(b.models) for b in RACK.backends]
    print(f"(rack: {len(sizes)} backends, {statistics.mean(sizes):.0f} models each)")


if __name__ == "__main__":
    main()
