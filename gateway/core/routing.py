"""Which model on which backend serves a request: a pure function of its inputs.

`route()` reads only its arguments (no I/O, no logging, no clock), so every decision can be
replayed in a table-driven test and printed by `gateway route` exactly as the server makes
it. The policy, in order:

1. an override (header `X-Gateway-Model`, else a body `model` other than `auto`) is obeyed,
   or refused with a 400 if that model lacks a needed modality or window: never swapped;
2. audio -> E4B, else E2B, else the 12B (the members that hear; audio too long for the
   edge models' 128K windows thus reaches a 12B whose window holds it);
3. an estimate over `long_context_tokens` (always over 128K) -> 26B A4B, else 31B;
4. `X-Gateway-Prefer: speed` -> E4B/E2B, `quality` -> 31B, otherwise `default_model`.

Each rule names preferred members; every other capable model whose window holds the
estimate follows as a fallback, in `preference` order, non-family models last. Within a
member: the backend that served the conversation's previous turn (`Wish.affinity`), then
a backend with the model loaded with a window that holds the request (no swap, no
reload), then the least busy backend.

The per-model work (which models a pin, a name or a rule's order means, which can take the
modalities, their rank) is done once per snapshot and kind of request (`_Pool`, kept by
`Inventory.derived`); a decision then orders whole shelves (one rank on one host) by the
same keys, so it costs per host, not per model, and equals the plain sort exactly.

Embedding models (`ModelInfo.embedding`) are never chat candidates: naming one for chat is
a 400. `route_embedding()` picks among them alone: an explicit embedding model, or
EmbeddingGemma first, then any other, with the same loaded-then-least-busy tiebreak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.config import RoutingConfig
from gateway.core.catalogue import Catalogue
from gateway.core.errors import InvalidRequest, ModelNotFound, NoRoute
from gateway.core.family import (
    AUTO_ALIASES,
    D31B,
    EDGE,
    EMBEDDING_GEMMA,
    FAMILY,
    HEARING,
    LONG,
    can_take,
)
from gateway.core.inventory import Inventory
from gateway.core.model import Modality, ModelInfo

ALWAYS_LONG = 131072  # beyond the edge models' 128K window: the 256K members' work
NUM_CTX_LADDER = (8192, 16384, 32768, 65536, 131072, 262144)
PREFERENCES = ("speed", "balanced", "quality")


@dataclass(frozen=True, slots=True)
class Wish:
    """What the client asked for: model (header wins over body), backend pin, preference;
    and `affinity`, set by the pipeline, not the client: the backend that served this
    conversation's previous turn (its prompt prefix is in that host's cache)."""

    model: str | None = None
    backend: str | None = None
    prefer: str | None = None
    affinity: str | None = None


@dataclass(frozen=True, slots=True)
class Load:
    """What orders the hosts of one model: the conversation's host, then a host with the
    model loaded with a window that holds the request, then the fewest requests."""

    busy: Mapping[str, int]
    affinity: str | None = None
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Need:
    """What the request needs from a model: its modalities and its token estimate.

    `ollama_tokens` is the prompt as Ollama's truncation counts it, 768 per image or audio
    clip whatever they really cost (`server/prompt.go`): Ollama's `num_ctx` must hold that
    too, or Ollama silently drops the oldest messages.
    """

    modalities: frozenset[Modality] = frozenset({Modality.TEXT})
    tokens: int = 0
    ollama_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen model, why, the estimate it used, and the ordered candidates."""

    model: ModelInfo
    reason: str
    tokens: int
    candidates: tuple[ModelInfo, ...] = field(default=())
    ollama_tokens: int = 0

    @property
    def backend(self) -> str:
        return self.model.backend

    def num_ctx(self, model: ModelInfo) -> int:
        """Ollama's `options.num_ctx` for `model`: holds the estimate and Ollama's count."""
        return num_ctx(model, max(self.tokens, self.ollama_tokens))


class ContextTooLong(InvalidRequest):
    code = "context_length_exceeded"


