"""The HTTP edge: every class of bad input is a 4xx OpenAI error, and the gateway goes on."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator

USER = {"role": "user", "content": "hi"}


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url), server={"max_body_mb": 0.05})


def is_openai_error(body: object) -> bool:
    return (
        isinstance(body, dict)
        and set(body["error"]) >= {"message", "type", "param", "code"}
        and bool(body["error"]["message"])
    )


BAD_BODIES = [
    # (what, raw body, status, param)
    ("invalid JSON", b"{not json", 400, None),
    ("not an object", b"[1, 2]", 400, None),
    ("missing messages", b'{"model": "auto"}', 400, "messages"),
    ("empty messages", b'{"messages": []}', 400, "messages"),
    ("messages of wrong type", b'{"messages": {"role": "user"}}', 400, "messages"),
    ("content of wrong type", b'{"messages": [{"role": "user", "content": 1}]}', 400,
     "messages[0].content"),
    ("unknown content part type",
     b'{"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}', 400,
     "messages[0].content[0]"),
    ("bad base64 image",
     b'{"messages": [{"role": "user", "content": [{"type": "image_url", '
     b'"image_url": {"url": "data:image/png;base64,%%%"}}]}]}', 400,
     "messages[0].content[0].image_url.url"),
    ("remote image URL",
     b'{"messages": [{"role": "user", "content": [{"type": "image_url", '
     b'"image_url": {"url": "http://127.0.0.1/x.png"}}]}]}', 400,
     "messages[0].content[0].image_url.url"),
    ("unknown model", b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404,
     "model"),
    ("stream of wrong type", b'{"stream": "often", "messages": [{"role": "user", "content": "x"}]}',
     400, "stream"),
    ("body over max_body_mb", json.dumps({"messages": [USER], "pad": "x" * 60_000}).encode(), 413,
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "status", "param"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_input_gets_a_4xx_openai_error_and_the_gateway_goes_on(
    gateway: TestServer, raw: bytes, status: int, param: str | None
) -> None:
    url = gateway.make_url("/v1/chat/completions")
    async with ClientSession() as s:
        headers = {"Content-Type": "application/json"}
        async with s.post(url, data=raw, headers=headers) as r:
            body = await r.json()
            assert r.status == status, body
            assert r.headers["X-Request-Id"]
        assert is_openai_error(body) and body["error"]["param"] == param
        async with s.post(url, json={"messages": [USER], "model": "gemma4:e4b"}) as r:
            assert r.status == 200  # and the next request is served


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nope", 404), ("GET", "/v1/chat/completions", 405)]
)
async def test_unknown_routes_and_methods_are_openai_errors(
    gateway: TestServer, method: str, path: str, status: int
) -> None:
    async with ClientSession() as s, s.request(method, gateway.make_url(path)) as r:
        assert r.status == status and is_openai_error(await r.json())


async def test_api_keys_guard_v1_but_not_health(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"api_keys": ["k1", "k2"]}
    )
    async with ClientSession() as s:
        for headers, status in [({}, 401), ({"Authorization": "Bearer bad"}, 401),
                                ({"Authorization": "Bearer k2"}, 200)]:  # fmt: skip
            async with s.get(gateway.make_url("/v1/models"), headers=headers) as r:
                assert r.status == status
                if status == 401:
                    assert (await r.json())["error"]["code"] == "invalid_api_key"
        async with s.get(gateway.make_url("/healthz")) as r:
            assert r.status == 200


async def test_request_id_is_echoed(gateway: TestServer) -> None:
    async with (
        ClientSession() as s,
        s.post(
            gateway.make_url("/v1/chat/completions"),
            json={"messages": [USER]},
            headers={"X-Request-Id": "abc-123"},
        ) as r,
    ):
        assert r.headers["X-Request-Id"] == "abc-123"


async def test_full_queue_is_a_429_with_retry_after(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url, max_concurrency=1, max_queue=0)
    )
    ollama.delay_first_byte = 2  # holds the only slot while the second request comes in
    url, body = gateway.make_url("/v1/chat/completions"), {"messages": [USER]}
    async with ClientSession() as s:

        async def post() -> tuple[int, str | None]:
            async with s.post(url, json=body) as r:
                return r.status, r.headers.get("Retry-After")

        first = asyncio.create_task(post())
        await asyncio.wait_for(ollama.chat_received.wait(), 30)  # the first holds the slot
        assert await post() == (429, "1")
        assert (await first)[0] == 200


async def test_readyz_and_healthz(gateway: TestServer) -> None:
    async with ClientSession() as s:
        async with s.get(gateway.make_url("/healthz")) as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with s.get(gateway.make_url("/readyz")) as r:
            ready = await r.json()
        assert r.status == 200 and ready["backends"]["ollama"]["healthy"]
