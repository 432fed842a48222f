"""httpx over aiohttp: what ollama-python relies on from a transport."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.backends.aiohttp_transport import AiohttpTransport


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {"method": request.method, "body": body.decode(), "agent": request.headers["User-Agent"]},
        status=201,
        headers={"X-Seen-Length": request.headers["Content-Length"]},
    )


async def zipped(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(b"unzipped"), headers={"Content-Encoding": "gzip"})


async def slow(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"first\n")
    await asyncio.sleep(5)
    return response


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = web.Application()
    app.add_routes([web.post("/echo", echo), web.get("/zipped", zipped), web.get("/slow", slow)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with httpx.AsyncClient(transport=AiohttpTransport(4), headers={"User-Agent": "t/1"}) as c:
        yield c, str(server.make_url("")).rstrip("/")
    await server.close()


async def test_status_headers_and_body_pass_both_ways(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    c, url = client
    r = await c.post(url + "/echo", json={"a": 1})
    assert r.status_code == 201
    assert r.json() == {"method": "POST", "body": '{"a":1}', "agent": "t/1"}
    assert r.headers["X-Seen-Length"] == "7"


async def test_content_encoding_is_decoded_once(client: tuple[httpx.AsyncClient, str]) -> None:
    c, url = client
    assert (await c.get(url + "/zipped")).content == b"unzipped"


async def test_no_bytes_within_the_read_timeout_is_an_httpx_read_timeout(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    c, url = client
    async with c.stream("GET", url + "/slow", timeout=httpx.Timeout(5, read=0.2)) as r:
        lines = r.aiter_lines()
        assert await anext(lines) == "first"
        with pytest.raises(httpx.ReadTimeout):
            await anext(lines)


async def test_nothing_listening_is_an_httpx_connect_error(unused_tcp_port: int) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport(4)) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(f"http://127.0.0.1:{unused_tcp_port}/")
