"""The gateway against an Ollama that behaves as today's does (protocols.md §0b): it thinks by
default, places media by `[img]` placeholders, counts 768 per image when it truncates,
takes no `tool_choice`, and lists a 12B. Driven through the real `openai` SDK; asserts what
Ollama received and the prompt its renderer built."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI, BadRequestError

from tests.conftest import MakeGateway, backend
from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.media import png_data_url, wav

REPLY = "".join(DEFAULT_REPLY)
SEEING = ("completion", "vision", "tools", "thinking")


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    models = [
        OllamaModel("gemma4:e4b"),  # completion vision audio tools thinking
        OllamaModel("gemma4:12b", context_length=262144),
        OllamaModel("gemma4:26b", capabilities=SEEING, context_length=262144),
    ]
    async with OllamaEmulator(models) as emu:
        yield emu


async def client_for(gateway: TestServer) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", max_retries=0)


@pytest.fixture
async def client(emu: OllamaEmulator, make_gateway: MakeGateway) -> AsyncIterator[AsyncOpenAI]:
    async with await client_for(await make_gateway(backend("ollama", "ollama", emu.url))) as c:
        yield c


def audio_part(seconds: float = 2) -> dict[str, Any]:
    data = base64.b64encode(wav(seconds)).decode()
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


def user(*parts: dict[str, Any] | str) -> list[Any]:
    content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return [{"role": "user", "content": content}]


async def test_audio_is_answered_because_thinking_is_off(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    # Before: no `think` was sent, Ollama thought, and the answer's content was empty.
    reply = await client.chat.completions.create(
        model="auto", messages=user("Transcribe this.", audio_part())
    )
    assert emu.chats()[-1]["think"] is False
    assert emu.chats()[-1]["model"] == "gemma4:e4b"
    assert reply.choices[0].message.content == REPLY
    assert "<|think|>" not in emu.prompts[-1]


@pytest.mark.parametrize(
    ("effort", "think"), [("none", False), ("minimal", "low"), ("high", "high"), ("xhigh", "max")]
)
async def test_reasoning_effort_reaches_ollama_as_a_value_it_takes(
    client: AsyncOpenAI, emu: OllamaEmulator, effort: str, think: object
) -> None:
    # Before: "minimal" and "xhigh" were sent as they are and Ollama answered 400.
    reply = await client.chat.completions.create(
        model="gemma4-e4b",
        messages=user("Hi"),
        reasoning_effort=effort,  # type: ignore[arg-type]
    )
    assert emu.chats()[-1]["think"] == think
    message = reply.choices[0].message.model_dump()
    assert bool(message.get("reasoning_content")) is (think is not False)


async def test_media_stay_between_the_words_they_were_sent_with(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    image = {"type": "image_url", "image_url": {"url": png_data_url()}}
    await client.chat.completions.create(
        model="gemma4-26b-a4b", messages=user("Compare", image, "with", image, "please.")
    )
    assert "<|turn>user\nCompare [img-0] with [img-1] please.<turn|>" in emu.prompts[-1]


async def test_num_ctx_holds_ollamas_own_count_of_images(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    # 12 images: about 3,400 tokens as the model sees them, 9,216 as Ollama's truncation
    # counts them. Before, num_ctx was 8192 and Ollama silently dropped the images' turn.
    image = {"type": "image_url", "image_url": {"url": png_data_url()}}
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Look."}, *[image] * 12]},
        {"role": "assistant", "content": "Twelve black squares."},
        {"role": "user", "content": "How many were there?"},
    ]
    raw = await client.chat.completions.with_raw_response.create(
        model="gemma4-26b-a4b",
        messages=history,  # type: ignore[arg-type]
    )
    assert emu.chats()[-1]["options"]["num_ctx"] == 16384
    assert emu.truncated[-1] == 0 and emu.prompts[-1].count("[img-") == 12
    assert int(raw.headers["X-Gateway-Tokens-Estimate"]) < 8192  # the real estimate


async def test_plain_audio_stays_on_e4b_and_too_long_audio_goes_to_the_12b(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="auto", messages=user("Transcribe.", audio_part())
    )
    assert (raw.headers["X-Gateway-Model"], raw.headers["X-Gateway-Route"]) == (
        "gemma4:e4b", "audio"
    )  # fmt: skip
    # Over E4B's 128K window with the answer it reserves: before, a 400; now the 12B.
    raw = await client.chat.completions.with_raw_response.create(
        model="auto", messages=user("Transcribe.", audio_part()), max_tokens=140_000
    )
    assert (raw.headers["X-Gateway-Model"], raw.headers["X-Gateway-Route"]) == (
        "gemma4:12b", "audio"
    )  # fmt: skip
    models = {m.id: m.model_dump() for m in (await client.models.list()).data}
    assert models["gemma4-12b"]["owned_by"] == "gateway"
    assert models["gemma4:12b"]["gateway"]["member"] == "gemma4-12b"
    assert models["gemma4:12b"]["gateway"]["context"] == 262144


async def test_edge_images_switch_keeps_pictures_off_e2b_and_e4b(
    emu: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", emu.url, edge_images=False))
    image = {"type": "image_url", "image_url": {"url": png_data_url()}}
    async with await client_for(gateway) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="auto",
            messages=user("What is it?", image),
            extra_headers={"X-Gateway-Prefer": "speed"},  # fmt: skip
        )
        assert raw.headers["X-Gateway-Model"] != "gemma4:e4b"
        with pytest.raises(BadRequestError, match="cannot take image"):
            await client.chat.completions.create(
                model="gemma4-e4b", messages=user("What is it?", image)
            )
        reply = await client.chat.completions.create(
            model="gemma4-e4b", messages=user("Transcribe.", audio_part())
        )
        assert reply.choices[0].message.content == REPLY  # it still hears


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_forced_tool_call_is_honoured(
    client: AsyncOpenAI, emu: OllamaEmulator, stream: bool
) -> None:
    # Before: tool_choice was dropped and the model answered in prose.
    choice = {"type": "function", "function": {"name": "get_weather"}}
    kwargs: dict[str, Any] = {"model": "gemma4-e4b", "messages": user("Hi"),
                              "tools": [WEATHER], "tool_choice": choice}  # fmt: skip
    if stream:
        name, arguments, finish = "", "", None
        async for chunk in await client.chat.completions.create(**kwargs, stream=True):
            for call in chunk.choices[0].delta.tool_calls or ():
                name += call.function.name or "" if call.function else ""
                arguments += call.function.arguments or "" if call.function else ""
            finish = chunk.choices[0].finish_reason or finish
    else:
        reply = await client.chat.completions.create(**kwargs)
        (call,) = reply.choices[0].message.tool_calls or []
        name, arguments = call.function.name, call.function.arguments
        finish = reply.choices[0].finish_reason
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "Tokyo"},
                                                     "tool_calls")  # fmt: skip
    assert emu.chats()[-1]["format"] == WEATHER["function"]["parameters"]


async def test_logprobs_come_back_from_ollama(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    # Before: dropped on the Ollama path without a word.
    reply = await client.chat.completions.create(
        model="gemma4-e4b", messages=user("Hi"), logprobs=True, top_logprobs=2
    )
    assert (emu.chats()[-1]["logprobs"], emu.chats()[-1]["top_logprobs"]) == (True, 2)
    content = reply.choices[0].logprobs and reply.choices[0].logprobs.content
    assert content and "".join(t.token for t in content) == REPLY
    assert all(len(t.top_logprobs) == 2 for t in content)
    with pytest.raises(BadRequestError, match="top_logprobs"):
        await client.chat.completions.create(
            model="gemma4-e4b", messages=user("Hi"), logprobs=True, top_logprobs=25
        )


async def test_image_generation_capability_is_not_image_input(
    make_gateway: MakeGateway,
) -> None:
    # `image` in Ollama's capabilities means the model makes images (capability.go).
    painter = OllamaModel("x/gemma4-painter:e4b", capabilities=("completion", "image"))
    async with OllamaEmulator([painter]) as emu:
        gateway = await make_gateway(backend("ollama", "ollama", emu.url))
        async with await client_for(gateway) as client:
            (model,) = [m for m in (await client.models.list()).data if m.id == painter.name]
            assert model.model_dump()["gateway"]["inputs"] == ["text"]
