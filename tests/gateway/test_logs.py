"""Logs (issue 12): `server.log_format`, one access line per request, refreshes logged only
when something changed, quiet third-party loggers, nothing secret at any level."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.config import GatewayConfig, load_config
from gateway.logs import QUIET, configure
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator
from tests.media import png_data_url

CHAT = "/v1/chat/completions"
Capture = Callable[..., io.StringIO]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """`configure` writing into a StringIO; the root logger and QUIET levels put back after."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers), {n: logging.getLogger(n).level for n in QUIET}

    def start(**server: Any) -> io.StringIO:
        out = io.StringIO()
        config = GatewayConfig.model_validate({"server": server, "backends": []})
        configure(config, out)
        return out

    yield start
    level, handlers, quiet = saved
    root.setLevel(level)
    root.handlers[:] = handlers
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


def records(out: io.StringIO, logger: str | None = None) -> list[dict[str, Any]]:
    """The JSON lines written so far (each must parse), those of `logger` when given."""
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in lines if logger is None or r["logger"] == logger]


async def access_lines(out: io.StringIO, n: int = 1) -> list[dict[str, Any]]:
    for _ in range(100):
        if len(found := records(out, "gateway.access")) >= n:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access line in:\n{out.getvalue()}")


async def gateway_on(
    make_gateway: MakeGateway, ollama: OllamaEmulator, **server: Any
) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url), server=server)


def chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gemma4:e4b", "messages": [{"role": "user", "content": text}], **extra}


async def test_a_chat_has_one_json_access_line_with_its_fields(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator
) -> None:
    out = capture(log_format="json")
    gateway = await gateway_on(make_gateway, ollama)
    status, headers, _ = await post_chat(gateway, chat())
    assert status == 200
    [line] = await access_lines(out)
    assert line["level"] == "INFO" and line["msg"] == f"POST {CHAT} 200"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    headers = {k.lower(): v for k, v in headers.items()}
    assert line["request_id"] == headers["x-request-id"]
    assert (line["method"], line["path"], line["front"], line["status"]) == (
        "POST",
        CHAT,
        "openai",
        200,
    )
    assert (line["model"], line["backend"]) == ("gemma4:e4b", "ollama")
    assert line["route"] == headers["x-gateway-route"]
    # The line is written once the answer has left: its head first, then the whole of it.
    assert 0 < line["ttfb_ms"] <= line["total_ms"]
    assert line["tokens_in"] > 0 and line["tokens_out"] > 0
    assert line["media"] is None
    # one line per request: the route decision is no second info line
    assert [r["logger"] for r in records(out) if r["logger"].startswith("gateway.pipeline")] == []


async def test_a_stream_logs_its_first_byte_before_its_end(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator
) -> None:
    out = capture(log_format="json")
    gateway = await gateway_on(make_gateway, ollama)
    ollama.token_delay = 0.05
    body = chat(stream=True, stream_options={"include_usage": True})
    status, _, text = await post_chat(gateway, body)
    assert status == 200 and "[DONE]" in text
    [line] = await access_lines(out)
    assert (line["front"], line["status"], line["model"]) == ("openai", 200, "gemma4:e4b")
    assert 0 < line["ttfb_ms"] < line["total_ms"]
    assert line["total_ms"] - line["ttfb_ms"] >= 40  # the tokens after the first came slowly
    assert line["tokens_in"] > 0 and line["tokens_out"] > 0


async def test_the_ollama_front_is_named(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator
) -> None:
    out = capture(log_format="json")
    gateway = await gateway_on(make_gateway, ollama)
    status, _, _ = await post_chat(gateway, chat(stream=False), path="/api/chat")
    assert status == 200
    [line] = await access_lines(out)
    assert (line["front"], line["path"], line["backend"]) == ("ollama", "/api/chat", "ollama")
    assert line["tokens_in"] > 0 and line["tokens_out"] > 0
    status, _, _ = await post_chat(gateway, {}, path="/nowhere")
    assert status == 404
    assert (await access_lines(out, 2))[1]["front"] == "-"


