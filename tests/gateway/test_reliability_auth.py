"""Auth and credentials (issue 8, class 9): API keys are checked at start, `Authorization` is
parsed strictly (a 401 for anything but `Bearer <key>`, never a 500), a backend URL's
password is never shown, and the gateway does not listen beyond loopback without keys
unless told to."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gateway.cli import main
from gateway.config import ConfigError, ServerConfig, load_config
from gateway.embedded import free_port
from tests.conftest import MakeGateway, backend, post_chat, raw_request
from tests.fakes.ollama_server import OllamaEmulator

KEY = "k1-secret"
SECRET = "s3cret"
USER = {"role": "user", "content": "hi"}


def with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@")


@pytest.mark.parametrize("keys", ['[""]', '["  "]', '["k1", "has space"]', '["kéy"]'])
def test_unusable_api_keys_stop_the_start_naming_the_key(tmp_path: Path, keys: str) -> None:
    file = tmp_path / "gateway.toml"
    file.write_text(f"[server]\napi_keys = {keys}\n")
    with pytest.raises(ConfigError, match=r"config key 'server\.api_keys\.\d'.*empty key"):
        load_config(str(file), env={})
    file.write_text("")
    with pytest.raises(ConfigError, match=r"'server\.api_keys\.\d'"):  # from the environment
        load_config(str(file), env={"GATEWAY_SERVER_API_KEYS": keys})


@pytest.fixture
async def keyed(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url), server={"api_keys": [KEY]})


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {KEY}", 200),
        (f"bearer {KEY}", 200),  # the scheme is case-insensitive (RFC 9110)
        (f"BEARER {KEY}", 200),
        (KEY, 401),  # the key alone, without its scheme
        (f"Bearer  {KEY}", 401),
        (f"Basic {KEY}", 401),
        (f"Bearer {KEY} x", 401),
        (f"Bearer {KEY}x", 401),
        ("Bearer", 401),
        ("", 401),
    ],
)
async def test_authorization_is_bearer_and_the_key_exactly(
    keyed: TestServer, header: str, status: int
) -> None:
    async with (
        ClientSession() as s,
        s.get(keyed.make_url("/v1/models"), headers={"Authorization": header}) as r,
    ):
        assert r.status == status
        if status == 401:
            assert (await r.json())["error"]["code"] == "invalid_api_key"
            assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "value", [b"Bearer \xff\xfe", b"Bearer k1-secr\xc3\xa9t", b"Bearer " + KEY.encode() + b"\x80"]
)
async def test_bytes_that_are_no_ascii_in_authorization_are_a_401(
    keyed: TestServer, value: bytes
) -> None:
    answer = await raw_request(
        keyed,
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: " + value
        + b"\r\nConnection: close\r\n\r\n",
    )  # fmt: skip
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
    assert b'"invalid_api_key"' in answer


async def test_a_password_in_a_backend_url_is_sent_but_never_shown(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    """Sent as Basic auth (the ollama client would drop it), shown as `***@` in /readyz and
    in error bodies."""
    gateway = await make_gateway(backend("ollama", "ollama", with_password(ollama.url)))
    async with ClientSession() as s, s.get(gateway.make_url("/readyz")) as r:
        text = await r.text()
    assert r.status == 200 and SECRET not in text
    shown = ollama.url.replace("http://", "http://***@")
    assert json.loads(text)["backends"]["ollama"]["url"] == shown
    basic = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert {r.headers.get("Authorization") for r in ollama.received} == {f"Basic {basic}"}

    ollama.garbage = b"<html>oops</html>"  # an error whose message names the backend's URL
    status, _, reply = await post_chat(gateway, {"model": "gemma4:e4b", "messages": [USER]})
    assert status == 502 and shown in reply["error"]["message"]
    assert SECRET not in json.dumps(reply)


async def test_a_password_in_an_unreachable_backend_url_is_not_in_503s(
    make_gateway: MakeGateway,
) -> None:
    url = with_password(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    gateway = await make_gateway(backend("lms", "openai", url), backend("oll", "ollama", url))
    async with ClientSession() as s, s.get(gateway.make_url("/readyz")) as r:
        ready = await r.text()
    status, _, reply = await post_chat(gateway, {"messages": [USER]})
    assert (r.status, status) == (503, 503)
    assert "***@127.0.0.1" in ready
    assert SECRET not in ready and SECRET not in json.dumps(reply)


def test_a_url_password_and_an_api_key_together_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "gateway.toml"
    file.write_text(
        f'[[backends]]\nname = "gpu"\nkind = "openai"\nurl = "{with_password("http://h:1")}"\n'
        'api_key = "k"\n'
    )
    with pytest.raises(ConfigError, match=r"'backends\.0'.*keep only one of them") as caught:
        load_config(str(file), env={})
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "gateway.example"])
def test_listening_beyond_loopback_without_keys_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    file = tmp_path / "gateway.toml"
    file.write_text("")
    assert main(["up", "--config", str(file), "--host", host]) == 2
    err = capsys.readouterr().err
    assert "'server.host'" in err and "allow_unauthenticated" in err


@pytest.mark.parametrize(
    "server",
    [
        {"host": "0.0.0.0", "api_keys": ["k"]},
        {"host": "0.0.0.0", "allow_unauthenticated": True},
        {"host": "127.0.0.2"},
        {"host": "::1"},
        {"host": "::ffff:127.0.0.1"},
        {"host": "localhost"},
    ],
)
def test_loopback_or_keys_or_consent_may_listen(server: dict[str, object]) -> None:
    ServerConfig.model_validate(server).check_exposure()


async def test_gateway_status_shows_no_backend_password(
    ollama: OllamaEmulator,
    make_gateway: MakeGateway,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", with_password(ollama.url)))
    pid_file = tmp_path / "gateway.pid"
    pid_file.write_text(
        json.dumps({"pid": os.getpid(), "url": f"http://{gateway.host}:{gateway.port}"})
    )
    config = tmp_path / "gateway.toml"
    config.write_text(f'[server]\npid_file = "{pid_file}"\n')
    assert await asyncio.to_thread(main, ["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "http://***@127.0.0.1" in out and SECRET not in out
