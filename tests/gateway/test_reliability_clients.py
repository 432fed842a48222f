"""Issue 8: no client can hang, bloat or block the gateway, and no pool caps a backend.

Clients here are raw loopback sockets, so they can do what no polite client does: never
read, send headers or a body a byte at a time, lie about a body's length, send a bomb.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector, web
from aiohttp.test_utils import TestServer

from gateway.intake import LINGER_S
from gateway.state import METRICS
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.base import Handler
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import OpenAIEmulator

CHAT = "/v1/chat/completions"
BODY = {"model": "gemma4:e4b", "messages": [{"role": "user", "content": "hi"}]}
GRACE_S = 5.0  # a bound for "it happened", never a speed claim


def head(gateway: TestServer, length: int | None, **headers: str) -> bytes:
    lines = [f"POST {CHAT} HTTP/1.1", f"Host: {gateway.host}:{gateway.port}",
             "Content-Type: application/json"]  # fmt: skip
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def connect(gateway: TestServer, rcvbuf: int | None = None) -> socket.socket:
    """A non-blocking loopback socket, its receive buffer shrunk before connecting."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (gateway.host, gateway.port))
    return sock


async def read_until_closed(sock: socket.socket) -> bytes:
    loop, data = asyncio.get_running_loop(), b""
    try:
        while chunk := await loop.sock_recv(sock, 65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


async def trickle(sock: socket.socket, pieces: list[bytes]) -> None:
    """Send `pieces` a few per second, as a slowloris client does; stop when cut off."""
    loop = asyncio.get_running_loop()
    try:
        for piece in pieces:
            await loop.sock_sendall(sock, piece)
            await asyncio.sleep(0.2)
    except OSError:
        pass


# --- 1. a client that never reads its stream ----------------------------------------------


async def test_a_client_that_never_reads_is_cut_off_and_frees_the_slot(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    # 80 MB: more than every buffer between the emulator and the client holds, so the
    # emulator is still streaming when the client is cut off (and sees the cancellation).
    ollama.reply_tokens = ["x" * 65536] * 1250
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url, max_concurrency=1),
        server={"client_write_timeout_s": 1},
    )
    stuck = await connect(gateway, rcvbuf=4096)
    body = json.dumps({**BODY, "stream": True}).encode()
    started = time.monotonic()
    await asyncio.get_running_loop().sock_sendall(stuck, head(gateway, len(body)) + body)
    await asyncio.wait_for(ollama.chat_received.wait(), GRACE_S)
    try:
        async with asyncio.timeout(1 + 2 * GRACE_S):  # the slot is held until then
            status, _, _ = await post_chat(gateway, {**BODY, "max_tokens": 1})
            await ollama.chat_cancelled.wait()
    finally:
        stuck.close()
    print(f"slot freed {time.monotonic() - started:.2f}s after the stuck client's request")
    assert status == 200
    async with ClientSession() as s, s.get(gateway.make_url("/metrics")) as r:
        assert 'gateway_client_cut_off_total{what="stream"} 1' in await r.text()


async def test_a_client_that_never_reads_its_answer_is_cut_off(
    ollama: OllamaEmulator, make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    ollama.reply_tokens = ["x" * 4096] * 3000  # a 12 MB completion
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"client_write_timeout_s": 1}
    )
    counter, cut_off = gateway.app[METRICS].client_cut_off, asyncio.Event()
    inc = counter.inc
    monkeypatch.setattr(counter, "inc", lambda *what: (inc(*what), cut_off.set()))
    stuck = await connect(gateway, rcvbuf=4096)
    body = json.dumps(BODY).encode()
    await asyncio.get_running_loop().sock_sendall(stuck, head(gateway, len(body)) + body)
    try:
        async with asyncio.timeout(1 + GRACE_S):
            await cut_off.wait()
            answer = await read_until_closed(stuck)
    finally:
        stuck.close()
    assert counter.values == {("response",): 1}
    assert len(answer) < 3000 * 4096  # the rest was dropped with the connection


# --- 2. slow headers, slow bodies ---------------------------------------------------------


async def answer_to_trickle(gateway: TestServer, pieces: list[bytes], within_s: float) -> bytes:
    """What the gateway answers, before closing, to a request sent in slow pieces; the
    connection must close within `within_s`."""
    sock = await connect(gateway)
    sender = asyncio.create_task(trickle(sock, pieces))
    try:
        async with asyncio.timeout(within_s):
            return await read_until_closed(sock)
    finally:
        sender.cancel()
        sock.close()


