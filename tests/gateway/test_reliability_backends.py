"""Broken backends never look like success (issue 8, class 6): an answer that is not the
backend's protocol (HTML, garbage, invalid UTF-8, JSON of another shape, a stream that ends
without finishing) is a 502 and the next backend is tried while nothing has been sent; after
the first byte it is one error event and the stream ends without `[DONE]`.

Each case runs through the gateway against a broken emulator (its fault knobs) listed first
and a healthy one of the same kind second."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI

from gateway.backends import aiohttp_transport, openai_compat
from gateway.core.errors import BackendError
from gateway.core.messages import BackendRequest, ChatMessage
from preprocess.media import Text
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.base import Emulator
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import LMModel, OpenAIEmulator

MODEL = "gemma4-e4b"  # gemma4:e4b on Ollama, google/gemma-4-e4b on LM Studio
USER = [{"role": "user", "content": "hi"}]
REPLY = "Hello! How can I help you today?"  # the emulators' default answer
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
# An Ollama line whose content is not UTF-8 (httpx alone would make it U+FFFD and pass it).
NOT_UTF8_LINE = (
    b'{"model":"m","created_at":"","message":{"role":"assistant","content":"\xff\xfe"}}\n'
)


def emulator(kind: str) -> Emulator:
    if kind == "ollama":
        return OllamaEmulator([OllamaModel("gemma4:e4b")])
    return OpenAIEmulator([LMModel("google/gemma-4-e4b")])


@dataclass
class Pair:
    broken: Emulator
    healthy: Emulator
    gateway: TestServer


@pytest.fixture(params=["ollama", "openai"])
async def pair(request: pytest.FixtureRequest, make_gateway: MakeGateway) -> AsyncIterator[Pair]:
    kind = request.param
    async with emulator(kind) as broken, emulator(kind) as healthy:
        gateway = await make_gateway(
            backend("broken", kind, broken.url), backend("healthy", kind, healthy.url)
        )
        yield Pair(broken, healthy, gateway)


def events(text: str) -> list[str]:
    return [e.removeprefix("data: ") for e in text.strip().split("\n\n")]


def break_it(emu: Emulator, garbage: bytes | None, truncate: bool, after: int) -> None:
    emu.garbage, emu.truncate_stream, emu.fault_after = garbage, truncate, after


# What the broken backend answers, as (Ollama's, the OpenAI-compatible one's).
BEFORE_FIRST_BYTE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "html": ({"garbage": HTML}, {"garbage": HTML}),
    "not utf-8": (
        {"garbage": b'{"message":{"role":"assistant","content":"\xff"},"done":true}'},
        {"garbage": b'{"choices":[{"message":{"content":"\xff"}}]}'},
    ),
    "json of another shape": ({"garbage": b"[1, 2]"}, {"garbage": b'{"ok": true}'}),
    "json without the answer": ({"garbage": b'{"done": true}'}, {"garbage": b'{"choices": []}'}),
}


@pytest.mark.parametrize("case", BEFORE_FIRST_BYTE)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_broken_answer_before_the_first_byte_fails_over(
    pair: Pair, case: str, stream: bool
) -> None:
    ollama_knobs, openai_knobs = BEFORE_FIRST_BYTE[case]
    knobs = ollama_knobs if isinstance(pair.broken, OllamaEmulator) else openai_knobs
    # Streamed, the garbage is the whole answer too (nothing of the stream before it).
    break_it(pair.broken, knobs["garbage"], False, 0)
    status, headers, reply = await post_chat(
        pair.gateway, {"model": MODEL, "messages": USER, "stream": stream}
    )
    assert status == 200, reply
    assert len(pair.broken.chats()) == 1  # it was tried first ...
    assert headers["X-Gateway-Backend"] == "healthy"  # ... and the next one answered
    assert headers["X-Gateway-Route"] == "fallback"
    if stream:
        assert events(reply)[-1] == "[DONE]"
    else:
        assert reply["choices"][0]["message"]["content"] == REPLY


async def test_a_stream_that_ends_before_its_first_chunk_fails_over(pair: Pair) -> None:
    break_it(pair.broken, None, True, 0)
    status, headers, _ = await post_chat(
        pair.gateway, {"model": MODEL, "messages": USER, "stream": True}
    )
    assert (status, headers["X-Gateway-Backend"]) == (200, "healthy")
    assert len(pair.broken.chats()) == 1


async def test_without_another_backend_a_broken_answer_is_a_502(
    make_gateway: MakeGateway,
) -> None:
    """Through the `openai` SDK: an error it can read, never a 500 or an empty success."""
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as emu:
        emu.garbage = HTML
        gateway = await make_gateway(backend("ollama", "ollama", emu.url))
        async with AsyncOpenAI(
            base_url=str(gateway.make_url("/v1")), api_key="x", max_retries=0
        ) as client:
            with pytest.raises(Exception) as caught:
                await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    error = caught.value
    assert getattr(error, "status_code", None) == 502
    assert getattr(error, "code", None) == "backend_error"
    assert "not Ollama's JSON" in str(error)


# What breaks a stream after its first chunks, as (Ollama's, the OpenAI-compatible one's).
MID_STREAM: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ends without finishing": ({"truncate": True}, {"truncate": True}),
    "not json": ({"garbage": b"{not json\n"}, {"garbage": b"data: {not json\n\n"}),
    "not utf-8": ({"garbage": NOT_UTF8_LINE}, {"garbage": b"data: \xff\xfe\n\n"}),
    "json of another shape": ({"garbage": b"[1]\n"}, {"garbage": b'data: {"choices": "x"}\n\n'}),
    "an object that is no chunk": (
        {"garbage": b'{"message": "x"}\n'},
        {"garbage": b'data: {"choices": [{"delta": "x"}]}\n\n'},
    ),
}


@pytest.mark.parametrize("case", MID_STREAM)
async def test_a_broken_stream_after_the_first_byte_ends_with_an_error_event(
    pair: Pair, case: str
) -> None:
    ollama_knobs, openai_knobs = MID_STREAM[case]
    knobs = ollama_knobs if isinstance(pair.broken, OllamaEmulator) else openai_knobs
    # Two frames reach the client first (role, first token), then the fault, read apart.
    break_it(pair.broken, knobs.get("garbage"), knobs.get("truncate", False), 2)
    pair.broken.token_delay = 0.05
    status, headers, text = await post_chat(
        pair.gateway, {"model": MODEL, "messages": USER, "stream": True}
    )
    assert (status, headers["X-Gateway-Backend"]) == (200, "broken")
    *chunks, last = events(text)
    assert chunks and all("choices" in json.loads(c) for c in chunks)
    error = json.loads(last)["error"]
    assert error["code"] == "backend_error" and "'broken'" in error["message"]
    assert "[DONE]" not in text
    assert pair.healthy.chats() == []  # too late to fail over: the client has bytes


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_an_endless_line_ends_the_stream_with_an_error(
    monkeypatch: pytest.MonkeyPatch, make_gateway: MakeGateway, kind: str
) -> None:
    """A backend that never ends a line or an event cannot make the gateway buffer without
    end."""
    monkeypatch.setattr(aiohttp_transport, "MAX_LINE_BYTES", 4096)
    monkeypatch.setattr(openai_compat, "MAX_EVENT_BYTES", 4096)
    async with emulator(kind) as emu:
        emu.garbage, emu.fault_after, emu.token_delay = b"data: " + b"x" * 10_000, 2, 0.05
        gateway = await make_gateway(backend("b", kind, emu.url))
        status, _, text = await post_chat(
            gateway, {"model": MODEL, "messages": USER, "stream": True}
        )
    assert status == 200
    assert "of over 4096 bytes" in json.loads(events(text)[-1])["error"]["message"]


async def test_u0085_in_an_ollama_answer_passes_intact(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    """Go's JSON leaves U+0085 raw and httpx splits lines at it: the transport escapes it, so
    a model that writes one does not break its own stream."""
    ollama.reply_tokens = ["a\x85b", " c"]
    gateway = await make_gateway(backend("ollama", "ollama", ollama.url))
    status, _, text = await post_chat(gateway, {"model": MODEL, "messages": USER, "stream": True})
    assert status == 200
    *chunks, done = events(text)
    content = "".join(
        c["choices"][0]["delta"].get("content", "")
        for c in map(json.loads, chunks) if c["choices"]
    )  # fmt: skip
    assert (content, done) == ("a\x85b c", "[DONE]")


async def test_a_boundless_answer_is_a_502_not_a_buffer(
    monkeypatch: pytest.MonkeyPatch, make_gateway: MakeGateway
) -> None:
    monkeypatch.setattr(openai_compat, "MAX_ANSWER_BYTES", 4096)
    async with emulator("openai") as emu:
        emu.garbage = b" " * 10_000
        gateway = await make_gateway(backend("b", "openai", emu.url))
        status, _, reply = await post_chat(gateway, {"model": MODEL, "messages": USER})
    assert status == 502
    assert "answered with over 4096 bytes" in reply["error"]["message"]


@pytest.mark.parametrize("body", [b"\xff\xfe oops", b"[1]", b"x" * 10_000])
async def test_an_error_status_with_any_body_is_a_gateway_error(
    monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    """Not UTF-8, JSON that is no object, or too long: still the status's error, no 500."""
    monkeypatch.setattr(openai_compat, "MAX_ANSWER_BYTES", 4096)

    async def fail(_: web.Request) -> web.Response:
        return web.Response(status=500, body=body, content_type="text/plain")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", fail)
    async with TestServer(app, host="127.0.0.1") as upstream:
        adapter = openai_compat.OpenAICompatBackend(
            backend("b", "openai", str(upstream.make_url("")).rstrip("/"))
        )
        request = BackendRequest("m", [ChatMessage("user", [Text("hi")])], {})
        try:
            with pytest.raises(BackendError, match="backend 'b'"):
                await adapter.chat(request)
        finally:
            await adapter.close()
