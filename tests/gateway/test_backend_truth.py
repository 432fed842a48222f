"""The gateway believes what llama-server and LM Studio say of themselves today: the window
a server actually runs (llama-server `/props` `n_ctx`, LM Studio's loaded context) and the
media it actually takes (llama-server `/props` `modalities`), not the trained window or the
family's table. Both emulators record what reached them, so the harm avoided is visible."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gateway.state import KEEPER
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.llamacpp_server import LlamaServerEmulator
from tests.fakes.openai_server import LMModel, OpenAIEmulator
from tests.media import png_data_url, wav

E4B_PATH = "/models/gemma-4-E4B-it-Q4_K_M.gguf"
A26B_PATH = "/models/gemma-4-26B-A4B-it-Q4_K_M.gguf"
GEMMA = "google/gemma-4-26b-a4b"
D31B = "google/gemma-4-31b"


def text(words: int) -> list[dict[str, Any]]:
    """About `words` tokens by the gateway's estimate and by both emulators' count."""
    return [{"role": "user", "content": "word " * words}]


def media(*kinds: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "what is this?"}]
    if "image" in kinds:
        parts.append({"type": "image_url", "image_url": {"url": png_data_url(16, 16)}})
    if "audio" in kinds:
        data = base64.b64encode(wav(1.0)).decode()
        parts.append({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})
    return [{"role": "user", "content": parts}]


async def listed(gateway: TestServer) -> dict[str, dict[str, Any]]:
    """The gateway's own `/v1/models` view of each concrete model."""
    async with ClientSession() as s, s.get(gateway.make_url("/v1/models")) as r:
        data = (await r.json())["data"]
    return {m["id"]: m["gateway"] for m in data if "gateway" in m}


# --- llama-server: the slot window, not the trained one ------------------------------


async def test_llama_server_window_is_props_n_ctx(make_gateway: MakeGateway) -> None:
    async with LlamaServerEmulator(E4B_PATH, n_ctx=4096, n_ctx_train=131072) as llama:
        gateway = await make_gateway(backend("llama", "openai", llama.url))
        assert (await listed(gateway))[E4B_PATH] == {
            "backend": "llama", "member": "gemma4-e4b", "inputs": ["audio", "image", "text"],
            "context": 4096, "loaded": True, "embedding": False,
        }  # fmt: skip
        for model in ("auto", E4B_PATH):
            status, _, body = await post_chat(gateway, {"model": model, "messages": text(5000)})
            assert status == 400 and body["error"]["code"] == "context_length_exceeded"
        assert llama.chats() == []  # not even sent: it would have answered 400 itself


async def test_a_request_over_one_llama_server_goes_to_one_that_holds_it(
    make_gateway: MakeGateway,
) -> None:
    async with (
        LlamaServerEmulator(A26B_PATH, n_ctx=4096, n_ctx_train=262144) as small,
        LlamaServerEmulator(E4B_PATH, n_ctx=32768) as large,
    ):
        gateway = await make_gateway(
            backend("small", "openai", small.url), backend("large", "openai", large.url)
        )
        status, headers, _ = await post_chat(gateway, {"messages": text(5000)})
        assert (status, headers["X-Gateway-Backend"]) == (200, "large")
        status, headers, _ = await post_chat(gateway, {"messages": text(50)})
        assert (status, headers["X-Gateway-Backend"]) == (200, "small")  # the default member
    assert len(small.chats()) == len(large.chats()) == 1


# --- llama-server: media only where a projector is loaded ----------------------------


async def test_no_image_reaches_a_llama_server_without_projector(
    make_gateway: MakeGateway,
) -> None:
    async with LlamaServerEmulator(E4B_PATH, vision=False, audio=False) as llama:
        gateway = await make_gateway(backend("llama", "openai", llama.url))
        assert (await listed(gateway))[E4B_PATH]["inputs"] == ["text"]
        status, _, named = await post_chat(gateway, {"model": E4B_PATH, "messages": media("image")})
        assert status == 400 and named["error"]["code"] == "unsupported_modality"
        assert f"{E4B_PATH} cannot take image" in named["error"]["message"]
        status, _, auto = await post_chat(gateway, {"messages": media("audio")})
        assert status == 503 and auto["error"]["code"] == "no_capable_model"
        assert llama.chats() == []