async def test_slow_headers_are_closed_after_header_timeout(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"header_timeout_s": 1}
    )
    pieces = [head(gateway, 2)[:40]] + [f"X-Slow-{i}: y\r\n".encode() for i in range(100)]
    # 100 pieces would take 20 s; closed without an answer
    assert await answer_to_trickle(gateway, pieces, 1 + GRACE_S) == b""


async def test_a_slow_body_gets_408_and_the_connection_closes(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"body_timeout_s": 1}
    )
    body = json.dumps(BODY).encode()
    pieces = [head(gateway, len(body))] + [bytes([b]) for b in body]
    # the body would take 12 s
    answer = await answer_to_trickle(gateway, pieces, 1 + LINGER_S + GRACE_S)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "request_timeout" and "body_timeout_s" in error["message"]


# --- 3. a Content-Length over the limit ---------------------------------------------------


async def test_a_declared_length_over_the_limit_is_413_before_reading(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"body_timeout_s": 60}
    )
    sock = await connect(gateway)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(sock, head(gateway, 99999999999) + b"{}")
        async with asyncio.timeout(GRACE_S):  # reading would wait out body_timeout_s
            answer = await loop.sock_recv(sock, 65536)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "request_too_large" and "max_body_mb" in error["message"]


# --- 4. compressed bodies -----------------------------------------------------------------


def gzip_bomb(inflated_mb: int) -> bytes:
    """A few hundred KB of gzip that inflates to `inflated_mb` MiB of zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(2**20)
    return b"".join(packer.compress(zeros) for _ in range(inflated_mb)) + packer.flush()


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda _: gzip_bomb(256),
    "deflate": lambda body: zlib.compress(body),
    "br": lambda body: body,  # never decoded: the header alone is refused
}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_compressed_bodies_are_refused_unread(
    encoding: str, ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", ollama.url), server={"max_body_mb": 1})
    data = ENCODINGS[encoding](json.dumps(BODY).encode())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with (
        ClientSession() as s,
        s.post(gateway.make_url(CHAT), data=data, headers={"Content-Encoding": encoding}) as r,
    ):
        status, payload = r.status, await r.json()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    print(f"{encoding}: {len(data)} bytes sent, peak RSS grew {grown_mb:.1f} MiB")
    assert status == 415 and r.headers["Accept-Encoding"] == "identity"
    assert payload["error"]["code"] == "unsupported_content_encoding"
    assert grown_mb < 64  # the bomb inflates to 256 MiB
    assert ollama.chats() == []


# --- 8. connection pools follow max_concurrency -------------------------------------------


class Gate:
    """Holds every chat request until `n` are in at once (a pool capped lower never gets
    there), so the test shows concurrency without timing anything."""

    def __init__(self, n: int, path: str) -> None:
        self.n, self.path, self.arrived, self.open = n, path, 0, asyncio.Event()

    @web.middleware
    async def hold(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == self.path:
            self.arrived += 1
            if self.arrived == self.n:
                self.open.set()
            await self.open.wait()
        return await handler(request)


class GatedOllama(OllamaEmulator):
    gate: Gate

    def middlewares(self) -> list[Any]:
        return [*super().middlewares(), self.gate.hold]


class GatedOpenAI(OpenAIEmulator):
    gate: Gate

    def middlewares(self) -> list[Any]:
        return [*super().middlewares(), self.gate.hold]


@pytest.fixture(params=["ollama", "openai"])
async def gated(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, str, str]]:
    if request.param == "ollama":
        emu: Any = GatedOllama([OllamaModel("gemma4:e4b")])
        model = "gemma4:e4b"
    else:
        emu, model = GatedOpenAI(), "google/gemma-4-26b-a4b"
    emu.gate = Gate(150, emu.chat_path)
    async with emu:
        yield emu, request.param, model


async def test_150_concurrent_streams_all_reach_a_backend_of_max_concurrency_150(
    gated: tuple[Any, str, str], make_gateway: MakeGateway
) -> None:
    emu, kind, model = gated
    gateway = await make_gateway(backend(kind, kind, emu.url, max_concurrency=150))
    body = {**BODY, "model": model, "stream": True}

    async def one(s: ClientSession) -> str:
        async with s.post(gateway.make_url(CHAT), json=body) as r:
            return (await r.text()).rsplit("data: ", 1)[-1].strip()

    async with ClientSession(connector=TCPConnector(limit=0)) as s, asyncio.timeout(30):
        ends = await asyncio.gather(*(one(s) for _ in range(150)))
    assert emu.gate.open.is_set()
    assert ends == ["[DONE]"] * 150