def route(
    need: Need,
    wish: Wish,
    inventory: Inventory,
    policy: RoutingConfig,
    catalogue: Catalogue,
    busy: Mapping[str, int] | None = None,
) -> RouteDecision:
    """Pick the model for a request, or raise the error the client should see."""
    if wish.prefer is not None and wish.prefer not in PREFERENCES:
        raise InvalidRequest(
            f"X-Gateway-Prefer must be one of {', '.join(PREFERENCES)}, not {wish.prefer!r}",
            param="X-Gateway-Prefer",
        )
    load = Load(busy or {}, wish.affinity, need.tokens)
    name = (wish.model or "").strip()
    if name.lower() not in AUTO_ALIASES:
        _refuse_embedding_model(name, _named_on(inventory, wish.backend, name), catalogue)
        return _override(name, need, inventory, wish.backend, catalogue, load)
    preferred, reason = _rule(need, wish, policy)
    order = (*preferred, *(p for p in policy.preference if p not in preferred))
    pool = inventory.derived(
        ("auto", wish.backend, need.modalities, order),
        lambda: _Pool.of(_chat(_pinned(inventory, wish.backend)), need.modalities, order),
    )
    if not pool.capable:
        raise _nothing_capable(need, inventory, preferred)
    ranked = _ranked(pool, need, load)
    return RouteDecision(ranked[0], reason, need.tokens, ranked, need.ollama_tokens)


def _rule(need: Need, wish: Wish, policy: RoutingConfig) -> tuple[list[str], str]:
    if Modality.AUDIO in need.modalities:
        return list(HEARING), "audio"
    if need.tokens > min(policy.long_context_tokens, ALWAYS_LONG):
        return list(LONG), "long-context"
    if wish.prefer == "speed":
        return list(EDGE), "prefer-speed"
    if wish.prefer == "quality":
        return [D31B.alias], "prefer-quality"
    return [policy.default_model], "default"


def _override(
    name: str,
    need: Need,
    inventory: Inventory,
    backend: str | None,
    catalogue: Catalogue,
    load: Load,
) -> RouteDecision:
    pool = inventory.derived(
        ("override", backend, need.modalities, _name_key(inventory, name)),
        lambda: _Pool.of(_chat(_named_on(inventory, backend, name)), need.modalities, ()),
    )
    if not pool.models:
        raise _missing(name, inventory, backend, catalogue)
    if not pool.capable:
        found = pool.models
        lacking = sorted(need.modalities - found[0].takes - _video_as_stills(found[0]))
        able = sorted({m.id for m in _chat_models(inventory) if can_take(m.takes, need.modalities)})
        raise InvalidRequest(
            f"{name} cannot take {' and '.join(lacking)} input; models that can: "
            f"{', '.join(able) or 'none on the healthy backends'}. Remove the "
            f"{'/'.join(lacking)} parts or choose another model.",
            param="model",
            code="unsupported_modality",
        )
    ranked = _ranked(pool, need, load)
    return RouteDecision(ranked[0], "override", need.tokens, ranked, need.ollama_tokens)


def _video_as_stills(model: ModelInfo) -> frozenset[Modality]:
    return frozenset({Modality.VIDEO}) if Modality.IMAGE in model.takes else frozenset()


@dataclass(frozen=True, slots=True)
class _Shelf:
    """The capable models of one rank on one host, in inventory order, split into the
    loaded ones and the others; up to `simple_up_to` tokens every model fits and every
    loaded one is warm (`_warm`), so that split is the request's warm and cold."""

    models: tuple[ModelInfo, ...]
    loaded: tuple[ModelInfo, ...]
    unloaded: tuple[ModelInfo, ...]
    simple_up_to: int

    @classmethod
    def of(cls, models: list[ModelInfo]) -> _Shelf:
        loaded = tuple(m for m in models if m.loaded)
        unloaded = tuple(m for m in models if not m.loaded)
        windows = [m.window for m in models] + [m.loaded_context or m.window for m in loaded]
        return cls(tuple(models), loaded, unloaded, min(windows))

    def split(self, tokens: int) -> tuple[Sequence[ModelInfo], Sequence[ModelInfo]]:
        """The models whose window holds `tokens`: the warm ones, the cold ones."""
        if tokens <= self.simple_up_to:
            return self.loaded, self.unloaded
        fitting = [m for m in self.models if m.window >= tokens]
        warm = [m for m in fitting if _warm(m, tokens)]
        cold = [m for m in fitting if not _warm(m, tokens)]
        return warm, cold


