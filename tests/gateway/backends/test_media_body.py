"""Media spliced into request bodies: byte-exact, in order, and never across requests."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest

from gateway.backends import build_backend
from gateway.backends.media_body import SLICE_BYTES, StandIns, splice
from gateway.core.messages import BackendRequest, ChatMessage
from preprocess.media import Image, Text
from tests.conftest import backend
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import OpenAIEmulator


@pytest.mark.parametrize(
    "sizes",
    [[0], [1], [2], [3], [SLICE_BYTES], [SLICE_BYTES + 1], [2 * SLICE_BYTES + 2, 5, 7]],
)
async def test_splice_gives_the_base64_of_each_part_in_place(sizes: list[int]) -> None:
    media = [os.urandom(n) for n in sizes]
    stand_ins = StandIns()
    body = json.dumps({"parts": [stand_ins.text(m) for m in media], "after": "x"}).encode()
    spliced = json.loads(await splice(body, stand_ins.media))
    assert spliced == {"parts": [base64.b64encode(m).decode() for m in media], "after": "x"}


async def test_a_body_without_stand_ins_is_sent_as_it_is() -> None:
    stand_ins = StandIns()
    stand_ins.text(b"media of some other body")
    body = b'{"messages": []}'
    assert await splice(body, stand_ins.media) is body


def chat_with(data: bytes, model: str) -> BackendRequest:
    message = ChatMessage("user", [Text("what?"), Image(data, "image/png")])
    return BackendRequest(model, [message], {})


async def test_ollama_receives_each_requests_own_media_when_sent_together() -> None:
    """The stand-ins are scoped to the request being sent: concurrent requests, streamed
    and not, each get their own bytes, whole (several slices each)."""
    async with OllamaEmulator() as emu:
        ollama = build_backend(backend("ollama", "ollama", emu.url))
        media = [os.urandom(SLICE_BYTES * 2 + i) for i in range(6)]

        async def send(i: int) -> None:
            request = chat_with(media[i], "gemma4")
            if i % 2:
                assert [c async for c in ollama.stream(request)]
            else:
                await ollama.chat(request)

        try:
            await asyncio.gather(*(send(i) for i in range(len(media))))
        finally:
            await ollama.close()
    received = {base64.b64decode(c["messages"][0]["images"][0]) for c in emu.chats()}
    assert received == set(media)


async def test_the_openai_adapter_sends_whole_data_urls() -> None:
    async with OpenAIEmulator() as lms:
        server = build_backend(backend("lms", "openai", lms.url))
        data = os.urandom(SLICE_BYTES + 10)
        try:
            await server.chat(chat_with(data, "google/gemma-4-26b-a4b"))
        finally:
            await server.close()
    url = lms.chats()[0]["messages"][0]["content"][1]["image_url"]["url"]
    assert url == "data:image/png;base64," + base64.b64encode(data).decode()
