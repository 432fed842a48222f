"""The emulators' embeddings routes (issue 10) against Ollama's source (server/routes.go
EmbedHandler, EmbeddingsHandler; api/types.go) and LM Studio's docs (text-embeddings), driven
through the official `ollama` and `openai` clients as the real servers would be."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import ollama
import openai
import pytest
from aiohttp import ClientSession

from tests.fakes.base import text_vector
from tests.fakes.ollama_server import NO_EMBEDDINGS, OllamaEmulator, OllamaModel, embeddinggemma
from tests.fakes.openai_server import LMModel, OpenAIEmulator

NOMIC = "text-embedding-nomic-embed-text-v1.5"


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator([OllamaModel("gemma4:e4b"), embeddinggemma()]) as e:
        yield e


def unit(vector: list[float]) -> bool:
    return math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-6)


@pytest.fixture
async def client(emu: OllamaEmulator) -> AsyncIterator[ollama.AsyncClient]:
    c = ollama.AsyncClient(host=emu.url)
    yield c
    await c.close()  # type: ignore[no-untyped-call]


async def test_ollama_embed_through_the_client(
    emu: OllamaEmulator, client: ollama.AsyncClient
) -> None:
    one = await client.embed(model="embeddinggemma", input="why is the sky blue?")
    assert one.model == "embeddinggemma" and len(one.embeddings) == 1
    assert list(one.embeddings[0]) == text_vector("embeddinggemma", "why is the sky blue?", 768)
    assert one.prompt_eval_count == 5 + 2  # words, with BOS and EOS
    assert one.load_duration and one.total_duration and one.total_duration >= one.load_duration
    many = await client.embed(model="embeddinggemma", input=["a", "b", "c"], dimensions=64)
    assert [len(v) for v in many.embeddings] == [64] * 3
    assert all(unit(list(v)) for v in many.embeddings)  # cut and normalised again
    assert emu.embeds()[-1] == {"model": "embeddinggemma", "input": ["a", "b", "c"],
                                "dimensions": 64}  # fmt: skip


async def test_ollama_embed_wire_shape(emu: OllamaEmulator, http: ClientSession) -> None:
    async with http.post(emu.url + "/api/embed", json={"model": "embeddinggemma"}) as r:
        assert (r.status, await r.json()) == (200, {"model": "embeddinggemma", "embeddings": []})
    async with http.post(emu.url + "/api/embed",
                         json={"model": "embeddinggemma", "input": ["x"]}) as r:  # fmt: skip
        body = await r.json()
    assert set(body) == {"model", "embeddings", "total_duration", "load_duration",
                         "prompt_eval_count"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"model": "nope", "input": "x"}, 404, "model 'nope' not found"),
        ({"model": "embeddinggemma", "input": 3}, 400, "invalid input type"),
        ({"model": "embeddinggemma", "input": ["x", 1]}, 400, "invalid input type"),
        ({"model": "gemma4:e4b", "input": "x"}, 501, NO_EMBEDDINGS),
        ({"model": "embeddinggemma", "input": "w " * 3000, "truncate": False}, 400,
         "the input length exceeds the context length"),
        ({"model": "embeddinggemma", "input": "x", "truncate": "no"}, 400,
         "json: cannot unmarshal string into Go struct field EmbedRequest.truncate of type bool"),
    ],
)  # fmt: skip
async def test_ollama_embed_errors(
    emu: OllamaEmulator, http: ClientSession, body: dict[str, object], status: int, error: str
) -> None:
    async with http.post(emu.url + "/api/embed", json=body) as r:
        assert (r.status, await r.json()) == (status, {"error": error})


async def test_ollama_long_input_is_truncated_by_default(client: ollama.AsyncClient) -> None:
    reply = await client.embed(model="embeddinggemma", input="w " * 3000)
    assert reply.prompt_eval_count == 2048  # the window, BOS and EOS included


async def test_ollama_legacy_embeddings(
    emu: OllamaEmulator, http: ClientSession, client: ollama.AsyncClient
) -> None:
    reply = await client.embeddings(model="embeddinggemma", prompt="hello")
    assert len(reply.embedding) == 768 and not unit(list(reply.embedding))  # the raw vector
    async with http.post(emu.url + "/api/embeddings", json={"model": "embeddinggemma"}) as r:
        assert await r.json() == {"embedding": []}  # an empty prompt loads the model
    with pytest.raises(ollama.ResponseError) as err:
        await client.embeddings(model="missing", prompt="x")
    assert err.value.status_code == 404


async def test_ollama_lists_the_embedding_capability(client: ollama.AsyncClient) -> None:
    show = await client.show("embeddinggemma")
    assert show.capabilities == ["embedding"]
    assert show.modelinfo and show.modelinfo["gemma3.pooling_type"] == 1
    with pytest.raises(ollama.ResponseError, match="does not support chat"):
        await client.chat(model="embeddinggemma", messages=[{"role": "user", "content": "hi"}])


async def test_lm_studio_embeddings_through_the_openai_sdk() -> None:
    models = [LMModel("google/gemma-4-26b-a4b"), LMModel(NOMIC, type="embeddings")]
    async with OpenAIEmulator(models) as lms:
        client = openai.AsyncOpenAI(base_url=lms.url + "/v1", api_key="lm-studio")
        reply = await client.embeddings.create(model=NOMIC, input=["a", "b"])
        assert [d.index for d in reply.data] == [0, 1]
        assert reply.data[1].embedding == text_vector(NOMIC, "b", 768)
        assert reply.usage.prompt_tokens == 0  # as LM Studio's documented example shows
        lms.reverse_embeddings = True
        again = await client.embeddings.create(model=NOMIC, input=["a", "b"])
        assert [d.index for d in again.data] == [1, 0]
        with pytest.raises(openai.NotFoundError):
            await client.embeddings.create(model="nope", input="a")
        with pytest.raises(openai.BadRequestError):
            await client.embeddings.create(model="google/gemma-4-26b-a4b", input="a")
        await client.close()
        assert [b["model"] for b in lms.embeds()] == [
            NOMIC,
            NOMIC,
            "nope",
            "google/gemma-4-26b-a4b",
        ]
        listed = {m["key"]: m["type"] for m in (await _v1_models(lms))["models"]}
        assert listed == {"google/gemma-4-26b-a4b": "llm", NOMIC: "embedding"}


async def _v1_models(lms: OpenAIEmulator) -> dict[str, list[dict[str, str]]]:
    async with ClientSession() as s, s.get(lms.url + "/api/v1/models") as r:
        body: dict[str, list[dict[str, str]]] = await r.json()
        return body
