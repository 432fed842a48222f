"""The gateway over LM Studio and plain OpenAI-compatible servers (emulated on loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from openai import APIStatusError, AsyncOpenAI

from tests.conftest import MakeGateway, backend
from tests.fakes.openai_server import LMModel, OpenAIEmulator
from tests.media import png_data_url

USER = [{"role": "user", "content": "Introduce yourself."}]
GEMMA = "google/gemma-4-26b-a4b"


async def start(emu: OpenAIEmulator, make_gateway: MakeGateway, **extra: object) -> AsyncOpenAI:
    gateway = await make_gateway(backend("lms", "openai", emu.url, **extra))
    return AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", max_retries=0)


@pytest.fixture(params=["string", "object"])
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[OpenAIEmulator]:
    models = [LMModel(GEMMA, state="loaded", loaded_context_length=4096),
              LMModel("qwen2-7b", type="llm", arch="qwen2")]  # fmt: skip
    async with OpenAIEmulator(models, error_shape=request.param) as emu:
        yield emu


async def test_plain_and_headers(emu: OpenAIEmulator, make_gateway: MakeGateway) -> None:
    async with await start(emu, make_gateway) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="auto", messages=USER, temperature=0.7, max_tokens=40,  # type: ignore[arg-type]
            extra_body={"top_k": 5},
        )  # fmt: skip
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(emu.reply_tokens)
    assert completion.model == GEMMA
    assert raw.headers["X-Gateway-Model"] == GEMMA and raw.headers["X-Gateway-Backend"] == "lms"
    sent = emu.chats()[-1]
    # Every field is forwarded as sent, unknown ones (top_k) included.
    assert sent == {"model": GEMMA, "messages": USER, "temperature": 0.7, "max_tokens": 40,
                    "top_k": 5, "stream": False}  # fmt: skip


async def test_stream_relays_chunks_and_usage(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    async with await start(emu, make_gateway) as client:
        stream = await client.chat.completions.create(
            model="gemma4-26b-a4b", messages=USER, stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )  # fmt: skip
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(
        emu.reply_tokens
    )
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert emu.chats()[-1]["stream_options"] == {"include_usage": True}


async def test_lmstudio_listing_gives_type_state_and_context(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(backend("lms", "openai", emu.url))
    async with ClientSession() as s, s.get(gateway.make_url("/v1/models")) as r:
        data = {m["id"]: m for m in (await r.json())["data"]}
    # Loaded at 4096: LM Studio would cut a longer prompt, so that is its window.
    assert data[GEMMA]["gateway"] == {"backend": "lms", "member": "gemma4-26b-a4b",
                                      "inputs": ["image", "text"], "context": 4096,
                                      "loaded": True, "embedding": False}  # fmt: skip
    assert data["qwen2-7b"]["gateway"]["inputs"] == ["text"]


async def test_plain_openai_server_falls_back_to_v1_models(make_gateway: MakeGateway) -> None:
    async with OpenAIEmulator([LMModel("some-model")], flavour="plain") as emu:
        async with await start(emu, make_gateway) as client:
            completion = await client.chat.completions.create(model="auto", messages=USER)  # type: ignore[arg-type]
        assert completion.model == "some-model"
        assert ("GET", "/v1/models") in [(r.method, r.path) for r in emu.received]


async def test_images_become_png_data_urls(emu: OpenAIEmulator, make_gateway: MakeGateway) -> None:
    url = png_data_url(4, 4, "blue")
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    async with await start(emu, make_gateway) as client:
        await client.chat.completions.create(
            model=GEMMA,
            messages=[{"role": "user", "content": parts}],  # type: ignore[list-item]
        )
    assert emu.chats()[-1]["messages"][0]["content"] == parts


async def test_backend_4xx_of_both_shapes_is_relayed(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    says = "'response_format.type' must be 'json_schema'"  # a recorded LM Studio error
    error = emu.error(400, says)
    emu.status_override = (400, json.loads(error.text or "{}"))
    async with await start(emu, make_gateway) as client:
        with pytest.raises(APIStatusError) as err:
            await client.chat.completions.create(model=GEMMA, messages=USER)  # type: ignore[arg-type]
    assert err.value.status_code == 400 and says in err.value.message


async def test_a_text_only_model_is_never_sent_an_image(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    url = png_data_url(4, 4)
    async with await start(emu, make_gateway) as client:
        with pytest.raises(APIStatusError) as err:
            await client.chat.completions.create(
                model="qwen2-7b",  # LM Studio lists it as type "llm": text only
                messages=[
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                ],  # type: ignore[list-item]
            )
    assert err.value.status_code == 400 and "cannot take image" in err.value.message
    assert emu.chats() == []


async def test_mid_stream_error_of_both_shapes(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    emu.fail_mid_stream = "model crashed"
    gateway = await make_gateway(backend("lms", "openai", emu.url))
    body = {"model": GEMMA, "messages": USER, "stream": True}
    async with (
        ClientSession() as s,
        s.post(gateway.make_url("/v1/chat/completions"), json=body) as r,
    ):
        events = (await r.text()).strip().split("\n\n")
    assert r.status == 200
    assert "model crashed" in json.loads(events[-1].removeprefix("data: "))["error"]["message"]
    assert "data: [DONE]" not in events


async def test_backend_api_key_is_sent(make_gateway: MakeGateway) -> None:
    async with OpenAIEmulator([LMModel(GEMMA)], api_key="sekrit") as emu:
        async with await start(emu, make_gateway, api_key="sekrit") as client:
            assert (await client.chat.completions.create(model=GEMMA, messages=USER)).choices  # type: ignore[arg-type]
        async with await start(emu, make_gateway, api_key="wrong") as client:
            with pytest.raises(APIStatusError) as err:
                await client.chat.completions.create(model=GEMMA, messages=USER)  # type: ignore[arg-type]
        assert err.value.status_code in (502, 503)  # the backend refused our key


async def test_gateway_answers_after_every_failure(
    emu: OpenAIEmulator, make_gateway: MakeGateway
) -> None:
    emu.status_override = (500, {"error": "boom"})
    gateway: TestServer = await make_gateway(backend("lms", "openai", emu.url))
    async with ClientSession() as s:
        async with s.post(
            gateway.make_url("/v1/chat/completions"), json={"model": GEMMA, "messages": USER}
        ) as r:
            assert r.status == 502 and "boom" in (await r.json())["error"]["message"]
        emu.status_override = None
        async with s.post(
            gateway.make_url("/v1/chat/completions"), json={"model": GEMMA, "messages": USER}
        ) as r:
            assert r.status == 200