async def test_images_go_to_the_llama_server_that_has_a_projector(
    make_gateway: MakeGateway,
) -> None:
    async with (
        LlamaServerEmulator(E4B_PATH, vision=False, audio=False) as blind,
        LlamaServerEmulator(E4B_PATH, vision=True, audio=True) as seeing,
    ):
        gateway = await make_gateway(
            backend("blind", "openai", blind.url), backend("seeing", "openai", seeing.url)
        )
        for kinds in (("image",), ("audio",), ("image", "audio")):
            status, headers, _ = await post_chat(gateway, {"messages": media(*kinds)})
            assert (status, headers["X-Gateway-Backend"]) == (200, "seeing")
    assert blind.chats() == []
    sent = [[p["type"] for p in c["messages"][0]["content"]] for c in seeing.chats()]
    assert [set(kinds) for kinds in sent] == [
        {"text", "image_url"}, {"text", "input_audio"}, {"text", "image_url", "input_audio"}
    ]  # fmt: skip


async def test_a_loading_llama_server_is_not_taken_for_a_plain_one(
    make_gateway: MakeGateway,
) -> None:
    async with LlamaServerEmulator(E4B_PATH, n_ctx=4096) as llama:
        llama.loading = True  # /props is 503, /v1/models answers (without meta)
        gateway = await make_gateway(backend("llama", "openai", llama.url))
        assert await listed(gateway) == {}
        llama.loading = False
        await gateway.app[KEEPER].refresh()
        assert (await listed(gateway))[E4B_PATH]["context"] == 4096


# --- LM Studio: the loaded context is the window -------------------------------------


@pytest.mark.parametrize("api_v1", [True, False], ids=["api-v1", "api-v0"])
async def test_lm_studio_never_gets_more_than_its_loaded_context(
    make_gateway: MakeGateway, api_v1: bool
) -> None:
    models = [LMModel(GEMMA, state="loaded", loaded_context_length=4096)]
    async with OpenAIEmulator(models, api_v1=api_v1) as lms:
        gateway = await make_gateway(backend("lms", "openai", lms.url))
        view = (await listed(gateway))[GEMMA]
        assert (view["context"], view["loaded"], view["inputs"]) == (4096, True, ["image", "text"])
        status, _, body = await post_chat(gateway, {"messages": text(12000)})
        assert status == 400 and body["error"]["code"] == "context_length_exceeded"
    assert lms.chats() == [] and lms.truncations == []


async def test_a_long_request_goes_to_the_lm_studio_model_loaded_large_enough(
    make_gateway: MakeGateway,
) -> None:
    models = [LMModel(GEMMA, state="loaded", loaded_context_length=4096),
              LMModel(D31B, state="loaded", loaded_context_length=32768)]  # fmt: skip
    async with OpenAIEmulator(models) as lms:
        gateway = await make_gateway(backend("lms", "openai", lms.url))
        status, headers, _ = await post_chat(gateway, {"messages": text(12000)})
        assert (status, headers["X-Gateway-Model"]) == (200, D31B)
    assert lms.truncations == []


async def test_a_long_request_goes_to_another_backend_rather_than_be_cut(
    make_gateway: MakeGateway,
) -> None:
    models = [LMModel(GEMMA, state="loaded", loaded_context_length=4096)]
    async with (
        OpenAIEmulator(models) as lms,
        LlamaServerEmulator(E4B_PATH, n_ctx=32768) as llama,
    ):
        gateway = await make_gateway(
            backend("lms", "openai", lms.url), backend("llama", "openai", llama.url)
        )
        status, headers, _ = await post_chat(gateway, {"messages": text(12000)})
        assert (status, headers["X-Gateway-Backend"]) == (200, "llama")
        status, headers, _ = await post_chat(gateway, {"messages": text(100)})
        assert (status, headers["X-Gateway-Model"]) == (200, GEMMA)
    assert lms.truncations == [] and len(lms.chats()) == 1
