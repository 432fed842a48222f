"""Embeddings through the core (issue 10): `Pipeline.embed` in a real app, in front of the
Ollama and LM Studio emulators, asserting what each backend received on the wire."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from gateway.core.errors import BackendError, InvalidRequest, ModelNotFound, NoRoute
from gateway.core.pipeline import EmbedCall, Pipeline
from gateway.core.routing import Wish
from gateway.state import PIPELINE
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.base import text_vector
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel, embeddinggemma
from tests.fakes.openai_server import LMModel, OpenAIEmulator
from tests.gateway.racks import NOMIC, embedding_lms, ollama  # noqa: F401 (fixtures)

LMS_GEMMA = "text-embedding-embeddinggemma-300m"
TEXTS = ["the sky is blue", "grass is green", "snow is white"]


@pytest.fixture
async def gateway(
    ollama: OllamaEmulator, lms: OpenAIEmulator, make_gateway: MakeGateway
) -> TestServer:
    return await make_gateway(
        backend("ollama", "ollama", ollama.url), backend("lms", "openai", lms.url)
    )


def pipeline_of(gateway: TestServer) -> Pipeline:
    return gateway.app[PIPELINE]


async def test_auto_picks_embeddinggemma_and_keeps_order(
    gateway: TestServer, ollama: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    outcome = await pipeline_of(gateway).embed(EmbedCall(TEXTS, request_id="r1"))
    assert (outcome.model.id, outcome.model.backend) == ("embeddinggemma", "ollama")
    assert outcome.embeddings.vectors == [text_vector("embeddinggemma", t, 768) for t in TEXTS]
    assert outcome.embeddings.prompt_tokens == sum(len(t.split()) + 2 for t in TEXTS)
    assert outcome.headers["X-Gateway-Route"] == "embedding"
    assert outcome.headers["X-Gateway-Model"] == "embeddinggemma"
    assert outcome.headers["X-Request-Id"] == "r1"
    assert int(outcome.headers["X-Gateway-Tokens-Estimate"]) > 0
    assert ollama.embeds() == [{"model": "embeddinggemma", "input": TEXTS, "truncate": True}]
    assert lms.embeds() == []
    routed = pipeline_of(gateway).metrics.routed.values
    assert routed[("embeddinggemma", "ollama", "embedding")] == 1


async def test_explicit_lm_studio_model_orders_by_index(
    gateway: TestServer, lms: OpenAIEmulator
) -> None:
    lms.reverse_embeddings = True  # data[] last index first: the gateway orders by index
    call = EmbedCall(TEXTS, Wish(NOMIC), dimensions=256)
    outcome = await pipeline_of(gateway).embed(call)
    assert (outcome.model.id, outcome.headers["X-Gateway-Route"]) == (NOMIC, "override")
    full = [text_vector(NOMIC, t, 768) for t in TEXTS]
    # LM Studio ignores `dimensions`: the gateway cuts and normalises as Ollama does
    assert [len(v) for v in outcome.embeddings.vectors] == [256] * 3
    for got, whole in zip(outcome.embeddings.vectors, full, strict=True):
        scale = got[0] / whole[0]
        assert got == pytest.approx([x * scale for x in whole[:256]])
    assert outcome.embeddings.prompt_tokens is None  # LM Studio reports 0
    assert lms.embeds() == [{"model": NOMIC, "input": TEXTS, "dimensions": 256}]


async def test_dimensions_and_truncate_reach_ollama(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    call = EmbedCall(["one"], Wish("embeddinggemma"), dimensions=128, truncate=False,
                     keep_alive="10m")  # fmt: skip
    outcome = await pipeline_of(gateway).embed(call)
    assert len(outcome.embeddings.vectors[0]) == 128
    assert sum(x * x for x in outcome.embeddings.vectors[0]) == pytest.approx(1.0)
    assert ollama.embeds() == [{"model": "embeddinggemma", "input": ["one"], "truncate": False,
                                "keep_alive": "10m", "dimensions": 128}]  # fmt: skip


async def test_input_too_long_without_truncation_is_a_400(gateway: TestServer) -> None:
    call = EmbedCall(["word " * 3000], truncate=False)
    with pytest.raises(InvalidRequest, match="exceeds the context length"):
        await pipeline_of(gateway).embed(call)


@pytest.mark.parametrize("name", ["gemma4:e4b", "gemma4-26b-a4b", "google/gemma-4-26b-a4b"])
async def test_a_chat_model_is_refused_for_embeddings(gateway: TestServer, name: str) -> None:
    with pytest.raises(InvalidRequest, match="not an embedding model") as err:
        await pipeline_of(gateway).embed(EmbedCall(TEXTS, Wish(name)))
    assert NOMIC in err.value.message and "embeddinggemma" in err.value.message


async def test_an_unknown_model_is_a_404(gateway: TestServer) -> None:
    with pytest.raises(ModelNotFound, match="embeddinggemma"):
        await pipeline_of(gateway).embed(EmbedCall(TEXTS, Wish("bge-m3")))


async def test_chat_never_goes_to_the_embedding_model(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    status, _, body = await post_chat(gateway, {"model": "embeddinggemma", "messages": [
        {"role": "user", "content": "hi"}]})  # fmt: skip
    assert status == 400
    assert "is an embedding model" in body["error"]["message"]
    status, headers, _ = await post_chat(
        gateway, {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert status == 200
    assert headers["X-Gateway-Model"] not in ("embeddinggemma", NOMIC)
    assert ollama.embeds() == []


async def test_failover_to_the_next_embedding_model(
    make_gateway: MakeGateway, lms: OpenAIEmulator
) -> None:
    async with (
        OllamaEmulator([embeddinggemma()]) as first,
        OllamaEmulator([embeddinggemma("embeddinggemma:300m")]) as second,
    ):
        gateway = await make_gateway(
            backend("a", "ollama", first.url), backend("b", "ollama", second.url)
        )
        first.status_override = (500, {"error": "llama runner process has terminated"})
        outcome = await pipeline_of(gateway).embed(EmbedCall(TEXTS))
        assert (outcome.model.backend, outcome.headers["X-Gateway-Route"]) == ("b", "fallback")
        assert [b["model"] for b in first.embeds()] == ["embeddinggemma"]
        assert [b["model"] for b in second.embeds()] == ["embeddinggemma:300m"]
        failures = pipeline_of(gateway).metrics.backend_failures.values
        assert failures[("a", "backend_error")] == 1


async def test_garbage_is_a_502(make_gateway: MakeGateway) -> None:
    async with OllamaEmulator([embeddinggemma()]) as only:
        gateway = await make_gateway(backend("o", "ollama", only.url))
        only.garbage = b"<html>proxy error</html>"
        with pytest.raises(BackendError, match="not Ollama's JSON"):
            await pipeline_of(gateway).embed(EmbedCall(TEXTS))


async def test_no_embedding_model_says_how_to_get_one(make_gateway: MakeGateway) -> None:
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as chat_only:
        gateway = await make_gateway(backend("o", "ollama", chat_only.url))
        with pytest.raises(NoRoute, match="ollama pull embeddinggemma"):
            await pipeline_of(gateway).embed(EmbedCall(TEXTS))


async def test_lm_studio_embeddinggemma_is_the_member(make_gateway: MakeGateway) -> None:
    models = [LMModel(NOMIC, type="embeddings"), LMModel(LMS_GEMMA, type="embeddings")]
    async with OpenAIEmulator(models, api_v1=False) as old_lms:  # the v0 listing
        gateway = await make_gateway(backend("lms", "openai", old_lms.url))
        outcome = await pipeline_of(gateway).embed(EmbedCall(["x"], Wish("embeddinggemma")))
        assert (outcome.model.id, outcome.model.member) == (LMS_GEMMA, "embeddinggemma")
        assert outcome.headers["X-Gateway-Route"] == "embedding"
