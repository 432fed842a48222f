"""Attacks a hostile review found the gateway already withstood (issue 8), kept as tests so
they stay withstood: nesting bombs, request smuggling, and many concurrent requests whose
answers never get mixed up. Loopback only, bounded."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from tests.conftest import MakeGateway, backend, post_chat, raw_request
from tests.fakes.ollama_server import OllamaEmulator

USER = {"role": "user", "content": "hi"}


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_a_nesting_bomb_is_a_400(gateway: TestServer, depth: int) -> None:
    content = "[" * depth + "]" * depth
    raw = f'{{"messages": [{{"role": "user", "content": {content}}}]}}'
    async with ClientSession() as s:
        async with s.post(gateway.make_url("/v1/chat/completions"), data=raw.encode(),
                          headers={"Content-Type": "application/json"}) as r:  # fmt: skip
            assert r.status == 400, await r.text()
            assert (await r.json())["error"]["message"]
        async with s.get(gateway.make_url("/healthz")) as r:
            assert r.status == 200


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",  # CL.TE
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",  # TE.TE
        b"Content-Length: 4\r\nContent-Length: 40\r\n",  # two lengths
    ],
)
async def test_ambiguous_framing_is_refused_not_smuggled(
    gateway: TestServer, ollama: OllamaEmulator, framing: bytes
) -> None:
    smuggled = b"0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + framing
               + b"Content-Type: application/json\r\n\r\n" + smuggled)  # fmt: skip
    answer = await raw_request(gateway, request)
    assert re.match(rb"HTTP/1\.[01] 400 ", answer), answer[:200]
    assert len(re.findall(rb"HTTP/1\.[01] \d{3} ", answer)) == 1  # no second request served
    assert ollama.chats() == []


async def test_concurrent_answers_are_never_mixed_up(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    """400 requests, 32 at a time, request i with i+1 words: every answer carries its own
    request id and its own prompt size (the emulator counts the rendered prompt's words:
    the question's and 2 of markup), and the backend received each prompt once."""
    semaphore = asyncio.Semaphore(32)

    async def one(i: int) -> tuple[int, str, int]:
        body = {"model": "gemma4:e4b", "messages": [{"role": "user", "content": "w " * (i + 1)}]}
        async with semaphore:
            status, headers, reply = await post_chat(gateway, body, **{"X-Request-Id": f"r{i}"})
        request_id = {k.lower(): v for k, v in headers.items()}["x-request-id"]
        return status, request_id, reply["usage"]["prompt_tokens"]

    results = await asyncio.gather(*(one(i) for i in range(400)))
    assert results == [(200, f"r{i}", i + 1 + 2) for i in range(400)]
    sizes = sorted(len(c["messages"][0]["content"].split()) for c in ollama.chats())
    assert sizes == list(range(1, 401))
