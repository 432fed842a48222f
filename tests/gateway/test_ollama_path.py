"""The gateway over Ollama's native API, through the official `ollama` client, against a
protocol-faithful emulator on loopback; asserts both what clients get and what Ollama got."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator

import numpy as np
import pytest
import soundfile as sf
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from openai import APIStatusError, AsyncOpenAI

from gateway.embedded import free_port
from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.media import png

USER = [{"role": "user", "content": "why is the sky blue?"}]


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    models = [
        OllamaModel("gemma4:e4b"),
        OllamaModel("gemma4:26b", capabilities=("completion", "vision")),
    ]
    async with OllamaEmulator(models) as emu:
        yield emu


@pytest.fixture
async def gateway(emu: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", emu.url))


@pytest.fixture
async def client(gateway: TestServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="x", max_retries=0
    ) as client:
        yield client


def png_data_url(color: str = "red") -> tuple[str, bytes]:
    data = png(8, 8, color)
    return "data:image/png;base64," + base64.b64encode(data).decode(), data


async def test_plain_chat(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="auto",
        messages=USER,
        temperature=0.2,
        max_tokens=50,
        seed=7,  # type: ignore[arg-type]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(emu.reply_tokens)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gemma4:26b"  # auto -> the default member
    assert completion.usage and completion.usage.completion_tokens == len(emu.reply_tokens)
    assert raw.headers["X-Gateway-Model"] == "gemma4:26b"
    assert raw.headers["X-Gateway-Backend"] == "ollama"
    assert raw.headers["X-Gateway-Route"] == "default"
    sent = emu.chats()[-1]
    assert sent["model"] == "gemma4:26b" and sent["stream"] is False
    assert sent["messages"] == [{"role": "user", "content": "why is the sky blue?"}]
    assert sent["options"] == {"temperature": 0.2, "num_predict": 50, "seed": 7, "num_ctx": 8192}


async def test_streaming_chat_with_usage(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    stream = await client.chat.completions.create(
        model="gemma4-e4b", messages=USER, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(emu.reply_tokens)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(emu.reply_tokens)
    assert {c.model for c in chunks} == {"gemma4:e4b"}
    assert emu.chats()[-1]["stream"] is True


async def test_length_limit_is_reported(client: AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="gemma4-e4b",
        messages=USER,
        max_tokens=2,  # type: ignore[arg-type]
    )
    assert completion.choices[0].finish_reason == "length"


async def test_images_reach_ollama_as_raw_base64(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    url, data = png_data_url()
    await client.chat.completions.create(
        model="gemma4:e4b",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is in this image?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]}],  # type: ignore[list-item]
    )  # fmt: skip
    message = emu.chats()[-1]["messages"][0]
    assert message["content"] == "what is in this image? [img]"  # the image where it stood
    assert [base64.b64decode(i) for i in message["images"]] == [data]  # no data: prefix
    assert "<|turn>user\nwhat is in this image? [img-0]<turn|>" in emu.prompts[-1]


async def test_wav_audio_reaches_ollama_in_images(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600), 16000, format="WAV", subtype="PCM_16")  # 0.1 s of silence
    wav = buf.getvalue()
    audio = {"data": base64.b64encode(wav).decode(), "format": "wav"}
    await client.chat.completions.create(
        model="gemma4:e4b",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "transcribe"},
            {"type": "input_audio", "input_audio": audio},
        ]}],  # type: ignore[list-item]
    )  # fmt: skip
    assert base64.b64decode(emu.chats()[-1]["messages"][0]["images"][0]) == wav


async def test_tool_call_comes_back_in_openai_shape(client: AsyncOpenAI) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "w",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    completion = await client.chat.completions.create(
        model="gemma4:e4b", messages=[{"role": "user", "content": "weather in Tokyo?"}],
        tools=[tool],  # type: ignore[list-item]
    )  # fmt: skip
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Tokyo"}
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_mid_stream_error_is_an_error_event_without_done(
    gateway: TestServer, emu: OllamaEmulator
) -> None:
    emu.fail_mid_stream = "an error was encountered while running the model"
    body = {"model": "gemma4:e4b", "messages": USER, "stream": True}
    async with (
        ClientSession() as s,
        s.post(gateway.make_url("/v1/chat/completions"), json=body) as r,
    ):
        assert r.status == 200
        events = (await r.text()).strip().split("\n\n")
    assert json.loads(events[0].removeprefix("data: "))["choices"][0]["delta"]["content"]
    error = json.loads(events[-1].removeprefix("data: "))["error"]
    assert "an error was encountered while running the model" in error["message"]
    assert error["code"] == "backend_error"
    assert "data: [DONE]" not in events


async def test_model_missing_on_ollama_is_a_404(gateway: TestServer, emu: OllamaEmulator) -> None:
    # The inventory still lists the model, but Ollama no longer has it (deleted meanwhile).
    emu.models = [m for m in emu.models if m.name != "gemma4:e4b"]
    async with (
        ClientSession() as s,
        s.post(
            gateway.make_url("/v1/chat/completions"), json={"model": "gemma4:e4b", "messages": USER}
        ) as r,
    ):
        assert r.status == 404
        error = (await r.json())["error"]
    assert "not found" in error["message"] and error["code"] == "model_not_found"


async def test_unknown_model_is_a_404_listing_what_exists(client: AsyncOpenAI) -> None:
    with pytest.raises(APIStatusError) as err:
        await client.chat.completions.create(model="llama3", messages=USER)  # type: ignore[arg-type]
    assert err.value.status_code == 404
    assert "gemma4:e4b" in err.value.message


async def test_backend_down_is_a_clear_error_not_a_hang(make_gateway: MakeGateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    gateway = await make_gateway(backend("ollama", "ollama", dead))
    async with ClientSession() as s:
        async with (
            asyncio.timeout(10),
            s.post(gateway.make_url("/v1/chat/completions"), json={"messages": USER}) as r,
        ):
            assert r.status == 503
            error = (await r.json())["error"]
        assert "cannot reach Ollama backend 'ollama'" in error["message"]
        async with s.get(gateway.make_url("/readyz")) as r:
            assert r.status == 503


async def test_backend_dies_after_the_inventory_was_taken(
    gateway: TestServer, emu: OllamaEmulator
) -> None:
    await emu.stop()
    async with ClientSession() as s:
        body = {"model": "gemma4:e4b", "messages": USER}
        for stream in (False, True):
            async with (
                asyncio.timeout(10),
                s.post(
                    gateway.make_url("/v1/chat/completions"), json={**body, "stream": stream}
                ) as r,
            ):
                assert r.status in (502, 503)
                assert "Ollama" in (await r.json())["error"]["message"]


async def test_backend_error_statuses_are_mapped(gateway: TestServer, emu: OllamaEmulator) -> None:
    async with ClientSession() as s:
        for status, body, expected in [
            (
                503,
                {"error": "server busy, please try again.  maximum pending requests exceeded"},
                429,
            ),
            (400, {"error": '"gemma4:e4b" does not support thinking'}, 400),
            (500, {"error": "llama runner process has terminated"}, 502),
        ]:
            emu.status_override = (status, body)
            async with s.post(
                gateway.make_url("/v1/chat/completions"),
                json={"model": "gemma4:e4b", "messages": USER},
            ) as r:
                assert r.status == expected
                assert body["error"] in (await r.json())["error"]["message"]


async def test_first_byte_timeout_is_a_504(emu: OllamaEmulator, make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", emu.url, first_byte_timeout_s=0.3))
    emu.delay_first_byte = 2
    async with ClientSession() as s:
        for stream in (False, True):
            async with s.post(
                gateway.make_url("/v1/chat/completions"),
                json={"model": "gemma4:e4b", "messages": USER, "stream": stream},
            ) as r:
                assert r.status == 504


async def test_client_disconnect_cancels_the_upstream_request(
    gateway: TestServer, emu: OllamaEmulator
) -> None:
    emu.token_delay = 0.2
    body = {"model": "gemma4:e4b", "messages": USER, "stream": True}
    async with (
        ClientSession() as s,
        s.post(gateway.make_url("/v1/chat/completions"), json=body) as r,
    ):
        await r.content.readline()  # the first event arrived: the answer is under way
    await asyncio.wait_for(emu.chat_cancelled.wait(), 5)


async def test_models_lists_auto_aliases_and_concrete_models(gateway: TestServer) -> None:
    async with ClientSession() as s, s.get(gateway.make_url("/v1/models")) as r:
        listing = await r.json()
    ids = [m["id"] for m in listing["data"]]
    assert ids == ["auto", "gemma4-e4b", "gemma4-26b-a4b", "gemma4:e4b", "gemma4:26b"]
    e4b = listing["data"][3]["gateway"]
    assert e4b == {
        "backend": "ollama", "member": "gemma4-e4b", "inputs": ["audio", "image", "text"],
        "context": 131072, "loaded": False, "embedding": False,
    }  # fmt: skip
    async with ClientSession() as s, s.get(gateway.make_url("/readyz")) as r:
        assert r.status == 200
