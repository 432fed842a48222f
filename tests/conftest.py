"""Shared fixtures: the real llama.cpp engine, and a gateway in front of given backends."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gateway.config import BackendConfig, GatewayConfig
from gateway.embedded import engine_command, free_port, model_path
from gateway.server import create_app
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel

MakeGateway = Callable[..., Awaitable[TestServer]]


@pytest.fixture(scope="session")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real engine (llama-cpp-python + Gemma 3 270M GGUF), started once per session.

    It is a hard requirement, not a skip: CI installs the `embedded` extra.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is missing: pip install -e '.[embedded]'")
    port = free_port()
    log = tmp_path_factory.mktemp("engine") / "engine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(engine_command(model_path(), port), stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/v1/models", proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"engine exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"engine not ready after 120s:\n{log.read_text()[-2000:]}")


@pytest.fixture
async def make_gateway() -> AsyncIterator[MakeGateway]:
    """Start gateways on free loopback ports (handler cancellation on, as in production)."""
    servers: list[TestServer] = []

    async def make(*backends: BackendConfig, **sections: dict[str, object]) -> TestServer:
        config = GatewayConfig.model_validate({"backends": list(backends), **sections})
        server = TestServer(create_app(config), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """A plain aiohttp client, for talking to emulators directly."""
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def ollama() -> AsyncIterator[OllamaEmulator]:
    """An Ollama emulator with one Gemma 4 E4B (modules needing others define their own)."""
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as emu:
        yield emu


async def post_chat(
    gateway: TestServer, body: dict[str, Any], path: str = "/v1/chat/completions", **headers: str
) -> tuple[int, dict[str, str], Any]:
    """POST a chat body (streamed: media bodies are megabytes); JSON replies parsed, SSE as
    text."""
    data = io.BytesIO(json.dumps(body).encode())
    async with (
        ClientSession() as s,
        s.post(gateway.make_url(path), data=data,
               headers={"Content-Type": "application/json", **headers}) as r,
    ):  # fmt: skip
        text = await r.text()
        payload = json.loads(text) if r.content_type == "application/json" else text
        return r.status, dict(r.headers), payload


async def raw_request(gateway: TestServer, request: bytes) -> bytes:
    """Send `request` as raw bytes on a new connection; what came back within 10 s."""
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
        await writer.wait_closed()


def backend(name: str, kind: str, url: str, **extra: object) -> BackendConfig:
    return BackendConfig(name=name, kind=kind, url=url, **extra)  # type: ignore[arg-type]
