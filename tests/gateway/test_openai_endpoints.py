"""The rest of OpenAI's API that local apps call (issue 11): embeddings and model retrieval
through the `openai` SDK, and CORS for browser apps."""

from __future__ import annotations

import base64
import struct

import openai
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from tests.conftest import MakeGateway, backend
from tests.fakes.base import text_vector
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import OpenAIEmulator
from tests.gateway.racks import NOMIC, embedding_lms, ollama  # noqa: F401 (fixtures)

TEXTS = ["the sky is blue", "grass is green", "snow is white"]
PAGE = "http://localhost:5173"


@pytest.fixture
async def gateway(
    ollama: OllamaEmulator, lms: OpenAIEmulator, make_gateway: MakeGateway
) -> TestServer:
    return await make_gateway(
        backend("ollama", "ollama", ollama.url), backend("lms", "openai", lms.url),
        server={"cors_origins": [PAGE]},
    )  # fmt: skip


def client(gateway: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="unused")


async def test_embeddings_from_both_backend_kinds_in_order(
    gateway: TestServer, ollama: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    async with client(gateway) as c:
        auto = await c.embeddings.with_raw_response.create(model="auto", input=TEXTS)
        lm = await c.embeddings.create(model=NOMIC, input=TEXTS)
    parsed = auto.parse()
    assert parsed.model == "embeddinggemma" and auto.headers["X-Gateway-Route"] == "embedding"
    assert [d.index for d in parsed.data] == [0, 1, 2]
    assert [d.embedding for d in parsed.data] == [
        pytest.approx(text_vector("embeddinggemma", t, 768)) for t in TEXTS
    ]
    assert parsed.usage.prompt_tokens == sum(len(t.split()) + 2 for t in TEXTS)
    assert [d.embedding for d in lm.data] == [
        pytest.approx(text_vector(NOMIC, t, 768)) for t in TEXTS
    ]
    assert ollama.embeds()[0]["input"] == TEXTS and lms.embeds()[0]["input"] == TEXTS


async def test_base64_embeddings_are_little_endian_float32(gateway: TestServer) -> None:
    """The SDK asks for base64 by default when numpy is present and decodes it itself; raw,
    the vector must be OpenAI's packing."""
    async with ClientSession() as s:
        body = {"model": "auto", "input": "hello", "encoding_format": "base64"}
        async with s.post(gateway.make_url("/v1/embeddings"), json=body) as r:
            got = (await r.json())["data"][0]["embedding"]
    raw = base64.b64decode(got)
    vector = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert vector == pytest.approx(text_vector("embeddinggemma", "hello", 768), rel=1e-6)


async def test_embeddings_refuse_token_arrays_and_chat_models(gateway: TestServer) -> None:
    async with client(gateway) as c:
        with pytest.raises(openai.BadRequestError, match="token arrays"):
            await c.embeddings.create(model="auto", input=[[1, 2, 3]])
        with pytest.raises(openai.BadRequestError, match="not an embedding model"):
            await c.embeddings.create(model="gemma4:e4b", input="x")


async def test_chat_never_routes_to_an_embedding_model_and_models_list_says_which(
    gateway: TestServer,
) -> None:
    async with client(gateway) as c:
        listed = {m.id: m for m in (await c.models.list()).data}
        one = await c.models.retrieve(NOMIC)
        with pytest.raises(openai.NotFoundError):
            await c.models.retrieve("no-such-model")
        reply = await c.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
    extra = listed[NOMIC].model_extra or {}
    assert extra["gateway"]["embedding"] is True and one.id == NOMIC
    assert not (listed["gemma4:e4b"].model_extra or {})["gateway"]["embedding"]
    assert reply.model not in (NOMIC, "embeddinggemma")


async def test_cors_preflight_is_answered_for_allowed_origins_only(gateway: TestServer) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
    }
    async with ClientSession() as s:
        async with s.options(gateway.make_url("/v1/chat/completions"),
                             headers={"Origin": PAGE, **ask}) as r:  # fmt: skip
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == PAGE
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
            assert "x-stainless-os" in r.headers["Access-Control-Allow-Headers"]
        async with s.options(gateway.make_url("/v1/chat/completions"),
                             headers={"Origin": "https://evil.example", **ask}) as r:  # fmt: skip
            assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
        body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        async with s.post(gateway.make_url("/v1/chat/completions"), json=body,
                          headers={"Origin": PAGE}) as r:  # fmt: skip
            await r.read()
            assert r.headers["Access-Control-Allow-Origin"] == PAGE  # streams too
            assert "X-Gateway-Route" in r.headers["Access-Control-Expose-Headers"]
        async with s.get(gateway.make_url("/v1/nope"), headers={"Origin": PAGE}) as r:
            assert r.status == 404 and r.headers["Access-Control-Allow-Origin"] == PAGE
        async with s.get(gateway.make_url("/v1/models"), headers={"Origin": "https://x.y"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_no_cors_headers_unless_configured(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", ollama.url))
    async with ClientSession() as s:
        ask = {"Origin": PAGE, "Access-Control-Request-Method": "POST"}
        async with s.options(gateway.make_url("/v1/chat/completions"), headers=ask) as r:
            assert r.status == 405 and "Access-Control-Allow-Origin" not in r.headers
        async with s.get(gateway.make_url("/v1/models"), headers={"Origin": PAGE}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_a_preflight_needs_no_key_but_the_request_does(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url),
        server={"cors_origins": ["*"], "api_keys": ["k1"]},
    )
    async with ClientSession() as s:
        ask = {"Origin": PAGE, "Access-Control-Request-Method": "GET"}
        async with s.options(gateway.make_url("/v1/models"), headers=ask) as r:
            assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
        async with s.get(gateway.make_url("/v1/models"), headers={"Origin": PAGE}) as r:
            assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == "*"