@dataclass(frozen=True, slots=True)
class _Pool:
    """What routing needs of one snapshot for one kind of request (backend pin, modalities,
    preference order or named model), built once per snapshot by `Inventory.derived`: the
    models considered, those capable, the largest window among them, and the capable ones
    cut by rank (the `order` they match first) then by host: every model on one shelf
    shares the sort key of `_rank` and `_tiebreak` but for warmth and fit."""

    models: tuple[ModelInfo, ...]
    capable: tuple[ModelInfo, ...]
    largest: ModelInfo | None
    hosts: tuple[str, ...]  # in inventory order
    ranks: tuple[dict[str, _Shelf], ...]  # best rank first; host -> shelf
    simple_up_to: int  # up to this estimate every shelf's split is its loaded and the rest
    # The ranking of a request within `simple_up_to`, by its hosts' order and tiers: it then
    # depends on nothing else. At most MAX_ORDERS; the snapshot's next refresh drops them.
    orders: dict[tuple[tuple[str, ...], bool], tuple[ModelInfo, ...]]

    @classmethod
    def of(
        cls, models: list[ModelInfo], modalities: frozenset[Modality], order: Sequence[str]
    ) -> _Pool:
        capable = [m for m in models if can_take(m.takes, modalities)]
        shelves: dict[int, dict[str, list[ModelInfo]]] = {}
        for m in capable:
            shelves.setdefault(_rank(m, order), {}).setdefault(m.backend, []).append(m)
        ranks = tuple(
            {host: _Shelf.of(on) for host, on in shelves[rank].items()} for rank in sorted(shelves)
        )
        largest = max(capable, key=lambda m: m.window, default=None)
        hosts = tuple(dict.fromkeys(m.backend for m in capable))
        simple = min((s.simple_up_to for r in ranks for s in r.values()), default=0)
        return cls(tuple(models), tuple(capable), largest, hosts, ranks, simple, {})


MAX_ORDERS = 64  # rankings a pool keeps (each a tuple of its capable models)


def _ranked(pool: _Pool, need: Need, load: Load) -> tuple[ModelInfo, ...]:
    """The capable models whose window holds the estimate, in the order of
    `sorted(fitting, key=lambda m: (_rank(m, order), *_tiebreak(m, load)))`, taken a shelf
    at a time: hosts ordered once (the conversation's host, then the idlest), and within a
    rank, the warm models of a host tier before its cold ones. Most requests fit every
    model: their ranking is kept on the pool by host order and made once."""
    largest = pool.largest
    assert largest is not None  # the callers refuse a pool with no capable model first
    if largest.window < need.tokens:
        raise _too_long(largest, need)
    hosts = tuple(sorted(pool.hosts, key=lambda h: (h != load.affinity, load.busy.get(h, 0))))
    affine = load.affinity in pool.hosts
    if load.tokens > pool.simple_up_to:
        return _walk(pool, hosts, affine, load.tokens)
    if (ranked := pool.orders.get((hosts, affine))) is None:
        if len(pool.orders) >= MAX_ORDERS:
            pool.orders.clear()
        ranked = pool.orders[hosts, affine] = _walk(pool, hosts, affine, load.tokens)
    return ranked


def _walk(
    pool: _Pool, hosts: tuple[str, ...], affine: bool, tokens: int
) -> tuple[ModelInfo, ...]:
    tiers = [hosts[:1], hosts[1:]] if affine else [hosts]
    ranked: list[ModelInfo] = []
    for shelves in pool.ranks:
        for tier in tiers:
            warm: list[ModelInfo] = []
            cold: list[ModelInfo] = []
            for host in tier:
                if shelf := shelves.get(host):
                    hot, rest = shelf.split(tokens)
                    warm += hot
                    cold += rest
            ranked += warm
            ranked += cold
    return tuple(ranked)


def _too_long(largest: ModelInfo, need: Need) -> ContextTooLong:
    return ContextTooLong(
        f"the request needs about {need.tokens} tokens (prompt, media and reserved "
        f"output) but the largest window that can take it is {largest.window} "
        f"({_window_of(largest)}); shorten the conversation, send less media, or lower "
        "max_tokens",
        param="messages",
    )


def _window_of(model: ModelInfo) -> str:
    """Whose window it is, and whether it is the context the model is loaded with (LM Studio
    serves a loaded model at that context and no more)."""
    loaded = model.loaded and model.loaded_context == model.window
    return f"{model.id} on {model.backend}{', as loaded' if loaded else ''}"


