"""LM Studio's `/api/v1/models` and silent truncation, and the llama-server emulator, against
the recorded or source-derived payloads in `vectors.py` (protocols.md §3, §4, §7)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import ClientSession

from tests.fakes import vectors as tv
from tests.fakes.llamacpp_server import LlamaServerEmulator
from tests.fakes.openai_server import LMModel, OpenAIEmulator, Truncation
from tests.fakes.test_emulators import assert_same_shape, get_json, post_json
from tests.media import png_data_url, wav

GEMMA = "google/gemma-4-26b-a4b"
EMBED = "text-embedding-nomic-embed-text-v1.5-embedding"
CHAT = "/v1/chat/completions"


def words(n: int) -> list[dict[str, Any]]:
    """A user message of n words: n prompt tokens to both emulators."""
    return [{"role": "user", "content": "word " * n}]


def media(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, *parts]}]


IMAGE = {"type": "image_url", "image_url": {"url": png_data_url()}}
AUDIO = {"type": "input_audio",
         "input_audio": {"data": base64.b64encode(wav(0.5)).decode(), "format": "wav"}}  # fmt: skip


# --- LM Studio /api/v1/models -----------------------------------------------------------


@pytest.fixture
async def lms() -> AsyncIterator[OpenAIEmulator]:
    models = [
        LMModel(GEMMA, state="loaded", loaded_context_length=4096, params_string="26B-A4B",
                num_experts=8),
        LMModel("qwen2-7b", type="llm", arch="qwen2", params_string="7B", tool_use=False),
        LMModel(EMBED, type="embeddings", arch="nomic-bert", publisher="gaianet",
                quantization="F16", max_context_length=2048),
    ]  # fmt: skip
    async with OpenAIEmulator(models) as emu:
        yield emu


async def test_lmstudio_v1_models_matches_tv_l3(lms: OpenAIEmulator, http: ClientSession) -> None:
    status, listing = await get_json(http, lms.url + "/api/v1/models")
    assert status == 200 and set(listing) == {"models"}
    gemma, qwen, embed = listing["models"]
    assert_same_shape(gemma, tv.TV_L3_ENTRY)
    assert gemma["loaded_instances"] == tv.TV_L3_ENTRY["loaded_instances"]
    assert (gemma["key"], gemma["type"], gemma["capabilities"]["vision"]) == (GEMMA, "llm", True)
    assert_same_shape(qwen, tv.TV_L3_ENTRY, frozenset({"num_experts"}))
    assert (qwen["type"], qwen["loaded_instances"], qwen["capabilities"]["vision"]) == (
        "llm", [], False
    )  # fmt: skip
    assert_same_shape(embed, tv.TV_L3_EMBEDDING_ENTRY)
    assert embed["quantization"] == {"name": "F16", "bits_per_weight": 16}


async def test_lmstudio_v1_and_v0_agree_through_jit_loading(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    assert (await post_json(http, lms.url + CHAT, {"model": "qwen2-7b", "messages": words(3)}))[
        0
    ] == 200
    _, v0 = await get_json(http, lms.url + "/api/v0/models")
    _, v1 = await get_json(http, lms.url + "/api/v1/models")
    v0_loaded = {m["id"]: m.get("loaded_context_length") for m in v0["data"]}
    v1_loaded = {
        m["key"]: [i["config"]["context_length"] for i in m["loaded_instances"]]
        for m in v1["models"]
    }
    assert v0_loaded == {GEMMA: 4096, "qwen2-7b": 4096, EMBED: None}
    assert v1_loaded == {GEMMA: [4096], "qwen2-7b": [4096], EMBED: []}


async def test_lmstudio_before_0_4_answers_v1_models_with_200_anyway(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    lms.api_v1 = False
    status, body = await get_json(http, lms.url + "/api/v1/models")
    assert status == 200 and "Unexpected endpoint" in body["error"]


async def test_lmstudio_cuts_a_prompt_over_the_loaded_context_and_says_nothing(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    status, reply = await post_json(http, lms.url + CHAT, {"model": GEMMA, "messages": words(4096)})
    assert status == 200 and lms.truncations == []
    status, reply = await post_json(
        http, lms.url + CHAT, {"model": GEMMA, "messages": words(12000)}
    )
    assert status == 200 and reply["choices"][0]["finish_reason"] == "stop"  # nothing says so
    assert reply["usage"]["prompt_tokens"] == 4096
    assert lms.truncations == [Truncation(GEMMA, 12000, 4096)]


# --- llama-server ---------------------------------------------------------------------


async def test_llama_server_props_models_and_health(http: ClientSession) -> None:
    async with LlamaServerEmulator(n_ctx=4096, n_ctx_train=131072, audio=False) as emu:
        assert await get_json(http, emu.url + "/health") == (200, {"status": "ok"})
        status, props = await get_json(http, emu.url + "/props")
        assert status == 200
        assert_same_shape(props, tv.LLAMACPP_PROPS)
        assert props["default_generation_settings"]["n_ctx"] == 4096
        assert props["modalities"] == {"vision": True, "audio": False}
        status, listing = await get_json(http, emu.url + "/v1/models")
        async with http.get(emu.url + "/api/v0/models") as r:
            assert r.status == 404  # no LM Studio-style catch-all
    assert status == 200 and listing["object"] == "list"
    (entry,) = listing["data"]
    assert_same_shape(entry, tv.LLAMACPP_V1_MODELS_ENTRY)
    assert entry["id"] == emu.model_id and entry["meta"]["n_ctx_train"] == 131072
    assert listing["models"][0]["capabilities"] == ["completion", "multimodal"]


@pytest.mark.parametrize(
    ("vision", "audio", "part", "error"),
    [
        (False, False, IMAGE, tv.LLAMACPP_NO_IMAGE_ERROR),
        (False, True, IMAGE, tv.LLAMACPP_NO_IMAGE_ERROR),
        (False, False, AUDIO, tv.LLAMACPP_NO_AUDIO_ERROR),
        (True, False, AUDIO, tv.LLAMACPP_NO_AUDIO_ERROR),
    ],
)
async def test_llama_server_without_a_projector_answers_media_with_500(
    http: ClientSession, vision: bool, audio: bool, part: dict[str, Any], error: dict[str, Any]
) -> None:
    async with LlamaServerEmulator(vision=vision, audio=audio) as emu:
        body = {"model": "anything", "messages": media(part)}
        assert await post_json(http, emu.url + CHAT, body) == (500, error)
        assert emu.chats() == [body]  # recorded all the same


async def test_llama_server_with_a_projector_takes_images_and_audio(http: ClientSession) -> None:
    webp_url = "data:image/webp;base64," + png_data_url().split(",", 1)[1]
    webp = {"type": "image_url", "image_url": {"url": webp_url}}
    flac = {"type": "input_audio", "input_audio": {**AUDIO["input_audio"], "format": "flac"}}
    async with LlamaServerEmulator() as emu:
        status, reply = await post_json(
            http, emu.url + CHAT, {"model": "whatever", "messages": media(IMAGE, AUDIO, IMAGE)}
        )
        assert status == 200 and reply["usage"]["prompt_tokens"] == 3 + 2 * 256
        assert reply["model"] == emu.model_id  # the one model answers any name
        for part, message in [
            (webp, "Failed to load image or audio file"),
            (flac, "input_audio.format must be either 'wav' or 'mp3'"),
        ]:
            status, reply = await post_json(http, emu.url + CHAT,
                                            {"model": "m", "messages": media(part)})  # fmt: skip
            assert (status, reply["error"]["message"]) == (400, message)


async def test_llama_server_refuses_a_prompt_that_fills_the_slot(http: ClientSession) -> None:
    async with LlamaServerEmulator(n_ctx=4096) as emu:
        assert (await post_json(http, emu.url + CHAT, {"messages": words(4095)}))[0] == 200
        status, reply = await post_json(http, emu.url + CHAT, {"messages": words(5000)})
        assert (status, reply) == (400, tv.LLAMACPP_CONTEXT_ERROR)
        assert emu.truncations == []  # refused, never cut
        emu.n_ctx = 8192
        assert (await post_json(http, emu.url + CHAT, {"messages": words(5000)}))[0] == 200


async def test_llama_server_while_loading_lists_its_model_without_meta(
    http: ClientSession,
) -> None:
    async with LlamaServerEmulator() as emu:
        emu.loading = True
        for path in ("/health", "/props", "/api/v1/models"):
            assert await get_json(http, emu.url + path) == (503, tv.LLAMACPP_LOADING_ERROR)
        assert await post_json(http, emu.url + CHAT, {"messages": words(1)}) == (
            503, tv.LLAMACPP_LOADING_ERROR
        )  # fmt: skip
        status, listing = await get_json(http, emu.url + "/v1/models")
        assert status == 200 and listing["data"][0]["meta"] is None
        emu.loading = False
        assert (await get_json(http, emu.url + "/health"))[0] == 200


async def test_openai_client_sees_llama_server_errors() -> None:
    async with (
        LlamaServerEmulator(vision=False) as emu,
        openai.AsyncOpenAI(base_url=emu.url + "/v1", api_key="x", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(model="m", messages=words(2))  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "Hello! How can I help you today?"
        with pytest.raises(openai.InternalServerError) as err:
            await client.chat.completions.create(model="m", messages=media(IMAGE))  # type: ignore[arg-type]
        assert "provide the mmproj" in err.value.message
        emu.n_ctx = 10
        with pytest.raises(openai.BadRequestError) as too_long:
            await client.chat.completions.create(model="m", messages=words(20))  # type: ignore[arg-type]
        assert too_long.value.body["type"] == "exceed_context_size_error"  # type: ignore[index]
