"""route() is pure: table-driven cases over inventories x requests, asserting model and reason;
then property tests (hypothesis) for the promises users rely on."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ModelEntry, RoutingConfig
from gateway.core.catalogue import Catalogue
from gateway.core.errors import GatewayError, InvalidRequest, ModelNotFound, NoRoute
from gateway.core.family import can_take
from gateway.core.inventory import BackendState, Inventory
from gateway.core.model import Modality, ModelInfo
from gateway.core.routing import (
    MAX_ORDERS,
    ContextTooLong,
    Need,
    Wish,
    num_ctx,
    route,
    route_embedding,
)

T, IMG, A, V = Modality.TEXT, Modality.IMAGE, Modality.AUDIO, Modality.VIDEO
CAT = Catalogue()
POLICY = RoutingConfig()
VLM = frozenset({T, IMG})  # what LM Studio reports for a vision model (it never says audio)


def state(
    name: str, *models: ModelInfo, healthy: bool = True, kind: str = "ollama"
) -> BackendState:
    resolved = tuple(CAT.resolve(ModelInfo(**{**_fields(m), "backend": name})) for m in models)
    return BackendState(
        name, kind, f"http://{name}", healthy, "" if healthy else "refused", resolved
    )


def _fields(m: ModelInfo) -> dict[str, object]:
    return {f: getattr(m, f) for f in m.__slots__}  # type: ignore[attr-defined]


def m(model_id: str, **kw: object) -> ModelInfo:
    return ModelInfo(model_id, "", **kw)  # type: ignore[arg-type]


def inv(*states: BackendState) -> Inventory:
    return Inventory(states, taken_at=1.0)


OLLAMA_FULL = state("ollama", m("gemma4:e2b"), m("gemma4:e4b"), m("gemma4:26b"), m("gemma4:31b"))
FULL = inv(OLLAMA_FULL)
EDGE = inv(state("ollama", m("gemma4:e2b"), m("gemma4:e4b")))
E2B_ONLY = inv(state("ollama", m("gemma4:e2b")))
ONLY_26B = inv(state("lms", m("google/gemma-4-26b-a4b", inputs=VLM), kind="openai"))
SPLIT = inv(
    state("ollama", m("gemma4:e4b"), m("gemma4:e2b")),
    state("lms", m("google/gemma-4-26b-a4b", inputs=VLM), m("google/gemma-4-31b", inputs=VLM),
          kind="openai"),
)  # fmt: skip
ONE_DOWN = inv(
    state("ollama", healthy=False),
    state("lms", m("google/gemma-4-26b-a4b", inputs=VLM), m("google/gemma-4-31b", inputs=VLM),
          kind="openai"),
)  # fmt: skip
LOADED = inv(
    OLLAMA_FULL,
    state("lms", m("google/gemma-4-26b-a4b", inputs=VLM, loaded=True, loaded_context=8192),
          m("google/gemma-4-e4b", inputs=VLM, loaded=True), kind="openai"),
)  # fmt: skip
# LM Studio has E4B but cannot pass it audio; Ollama's E2B hears.
LMS_E4B_OLLAMA_E2B = inv(
    state("lms", m("google/gemma-4-e4b", inputs=VLM), kind="openai"),
    state("ollama", m("gemma4:e2b")),
)
# The 12B (June 2026) hears; Ollama reports its window (read from the backend).
WITH_12B = inv(state("ollama", m("gemma4:e2b"), m("gemma4:e4b"), m("gemma4:12b", context=262144),
                     m("gemma4:26b"), m("gemma4:31b")))  # fmt: skip
ONLY_12B = inv(state("ollama", m("gemma4:12b", context=262144)))
EMBEDDED = inv(state("embedded", m("gemma-3-270m"), kind="openai"))
FULL_AND_EMBEDDED = inv(OLLAMA_FULL, state("embedded", m("gemma-3-270m"), kind="openai"))
# Embedding models beside chat models: Ollama says so by capability, LM Studio by type, and
# EmbeddingGemma is one by the family table whatever its backend says.
NOMIC = "text-embedding-nomic-embed-text-v1.5"
WITH_EMBEDDERS = inv(
    state("ollama", m("gemma4:e4b"), m("embeddinggemma:300m", embedding=True)),
    state("lms", m("google/gemma-4-26b-a4b", inputs=VLM), m(NOMIC, embedding=True),
          m("text-embedding-embeddinggemma-300m"), kind="openai"),
)  # fmt: skip
ONLY_EMBEDDERS = inv(state("ollama", m("embeddinggemma"), m("nomic-embed-text", embedding=True)))
NOMIC_ONLY = inv(state("lms", m(NOMIC, embedding=True), kind="openai"))

TEXT = Need(frozenset({T}), 500)
LONG = Need(frozenset({T}), 50_000)
HUGE = Need(frozenset({T}), 200_000)  # over the edge models' 128K
IMAGE = Need(frozenset({T, IMG}), 1_800)
AUDIO = Need(frozenset({T, A}), 2_000)
AUDIO_ONLY = Need(frozenset({A}), 1_000)
VIDEO = Need(frozenset({T, V}), 17_000)
MIXED = Need(frozenset({T, IMG, A}), 3_000)
LONG_VIDEO = Need(frozenset({T, V}), 40_000)
AUDIO_LONG = Need(frozenset({T, A}), 60_000)  # long, but only the edge models can hear
AUDIO_HUGE = Need(frozenset({T, A}), 140_000)  # over the edge models' 128K windows

CASES = [
    # (case, inventory, need, wish, model, reason)
    ("text -> default member", FULL, TEXT, Wish(), "gemma4:26b", "default"),
    ("'gemma4' is auto", FULL, TEXT, Wish("gemma4"), "gemma4:26b", "default"),
    ("image -> default member", FULL, IMAGE, Wish(), "gemma4:26b", "default"),
    ("video -> default member (stills)", FULL, VIDEO, Wish(), "gemma4:26b", "default"),
    ("audio -> E4B", FULL, AUDIO, Wish(), "gemma4:e4b", "audio"),
    ("audio only -> E4B", FULL, AUDIO_ONLY, Wish(), "gemma4:e4b", "audio"),
    ("audio + image -> E4B", FULL, MIXED, Wish(), "gemma4:e4b", "audio"),
    ("audio beats prefer quality", FULL, AUDIO, Wish(prefer="quality"), "gemma4:e4b", "audio"),
    ("audio, long -> still E4B", FULL, AUDIO_LONG, Wish(), "gemma4:e4b", "audio"),
    ("long -> 26B", FULL, LONG, Wish(), "gemma4:26b", "long-context"),
    ("huge -> 26B", FULL, HUGE, Wish(), "gemma4:26b", "long-context"),
    ("long video -> 26B", FULL, LONG_VIDEO, Wish(), "gemma4:26b", "long-context"),
    ("long beats prefer speed", FULL, LONG, Wish(prefer="speed"), "gemma4:26b", "long-context"),
    ("prefer speed -> E4B", FULL, TEXT, Wish(prefer="speed"), "gemma4:e4b", "prefer-speed"),
    ("prefer quality -> 31B", FULL, TEXT, Wish(prefer="quality"), "gemma4:31b", "prefer-quality"),
    ("prefer balanced -> default", FULL, TEXT, Wish(prefer="balanced"), "gemma4:26b", "default"),
    ("edge only: text -> E4B", EDGE, TEXT, Wish(), "gemma4:e4b", "default"),
    ("edge only: long (fits 128K) -> E4B", EDGE, LONG, Wish(), "gemma4:e4b", "long-context"),
    ("edge only: audio -> E4B", EDGE, AUDIO, Wish(), "gemma4:e4b", "audio"),
    ("E2B only: audio -> E2B", E2B_ONLY, AUDIO, Wish(), "gemma4:e2b", "audio"),
    ("E2B only: prefer quality -> E2B", E2B_ONLY, TEXT, Wish(prefer="quality"), "gemma4:e2b",
     "prefer-quality"),
    ("26B only: text", ONLY_26B, TEXT, Wish(), "google/gemma-4-26b-a4b", "default"),
    ("26B only: image", ONLY_26B, IMAGE, Wish(), "google/gemma-4-26b-a4b", "default"),
    ("26B only: huge", ONLY_26B, HUGE, Wish(), "google/gemma-4-26b-a4b", "long-context"),
    ("26B only: prefer speed falls back", ONLY_26B, TEXT, Wish(prefer="speed"),
     "google/gemma-4-26b-a4b", "prefer-speed"),
    ("split: audio -> Ollama E4B", SPLIT, AUDIO, Wish(), "gemma4:e4b", "audio"),
    ("split: text -> LM Studio 26B", SPLIT, TEXT, Wish(), "google/gemma-4-26b-a4b", "default"),
    ("split: quality -> LM Studio 31B", SPLIT, TEXT, Wish(prefer="quality"),
     "google/gemma-4-31b", "prefer-quality"),
    ("split: speed -> Ollama E4B", SPLIT, TEXT, Wish(prefer="speed"), "gemma4:e4b",
     "prefer-speed"),
    ("split: pinned to ollama", SPLIT, TEXT, Wish(backend="ollama"), "gemma4:e4b", "default"),
    ("one down: text on the other", ONE_DOWN, TEXT, Wish(), "google/gemma-4-26b-a4b", "default"),
    ("one down: huge", ONE_DOWN, HUGE, Wish(), "google/gemma-4-26b-a4b", "long-context"),
    ("loaded copy preferred", LOADED, TEXT, Wish(), "google/gemma-4-26b-a4b", "default"),
    ("loaded copy preferred for an alias", LOADED, TEXT, Wish("gemma4-26b-a4b"),
     "google/gemma-4-26b-a4b", "override"),
    ("LM Studio E4B cannot hear: Ollama E2B", LMS_E4B_OLLAMA_E2B, AUDIO, Wish(), "gemma4:e2b",
     "audio"),
    ("12B: plain audio stays on E4B", WITH_12B, AUDIO, Wish(), "gemma4:e4b", "audio"),
    ("12B: audio over 128K goes to the 12B", WITH_12B, AUDIO_HUGE, Wish(), "gemma4:12b",
     "audio"),
    ("12B only: audio", ONLY_12B, AUDIO, Wish(), "gemma4:12b", "audio"),
    ("12B: text still to the default", WITH_12B, TEXT, Wish(), "gemma4:26b", "default"),
    ("12B by alias", WITH_12B, TEXT, Wish("gemma4-12b"), "gemma4:12b", "override"),
    ("12B before the edge models as a fallback", inv(state("o", m("gemma4:e4b"),
     m("gemma4:12b", context=262144))), TEXT, Wish(), "gemma4:12b", "default"),
    ("non-family model when nothing else", EMBEDDED, TEXT, Wish(), "gemma-3-270m", "default"),
    ("family before non-family", FULL_AND_EMBEDDED, TEXT, Wish(prefer="speed"), "gemma4:e4b",
     "prefer-speed"),
    ("override: alias", FULL, TEXT, Wish("gemma4-31b"), "gemma4:31b", "override"),
    ("override: exact id", FULL, TEXT, Wish("gemma4:e2b"), "gemma4:e2b", "override"),
    ("override: audio to an edge model", FULL, AUDIO, Wish("gemma4-e2b"), "gemma4:e2b",
     "override"),
    ("override: long to E4B within 128K", FULL, LONG, Wish("gemma4-e4b"), "gemma4:e4b",
     "override"),
    ("override: non-family id", FULL_AND_EMBEDDED, TEXT, Wish("gemma-3-270m"), "gemma-3-270m",
     "override"),
    ("override on a pinned backend", SPLIT, IMAGE, Wish("gemma4-26b-a4b", backend="lms"),
     "google/gemma-4-26b-a4b", "override"),
    ("embedding models are no chat candidates", WITH_EMBEDDERS, TEXT, Wish(),
     "google/gemma-4-26b-a4b", "default"),
    ("embedding models are no fallbacks either", WITH_EMBEDDERS, TEXT, Wish(prefer="speed"),
     "gemma4:e4b", "prefer-speed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inventory", "need", "wish", "model", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_route(inventory: Inventory, need: Need, wish: Wish, model: str, reason: str) -> None:
    decision = route(need, wish, inventory, POLICY, CAT)
    assert (decision.model.id, decision.reason) == (model, reason)
    assert decision.candidates[0] == decision.model
    assert decision.tokens == need.tokens


ERRORS = [
    # (case, inventory, need, wish, error, message fragment)
    ("audio, no edge model: 503 says how", ONLY_26B, AUDIO, Wish(), NoRoute,
     "ollama pull gemma4:e4b"),
    ("audio to LM Studio's E4B only", inv(state("lms", m("google/gemma-4-e4b", inputs=VLM),
     kind="openai")), AUDIO, Wish(), NoRoute, "gemma4-e4b"),
    ("huge with edge only: context exceeded", EDGE, HUGE, Wish(), ContextTooLong, "131072"),
    ("too long for anything", FULL, Need(frozenset({T}), 300_000), Wish(), ContextTooLong,
     "262144"),
    ("audio over 128K, no 12B", FULL, AUDIO_HUGE, Wish(), ContextTooLong,
     "131072 (gemma4:e2b on ollama)"),
    ("too long for the 12B too", WITH_12B, Need(frozenset({T, A}), 300_000), Wish(),
     ContextTooLong, "262144 (gemma4:12b on ollama)"),
    ("LM Studio loaded at 4096: named as loaded", inv(state("lms", m(
     "google/gemma-4-26b-a4b", inputs=VLM, context=4096, loaded=True, loaded_context=4096),
     kind="openai")), Need(frozenset({T}), 12_000), Wish(), ContextTooLong, "4096 ("
     "google/gemma-4-26b-a4b on lms, as loaded)"),
    ("override lacks audio: 400 names it", FULL, AUDIO, Wish("gemma4-26b-a4b"), InvalidRequest,
     "cannot take audio"),
    ("override lacks audio, names who can", FULL, AUDIO, Wish("gemma4:31b"), InvalidRequest,
     "gemma4:e4b"),
    ("override lacks image", EMBEDDED, IMAGE, Wish("gemma-3-270m"), InvalidRequest,
     "cannot take image"),
    ("override window too small", FULL, HUGE, Wish("gemma4-e4b"), ContextTooLong, "131072"),
    ("override of a member nobody has", EDGE, TEXT, Wish("gemma4-31b"), NoRoute,
     "ollama pull gemma4:31b"),
    ("unknown exact id: 404 lists models", FULL, TEXT, Wish("llama3"), ModelNotFound,
     "gemma4:e4b"),
    ("unknown id while a backend is down: 503", ONE_DOWN, TEXT, Wish("llama3"), NoRoute,
     "refused"),
    ("nothing healthy", inv(state("ollama", healthy=False)), TEXT, Wish(), NoRoute, "refused"),
    ("no backends", inv(), TEXT, Wish(), NoRoute, "no backends configured"),
    ("unknown pinned backend", FULL, TEXT, Wish(backend="gpu9"), InvalidRequest, "gpu9"),
    ("pinned backend down", ONE_DOWN, TEXT, Wish(backend="ollama"), NoRoute, "unavailable"),
    ("bad prefer value", FULL, TEXT, Wish(prefer="fast"), InvalidRequest, "speed, balanced"),
    ("image to a text-only inventory", EMBEDDED, IMAGE, Wish(), NoRoute, "image"),
    ("chat naming an embedding model by id: 400", WITH_EMBEDDERS, TEXT, Wish(NOMIC),
     InvalidRequest, "is an embedding model"),
    ("chat naming embeddinggemma: 400", WITH_EMBEDDERS, TEXT, Wish("embeddinggemma"),
     InvalidRequest, "is an embedding model"),
    ("chat naming embeddinggemma nobody has: 400", FULL, TEXT, Wish("embeddinggemma"),
     InvalidRequest, "is an embedding model"),
    ("only embedding models: no chat", ONLY_EMBEDDERS, TEXT, Wish(), NoRoute, "gemma4-e4b"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inventory", "need", "wish", "error", "says"),
    [c[1:] for c in ERRORS],
    ids=[c[0] for c in ERRORS],
)
def test_route_errors(
    inventory: Inventory, need: Need, wish: Wish, error: type[GatewayError], says: str
) -> None:
    with pytest.raises(error) as err:
        route(need, wish, inventory, POLICY, CAT)
    assert says in err.value.message


EMBED_CASES = [
    # (case, inventory, wish, model, reason, candidates)
    ("auto -> EmbeddingGemma first", WITH_EMBEDDERS, Wish(), "embeddinggemma:300m", "embedding",
     ["embeddinggemma:300m", "text-embedding-embeddinggemma-300m", NOMIC]),
    ("'embeddinggemma' is auto", WITH_EMBEDDERS, Wish("embeddinggemma"), "embeddinggemma:300m",
     "embedding", ["embeddinggemma:300m", "text-embedding-embeddinggemma-300m", NOMIC]),
    ("'embeddinggemma' without one: any embedder", NOMIC_ONLY, Wish("embeddinggemma"), NOMIC,
     "embedding", [NOMIC]),
    ("pinned to LM Studio", WITH_EMBEDDERS, Wish(backend="lms"),
     "text-embedding-embeddinggemma-300m", "embedding",
     ["text-embedding-embeddinggemma-300m", NOMIC]),
    ("explicit id", WITH_EMBEDDERS, Wish(NOMIC), NOMIC, "override", [NOMIC]),
    ("the member resolves without the backend saying", ONLY_EMBEDDERS, Wish(), "embeddinggemma",
     "embedding", ["embeddinggemma", "nomic-embed-text"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inventory", "wish", "model", "reason", "candidates"),
    [c[1:] for c in EMBED_CASES],
    ids=[c[0] for c in EMBED_CASES],
)
def test_route_embedding(
    inventory: Inventory, wish: Wish, model: str, reason: str, candidates: list[str]
) -> None:
    decision = route_embedding(wish, inventory, CAT)
    assert (decision.model.id, decision.reason) == (model, reason)
    assert [c.id for c in decision.candidates] == candidates
    assert all(c.embedding for c in decision.candidates)


EMBED_ERRORS = [
    ("a chat model named: 400 lists embedders", WITH_EMBEDDERS, Wish("gemma4:e4b"),
     InvalidRequest, f"not an embedding model; embedding models here: embeddinggemma:300m, "
     f"text-embedding-embeddinggemma-300m, {NOMIC}"),
    ("a chat alias named: 400", WITH_EMBEDDERS, Wish("gemma4-26b-a4b"), InvalidRequest,
     "not an embedding model"),
    ("unknown id: 404", WITH_EMBEDDERS, Wish("bge-m3"), ModelNotFound, NOMIC),
    ("unknown id while a backend is down: 503", ONE_DOWN, Wish("bge-m3"), NoRoute, "refused"),
    ("no embedding model: 503 says how", FULL, Wish(), NoRoute, "`ollama pull embeddinggemma`"),
    ("nothing healthy: 503 says why", inv(state("ollama", healthy=False)), Wish(), NoRoute,
     "refused"),
    ("pinned to a backend without one", WITH_EMBEDDERS, Wish(backend="nope"), InvalidRequest,
     "no backend named"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inventory", "wish", "error", "says"),
    [c[1:] for c in EMBED_ERRORS],
    ids=[c[0] for c in EMBED_ERRORS],
)
def test_route_embedding_errors(
    inventory: Inventory, wish: Wish, error: type[GatewayError], says: str
) -> None:
    with pytest.raises(error) as err:
        route_embedding(wish, inventory, CAT)
    assert says in err.value.message


def test_route_embedding_prefers_loaded_then_idle() -> None:
    two = inv(state("a", m("embeddinggemma")), state("b", m("embeddinggemma")))
    assert route_embedding(Wish(), two, CAT, busy={"a": 2, "b": 1}).backend == "b"
    warm = inv(state("a", m("embeddinggemma")), state("b", m("embeddinggemma", loaded=True)))
    assert route_embedding(Wish(), warm, CAT, busy={"b": 5}).backend == "b"


def test_embeddinggemma_resolves_as_an_embedding_model() -> None:
    for model_id in ("embeddinggemma", "embeddinggemma:300m", "google/embeddinggemma-300m",
                     "text-embedding-embeddinggemma-300m-qat"):  # fmt: skip
        info = CAT.resolve(ModelInfo(model_id, "b"))
        assert (info.member, info.embedding, info.takes, info.context) == (
            "embeddinggemma", True, frozenset({T}), 2048
        )  # fmt: skip
    assert not CAT.resolve(ModelInfo("gemma4:e4b", "b")).embedding
    custom = Catalogue([ModelEntry(match="bge-*", member="bge", modalities=["text"],
                                   context=8192, embedding=True)])  # fmt: skip
    assert custom.resolve(ModelInfo("bge-m3", "b")).embedding


def test_candidates_are_ordered_fallbacks() -> None:
    decision = route(TEXT, Wish(), FULL_AND_EMBEDDED, POLICY, CAT)
    assert [c.id for c in decision.candidates] == [
        "gemma4:26b", "gemma4:31b", "gemma4:e4b", "gemma4:e2b", "gemma-3-270m"
    ]  # fmt: skip


def test_least_busy_backend_wins_among_equals() -> None:
    two = inv(state("a", m("gemma4:26b")), state("b", m("gemma4:26b")))
    assert route(TEXT, Wish(), two, POLICY, CAT, busy={"a": 3, "b": 1}).backend == "b"
    assert route(TEXT, Wish(), two, POLICY, CAT, busy={"a": 0, "b": 1}).backend == "a"


def test_policy_is_configurable() -> None:
    policy = RoutingConfig(default_model="gemma4-e2b", long_context_tokens=1_000)
    assert route(TEXT, Wish(), FULL, policy, CAT).model.id == "gemma4:e2b"
    assert route(Need(frozenset({T}), 2_000), Wish(), FULL, policy, CAT).reason == "long-context"
    # never above 128K, whatever the threshold says
    high = RoutingConfig(long_context_tokens=10**6)
    assert route(HUGE, Wish(), FULL, high, CAT).reason == "long-context"


def test_config_models_entries_refine_the_catalogue() -> None:
    cat = Catalogue([
        ModelEntry(match="*my-gemma-ft*", member="gemma4-26b-a4b"),
        ModelEntry(match="qwen*", member="qwen", modalities=["text", "image"], context=32768),
        ModelEntry(match="gemma4:e4b", member="gemma4-e4b", context=65536),
    ])  # fmt: skip
    ft = cat.resolve(ModelInfo("org/my-gemma-ft-v2", "b"))
    assert (ft.member, ft.context) == ("gemma4-26b-a4b", 262144)
    qwen = cat.resolve(ModelInfo("qwen2-vl", "b"))
    assert (qwen.member, qwen.inputs, qwen.context) == ("qwen", VLM, 32768)
    e4b = cat.resolve(ModelInfo("gemma4:e4b", "b", context=131072))
    assert e4b.context == 65536  # the user's word beats the backend's
    inventory = inv(BackendState("b", "openai", "http://b", True, "", (qwen,)))
    assert route(IMAGE, Wish("qwen"), inventory, POLICY, cat).model.id == "qwen2-vl"


def test_backend_reports_beat_the_catalogue() -> None:
    # LM Studio lists E4B as a vlm: no audio, whatever the family table says.
    assert CAT.resolve(ModelInfo("google/gemma-4-e4b", "b", inputs=VLM)).inputs == VLM
    # A bare /v1/models listing says nothing: the family table decides.
    assert A in CAT.resolve(ModelInfo("google/gemma-4-e4b", "b")).takes
    assert CAT.resolve(ModelInfo("mystery", "b")).context == 8192


@pytest.mark.parametrize(
    ("model", "tokens", "expected"),
    [
        (ModelInfo("m", "b", context=131072), 100, 8192),
        (ModelInfo("m", "b", context=131072), 8193, 16384),
        (ModelInfo("m", "b", context=131072), 100_000, 131072),
        (ModelInfo("m", "b", context=262144), 200_000, 262144),
        (ModelInfo("m", "b", context=40960), 35_000, 40960),  # never above the window
        (ModelInfo("m", "b", context=131072, loaded=True, loaded_context=32768), 9000, 32768),
        (ModelInfo("m", "b", context=131072, loaded=True, loaded_context=4096), 9000, 16384),
    ],
)
def test_num_ctx_ladder(model: ModelInfo, tokens: int, expected: int) -> None:
    assert num_ctx(model, tokens) == expected


# --- properties -------------------------------------------------------------------------

INVENTORIES = [FULL, EDGE, E2B_ONLY, ONLY_26B, SPLIT, ONE_DOWN, LOADED, LMS_E4B_OLLAMA_E2B,
               EMBEDDED, FULL_AND_EMBEDDED, WITH_EMBEDDERS, ONLY_EMBEDDERS]  # fmt: skip
needs = st.builds(
    Need,
    st.sets(st.sampled_from([T, IMG, A, V]), min_size=1).map(frozenset),
    st.integers(min_value=1, max_value=400_000),
)
wishes = st.builds(
    Wish,
    st.sampled_from([None, "auto", "gemma4-e2b", "gemma4-e4b", "gemma4-26b-a4b", "gemma4-31b",
                     "gemma4:e4b", "google/gemma-4-31b", "gemma-3-270m", "embeddinggemma",
                     NOMIC]),
    st.sampled_from([None, "ollama", "lms"]),
    st.sampled_from([None, "speed", "balanced", "quality"]),
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(need=needs, wish=wishes, inventory=st.sampled_from(INVENTORIES))
def test_properties(need: Need, wish: Wish, inventory: Inventory) -> None:
    try:
        decision = route(need, wish, inventory, POLICY, CAT)
    except GatewayError:
        return  # refusing is always allowed; what is chosen must keep the promises
    for model in decision.candidates:
        # audio never reaches a model that cannot hear
        assert A not in need.modalities or A in model.takes
        # every candidate's window holds the estimate
        assert model.window >= need.tokens
        # chat never reaches an embedding model
        assert not model.embedding
    if wish.model not in (None, "auto"):
        # an override is never silently changed into another model
        assert decision.reason == "override"
        assert all(wish.model in (c.id, c.member) for c in decision.candidates)


# --- the indexed router against the plain definition --------------------------------------
# route() ranks from indexes built once per snapshot (`Inventory.derived`); its candidates
# must be exactly the plain sort over every model, whatever the snapshot and the load.

IDS = ["gemma4:e2b", "gemma4:e4b", "gemma4:12b", "gemma4:26b", "gemma4:31b", "gemma4:e4b-q8",
       "google/gemma-4-31b", "llama3.2", "embeddinggemma:300m", NOMIC]  # fmt: skip
HOSTS = ["a", "b", "c", "d"]
random_models = st.builds(
    m,
    st.sampled_from(IDS),
    inputs=st.sampled_from([None, VLM, frozenset({T}), frozenset({T, A})]),
    context=st.sampled_from([None, 8192, 131072, 262144]),
    loaded=st.booleans(),
    loaded_context=st.sampled_from([None, 4096, 32768, 131072]),
    embedding=st.sampled_from([False, False, False, True]),
)


@st.composite
def random_inventories(draw: st.DrawFn) -> Inventory:
    names = draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=4, unique=True))
    return inv(
        *(
            state(
                n,
                *draw(st.lists(random_models, max_size=6)),
                healthy=draw(st.sampled_from([True, True, True, False])),
            )
            for n in names
        )
    )


random_wishes = st.builds(
    Wish,
    st.sampled_from([None, None, "auto", "gemma4-e4b", "GEMMA4-31B", "gemma4-26b-a4b", "gemma4:e4b",
                     "google/gemma-4-31b", "llama3.2", "embeddinggemma", "missing"]),
    st.sampled_from([None, None, None, None, *HOSTS, "zzz"]),
    st.sampled_from([None, "speed", "balanced", "quality"]),
    st.sampled_from([None, *HOSTS]),
)  # fmt: skip
busy_maps = st.dictionaries(st.sampled_from(HOSTS), st.integers(0, 3))
random_needs = st.builds(
    Need,
    st.sets(st.sampled_from([T, IMG, A, V]), min_size=1).map(lambda s: frozenset({T, *s})),
    st.sampled_from([1, 1500, 4096, 4097, 8192, 32768, 40000, 131072, 131073, 262144, 300000]),
)  # the windows and loaded contexts above, and either side of them


def plain_candidates(
    need: Need, wish: Wish, inventory: Inventory, busy: dict[str, int]
) -> list[str]:
    """The policy model by model: pin, name or rule order, capable, fitting, then sorted."""
    pin = next((b for b in inventory.backends if b.name == wish.backend), None)
    if wish.backend is not None and (pin is None or not pin.healthy):
        return []
    pinned = inventory.models() if pin is None else list(pin.models)
    models = [x for x in pinned if not x.embedding]
    name = (wish.model or "").strip()
    order: list[str] = []
    if name.lower() in ("auto", "gemma4", ""):
        if A in need.modalities:
            order = ["gemma4-e4b", "gemma4-e2b", "gemma4-12b"]
        elif need.tokens > min(POLICY.long_context_tokens, 131072):
            order = ["gemma4-26b-a4b", "gemma4-31b"]
        elif wish.prefer == "speed":
            order = ["gemma4-e4b", "gemma4-e2b"]
        else:
            order = ["gemma4-31b" if wish.prefer == "quality" else POLICY.default_model]
        order += [p for p in POLICY.preference if p not in order]
    else:
        models = [x for x in models if x.id == name or x.member == name.lower()]

    def rank(x: ModelInfo) -> int:
        return next((i for i, o in enumerate(order) if o in (x.member, x.id)), len(order))

    def key(x: ModelInfo) -> tuple[int, bool, bool, int]:
        warm = x.loaded and (x.loaded_context or x.window) >= need.tokens
        return rank(x), x.backend != wish.affinity, not warm, busy.get(x.backend, 0)

    fitting = [x for x in models if x.window >= need.tokens and can_take(x.takes, need.modalities)]
    return [f"{x.id}@{x.backend}" for x in sorted(fitting, key=key)]


@settings(max_examples=400, deadline=None)
@given(
    inventory=random_inventories(),
    requests=st.lists(st.tuples(random_needs, random_wishes, busy_maps), min_size=1, max_size=6),
)
def test_indexed_routing_equals_the_plain_sort(
    inventory: Inventory, requests: list[tuple[Need, Wish, dict[str, int]]]
) -> None:
    for need, wish, busy in requests:  # several requests on one snapshot: its indexes reused
        expected = plain_candidates(need, wish, inventory, busy)
        try:
            decision = route(need, wish, inventory, POLICY, CAT, busy)
        except GatewayError:
            assert expected == []
            continue
        assert [f"{x.id}@{x.backend}" for x in decision.candidates] == expected


def test_rankings_kept_on_a_snapshot_follow_each_requests_load() -> None:
    """A ranking is kept per host order; the same snapshot under other loads (and another
    conversation's host) gives other orders, and the kept rankings stay bounded."""
    hosts = "abcde"
    rack = inv(*(state(h, m("gemma4:31b"), m("gemma4:e4b")) for h in hosts))
    need = Need(frozenset({T}), 1_000)

    def first_hosts(busy: dict[str, int], affinity: str | None = None) -> list[str]:
        decision = route(need, Wish(affinity=affinity), rack, POLICY, CAT, busy)
        return [x.backend for x in decision.candidates if x.member == "gemma4-31b"]

    idle_first = {h: i for i, h in enumerate(hosts)}
    assert first_hosts(idle_first) == list("abcde")
    assert first_hosts({**idle_first, "a": 9}) == list("bcdea")
    assert first_hosts(idle_first, affinity="d") == list("dabce")
    assert first_hosts(idle_first) == list("abcde")  # kept, still right
    for loads in itertools.permutations(range(5)):  # 120 host orders, past MAX_ORDERS
        busy = dict(zip(hosts, loads, strict=True))
        assert first_hosts(busy) == sorted(hosts, key=busy.__getitem__)
    pools = [p for p in rack._derived.values() if hasattr(p, "orders")]
    assert pools and all(len(p.orders) <= MAX_ORDERS for p in pools)