def _rank(model: ModelInfo, order: Sequence[str]) -> int:
    for i, name in enumerate(order):
        if model.member == name or model.id == name:
            return i
    return len(order)  # capable, but nobody asked for it: last


def _tiebreak(model: ModelInfo, load: Load) -> tuple[bool, bool, int]:
    """The conversation's own host first (its prefix is cached there); then a host where the
    model is loaded with a window that holds the request (no load, no reload for a larger
    context: seconds to minutes); then the idlest."""
    warm = _warm(model, load.tokens)
    return (model.backend != load.affinity, not warm, load.busy.get(model.backend, 0))


def _warm(model: ModelInfo, tokens: int) -> bool:
    return model.loaded and (model.loaded_context or model.window) >= tokens


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


def _named_on(inventory: Inventory, backend: str | None, name: str) -> list[ModelInfo]:
    """`_named` over the models `backend` pins (every healthy one without a pin), found once
    per snapshot for each name that means something here (`_name_key`)."""
    key = ("named", backend, _name_key(inventory, name))
    return list(inventory.derived(key, lambda: tuple(_named(name, _pinned(inventory, backend)))))


def _name_key(inventory: Inventory, name: str) -> tuple[str | None, str | None]:
    """What `_named` matches a name by: the exact id and the lowercased member, each kept
    only when the snapshot has it (so unknown names share one key and the cache stays
    bounded)."""
    ids, members = inventory.derived("names", lambda: _names(inventory))
    return (name if name in ids else None, name.lower() if name.lower() in members else None)


def _names(inventory: Inventory) -> tuple[frozenset[str], frozenset[str]]:
    models = inventory.models()
    return frozenset(m.id for m in models), frozenset(m.member for m in models if m.member)


def _named(name: str, models: list[ModelInfo]) -> list[ModelInfo]:
    """Models a name means: a member alias by member, anything else by exact id."""
    key = name.lower()
    return [m for m in models if m.id == name or (m.member is not None and m.member == key)]


def _nothing_capable(need: Need, inventory: Inventory, preferred: list[str]) -> NoRoute:
    if not inventory.models():
        return NoRoute(
            "no backend has a model to serve this request: " + inventory.why_not_ready()
            + ". Start Ollama or LM Studio with a Gemma 4 model (e.g. `ollama pull gemma4:e4b`),"
            " or run `gateway up --embedded`."
        )  # fmt: skip
    would = [m for m in FAMILY if can_take(m.inputs, need.modalities)]
    would.sort(key=lambda m: m.alias not in preferred)
    kinds = " and ".join(sorted(need.modalities))
    return NoRoute(
        f"no available model takes {kinds} input; "
        + "; ".join(f"{m.alias}: {m.how_to_get}" for m in would)
    )


def _missing(
    name: str, inventory: Inventory, backend: str | None, catalogue: Catalogue
) -> NoRoute | ModelNotFound:
    member = catalogue.member(name)
    where = f"on backend {backend!r}" if backend else "on any healthy backend"
    if member is not None:
        return NoRoute(f"no {member.alias} model {where}; get one with {member.how_to_get}")
    if down := [b for b in inventory.backends if not b.healthy and backend in (None, b.name)]:
        # It may well be on a backend that is down: say so rather than "no such model".
        why = "; ".join(f"{b.name}: {b.detail}" for b in down)
        return NoRoute(f"model {name!r} is not {where}; unavailable backends: {why}")
    listing = _listing(m.id for m in _chat_models(inventory))
    return ModelNotFound(
        f"model {name!r} is not {where}. Use `auto`, a family alias "
        f"({', '.join(m.alias for m in FAMILY)}) or one of: {listing}",
        param="model",
    )


def _listing(ids: Iterable[str]) -> str:
    known = sorted(set(ids))
    return ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") if known else "none"


def _chat_models(inventory: Inventory) -> list[ModelInfo]:
    return _chat(inventory.models())