async def test_text_format_is_one_line_of_key_value_pairs(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator
) -> None:
    out = capture()  # the default
    gateway = await gateway_on(make_gateway, ollama)
    status, headers, _ = await post_chat(gateway, chat())
    assert status == 200
    await asyncio.sleep(0.1)
    [line] = [x for x in out.getvalue().splitlines() if " gateway.access: " in x]
    request_id = {k.lower(): v for k, v in headers.items()}["x-request-id"]
    assert f"gateway.access: POST {CHAT} 200 request_id={request_id} " in line
    pairs = dict(p.split("=", 1) for p in line.split(f"{CHAT} 200 ", 1)[1].split(" "))
    assert pairs["front"] == "openai" and pairs["model"] == "gemma4:e4b"
    assert pairs["media"] == "-" and int(pairs["tokens_out"]) > 0
    assert 0 < float(pairs["ttfb_ms"]) <= float(pairs["total_ms"])


async def test_refreshes_are_logged_only_when_something_changes(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator
) -> None:
    out = capture(log_format="json")
    gateway = await gateway_on(make_gateway, ollama, refresh_seconds=0.05)
    await asyncio.sleep(0.5)  # ten refreshes: the first one said the backend is up, no other
    assert [r["msg"] for r in records(out)] == ["backend ollama is up: 1 models, loaded: none"]
    assert (await post_chat(gateway, chat()))[0] == 200  # loads the model
    await asyncio.sleep(0.3)
    changed = [r for r in records(out) if r["logger"] == "gateway.inventory"]
    assert [r["msg"] for r in changed[1:]] == [
        "backend ollama loaded models now gemma4:e4b (were none)"
    ]
    port = int(ollama.url.rsplit(":", 1)[1])
    await ollama.stop()
    await asyncio.sleep(0.5)
    down = [r for r in records(out, "gateway.inventory") if r["level"] == "WARNING"]
    assert len(down) == 1, down
    assert down[0]["msg"].startswith("backend ollama is down: ")
    assert (down[0]["backend"], down[0]["event"]) == ("ollama", "down")
    await ollama.start(port)
    await asyncio.sleep(0.3)
    assert records(out, "gateway.inventory")[-1]["event"] == "up"
    assert len(records(out, "gateway.inventory")) == 4  # up, loaded, down, up
    assert not [r for r in records(out) if not r["logger"].startswith("gateway")]


def test_third_party_loggers_are_quiet_at_info_only(capture: Capture) -> None:
    capture(log_level="info")
    assert {n: logging.getLogger(n).getEffectiveLevel() for n in QUIET} == dict.fromkeys(
        QUIET, logging.WARNING
    )
    out = capture(log_level="info")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:11434/api/tags")
    logging.getLogger("gateway").info("ours")
    assert "api/tags" not in out.getvalue() and "ours" in out.getvalue()
    capture(log_level="debug")
    assert all(logging.getLogger(n).getEffectiveLevel() == logging.DEBUG for n in QUIET)


def test_log_format_is_a_config_key_with_an_env_override() -> None:
    assert GatewayConfig().server.log_format == "text"
    config, _ = load_config(
        env={"GATEWAY_SERVER_LOG_FORMAT": "json", "GATEWAY_CONFIG": "/dev/null"}
    )
    assert config.server.log_format == "json"


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_no_key_prompt_or_media_at_debug(
    capture: Capture, make_gateway: MakeGateway, ollama: OllamaEmulator, log_format: str
) -> None:
    key, backend_key, prompt = "sk-gw-Zq81secret", "bk-Yp72backend", "the zebra sings 4711"
    out = capture(log_level="debug", log_format=log_format)
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url, api_key=backend_key),
        server={"api_keys": [key], "refresh_seconds": 0.1},
    )
    image = png_data_url(16, 16, "red")
    picture = {"type": "image_url", "image_url": {"url": image}}
    content = [{"type": "text", "text": prompt}, picture]
    body = {"model": "gemma4:e4b", "messages": [{"role": "user", "content": content}]}
    auth = {"Authorization": f"Bearer {key}"}
    assert (await post_chat(gateway, body, **auth))[0] == 200
    assert (await post_chat(gateway, {**body, "stream": True}, **auth))[0] == 200
    assert (await post_chat(gateway, chat(prompt), path="/api/chat", **auth))[0] == 200
    assert (await post_chat(gateway, body, Authorization=f"Bearer {key}x"))[0] == 401
    await asyncio.sleep(0.3)
    logged = out.getvalue()
    assert len(await access_lines(out, 4) if log_format == "json" else logged) > 0
    assert "DEBUG" in logged  # debug was on
    encoded = image.split(",", 1)[1]
    for secret in (key, backend_key, prompt, "zebra", encoded[:24], encoded[-24:]):
        assert secret not in logged, secret
