"""The shape the fronts build on (issue 9): one pipeline, leaf packages, routes that carry
their auth and their error shape, and one dry run for the server and the command line."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from gateway import cli
from gateway.backends import KINDS
from gateway.config import GatewayConfig
from gateway.core.errors import GatewayError, InvalidRequest
from gateway.fronts import Endpoint
from gateway.metrics import Metrics
from gateway.server import error_middleware
from gateway.state import CONFIG, ENDPOINTS, METRICS
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator
from tests.media import png_data_url, wav

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "gateway").rglob("*.py")) + sorted((ROOT / "preprocess").rglob("*.py"))


def loaded_by(statement: str) -> set[str]:
    """Top-level packages in sys.modules after `statement`, in a fresh interpreter."""
    listing = "print(' '.join({m.split('.')[0] for m in sys.modules}))"
    code = f"{statement}\nimport sys\n{listing}"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60)  # fmt: skip
    return set(out.stdout.split())


def test_routing_loads_no_http_client() -> None:
    """Routing is a pure function: importing it must not drag in the I/O stack (it cost
    1.1 s when it did); nor does what decoding children run."""
    for module in ("gateway.core.routing", "gateway.core.prepare"):
        assert not loaded_by(f"import {module}") & {"aiohttp", "httpx", "ollama"}, module
    assert not loaded_by("import gateway.core.routing") & {"cv2", "numpy", "PIL"}


def test_preprocess_is_a_leaf() -> None:
    """Bytes and plain limits in, media types out: nothing of the gateway's is imported,
    neither at run time nor in the source."""
    modules = [f"preprocess.{p.stem}" for p in (ROOT / "preprocess").glob("*.py")]
    assert "gateway" not in loaded_by("import " + ", ".join(modules))
    for path in (ROOT / "preprocess").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]  # fmt: skip
                assert not any(n.split(".")[0] == "gateway" for n in names), path


FRESH_IMPORTS = """
import importlib, sys
failures = []
for module in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("gateway", "preprocess")]:
        del sys.modules[loaded]  # ours afresh; third-party ones stay loaded (for speed)
    try:
        importlib.import_module(module)
    except Exception as e:
        failures.append(f"{module}: {e!r}")
print("\\n".join(failures))
"""


def test_every_module_imports_first() -> None:
    """No import cycle hides behind an import order: each module, imported first with none
    of ours loaded, loads (`gateway.core.pipeline` first once failed: edge -> state ->
    pipeline)."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in SOURCES]
    modules = [m.removesuffix(".__init__") for m in modules if not m.endswith("__main__")]
    done = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    assert done.stdout.strip() == ""


def test_no_module_is_named_like_the_standard_library() -> None:
    clashes = [p for p in SOURCES if p.stem in sys.stdlib_module_names]
    assert clashes == []


def test_no_backend_kind_is_checked_outside_the_registry() -> None:
    """Capabilities are class data (`sizes_context`); a comparison with a kind's name
    outside `gateway/backends` would be a capability hidden in code."""
    found = []
    for path in SOURCES:
        if "backends" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                if set(constants) & set(KINDS):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


async def test_every_api_route_needs_the_key_unless_it_says_it_is_public(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    """Auth is a property of the route, on by default: every endpoint but the declared
    public ones, and any unknown path, answers 401 without the key."""
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), server={"api_keys": ["k1"]}
    )
    endpoints = gateway.app[ENDPOINTS]
    assert {p for p, e in endpoints.items() if e.public} == {
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/"
    }  # fmt: skip
    async with ClientSession() as s:
        for path, endpoint in [*endpoints.items(), ("/v2/anything", None)]:
            method = endpoint.method if endpoint else "GET"
            async with s.request(method, gateway.make_url(path)) as r:
                public = endpoint is not None and endpoint.public
                assert (r.status == 401) != public, (path, r.status)


async def test_an_error_is_rendered_by_the_front_whose_route_was_asked() -> None:
    """The middleware renders a failure in the matched endpoint's own shape."""

    async def fails(request: web.Request) -> web.StreamResponse:
        raise InvalidRequest("no such thing")

    def plain(e: GatewayError) -> web.Response:
        return web.json_response({"error": e.message}, status=e.status)

    app = web.Application(middlewares=[error_middleware])
    app[CONFIG], app[METRICS] = GatewayConfig(), Metrics()
    app[ENDPOINTS] = {"/other": Endpoint("GET", "/other", fails, plain)}
    app.router.add_get("/other", fails)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as s, s.get(server.make_url("/other")) as r:
            assert (r.status, await r.json()) == (400, {"error": "no such thing"})
    finally:
        await server.close()


async def test_gateway_route_without_a_gateway_decides_as_the_gateway_does(
    ollama: OllamaEmulator, make_gateway: MakeGateway, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The same prepare and plan behind `POST /v1/gateway/route` and `gateway route` asked
    directly: media, remote media and all, the answers are equal."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # no running gateway
    remote = {"type": "image_url", "image_url": {"url": "https://192.0.2.1/x.png"}}
    audio = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(wav(3.2)).decode(), "format": "wav"},
    }
    picture = {"type": "image_url", "image_url": {"url": png_data_url(640, 480)}}
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, picture, audio, remote]}]}  # fmt: skip
    gateway = await make_gateway(
        backend("o", "ollama", ollama.url), preprocess={"allow_remote_media": True}
    )
    status, _, served = await post_chat(gateway, body, "/v1/gateway/route")
    assert status == 200, served

    config = tmp_path / "gateway.toml"
    config.write_text(f'[preprocess]\nallow_remote_media = true\n[[backends]]\nname = "o"\n'
                      f'kind = "ollama"\nurl = "{ollama.url}"\n')  # fmt: skip
    request = tmp_path / "req.json"
    request.write_text(json.dumps(body))
    code = await asyncio.to_thread(cli.main, ["route", str(request), "--config", str(config)])
    direct = json.loads(capsys.readouterr().out)
    assert code == 0, direct
    assert direct == served
    assert served["preprocess"]["images"] == 2 and served["preprocess"]["clips"] == 1
    assert ollama.chats() == []