def _chat(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    return [m for m in models if not m.embedding]


def _refuse_embedding_model(name: str, named: list[ModelInfo], catalogue: Catalogue) -> None:
    """Chat naming an embedding model (by id, or an embedding member's alias): a 400."""
    member = catalogue.member(name)
    if (member is not None and member.embedding) or (named and all(m.embedding for m in named)):
        raise InvalidRequest(
            f"{name} is an embedding model: it makes embeddings, not chat. Send it to the "
            "embeddings API, or choose a chat model: `auto`, a family alias "
            f"({', '.join(m.alias for m in FAMILY)}) or a model the gateway lists",
            param="model",
            code="model_not_supported",
        )


# --- embeddings -------------------------------------------------------------------------

EMBEDDING_AUTO = AUTO_ALIASES | {EMBEDDING_GEMMA.alias}


def route_embedding(
    wish: Wish,
    inventory: Inventory,
    catalogue: Catalogue,
    busy: Mapping[str, int] | None = None,
) -> RouteDecision:
    """Pick the embedding model for an embeddings request, or raise the error to show.

    An explicit model (not `auto`) must be an embedding model on a healthy backend (404 when
    nobody has it, 400 when it makes chat, not embeddings); `auto` or `embeddinggemma` take
    EmbeddingGemma first, then any other embedding model. Within that: loaded first, then
    the least busy backend. `wish.prefer` means nothing here.
    """
    models = _pinned(inventory, wish.backend)
    load = Load(busy or {}, wish.affinity)
    name = (wish.model or "").strip()
    embedders = [m for m in models if m.embedding]
    if name.lower() in EMBEDDING_AUTO:
        if not embedders:
            raise _no_embedder(inventory, wish.backend)
        ranked = sorted(
            embedders,
            key=lambda m: (m.member != EMBEDDING_GEMMA.alias, *_tiebreak(m, load)),
        )
        return RouteDecision(ranked[0], "embedding", 0, tuple(ranked))
    found = _named(name, models)
    if not found:
        raise _missing_embedder(name, inventory, wish.backend, catalogue)
    chosen = [m for m in found if m.embedding]
    if not chosen:
        raise InvalidRequest(
            f"{name} is not an embedding model; embedding models here: "
            f"{_listing(m.id for m in inventory.models() if m.embedding)}",
            param="model",
            code="model_not_supported",
        )
    ranked = sorted(chosen, key=lambda m: _tiebreak(m, load))
    return RouteDecision(ranked[0], "override", 0, tuple(ranked))


def _no_embedder(inventory: Inventory, backend: str | None) -> NoRoute:
    where = f"on backend {backend!r}" if backend else "on any healthy backend"
    down = "; ".join(f"{b.name}: {b.detail}" for b in inventory.backends if not b.healthy)
    return NoRoute(
        f"no embedding model {where}{f' (unavailable backends: {down})' if down else ''}; "
        f"get EmbeddingGemma with {EMBEDDING_GEMMA.how_to_get}"
    )


def _missing_embedder(
    name: str, inventory: Inventory, backend: str | None, catalogue: Catalogue
) -> NoRoute | ModelNotFound:
    member = catalogue.member(name)
    where = f"on backend {backend!r}" if backend else "on any healthy backend"
    if member is not None and member.embedding:
        return NoRoute(f"no {member.alias} model {where}; get one with {member.how_to_get}")
    if down := [b for b in inventory.backends if not b.healthy and backend in (None, b.name)]:
        why = "; ".join(f"{b.name}: {b.detail}" for b in down)
        return NoRoute(f"model {name!r} is not {where}; unavailable backends: {why}")
    return ModelNotFound(
        f"model {name!r} is not {where}. Use `auto` or one of the embedding models: "
        f"{_listing(m.id for m in inventory.models() if m.embedding)}",
        param="model",
    )


def num_ctx(model: ModelInfo, tokens: int) -> int:
    """Ollama's context for this request: keep the loaded one when it is large enough
    (another value makes Ollama reload the model), else the smallest ladder step that holds
    the estimate; never above the model's window.

    >>> num_ctx(ModelInfo("m", "b", context=131072), 20000)
    32768
    >>> num_ctx(ModelInfo("m", "b", context=131072, loaded=True, loaded_context=65536), 20000)
    65536
    """
    if model.loaded and model.loaded_context and model.loaded_context >= tokens:
        return model.loaded_context
    step = next((s for s in NUM_CTX_LADDER if s >= tokens), NUM_CTX_LADDER[-1])
    return min(step, model.window) if model.window else step
