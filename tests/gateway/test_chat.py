"""Routing through the HTTP edge: what the emulated backends received (model, num_ctx,
media), the explanation headers, and failover before the first byte."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import LMModel, OpenAIEmulator
from tests.media import png_data_url, wav

SEEING = ("completion", "vision")
FAMILY = [
    OllamaModel("gemma4:e2b", context_length=131072),
    OllamaModel("gemma4:e4b", context_length=131072),
    OllamaModel("gemma4:26b", capabilities=SEEING, context_length=262144),
    OllamaModel("gemma4:31b", capabilities=SEEING, context_length=262144),
]
USER = [{"role": "user", "content": "why is the sky blue?"}]


def audio_message(seconds: float) -> list[dict[str, Any]]:
    data = base64.b64encode(wav(seconds)).decode()
    return [{"role": "user", "content": [
        {"type": "text", "text": "What is said here?"},
        {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}},
    ]}]  # fmt: skip


@pytest.fixture
async def ollama() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator([OllamaModel(**vars(m)) for m in FAMILY]) as emu:
        yield emu


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


async def test_text_goes_to_the_default_member_with_a_small_num_ctx(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    status, headers, body = await post_chat(gateway, {"model": "auto", "messages": USER})
    assert status == 200 and body["model"] == "gemma4:26b"
    assert headers["X-Gateway-Route"] == "default"
    assert 1024 < int(headers["X-Gateway-Tokens-Estimate"]) < 1100  # prompt + output reserve
    assert "X-Gateway-Preprocess" not in headers
    sent = ollama.chats()[-1]
    assert sent["model"] == "gemma4:26b" and sent["options"]["num_ctx"] == 8192


async def test_audio_goes_to_e4b_and_reaches_ollama_as_wav(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    status, headers, _ = await post_chat(gateway, {"messages": audio_message(3.0)})
    assert status == 200
    assert headers["X-Gateway-Model"] == "gemma4:e4b" and headers["X-Gateway-Route"] == "audio"
    assert headers["X-Gateway-Preprocess"] == "audio=1;clips=1"
    estimate = int(headers["X-Gateway-Tokens-Estimate"])
    assert 75 + 1024 < estimate < 75 + 1024 + 40  # 3 s at 25 tokens/s, output reserve, text
    sent = ollama.chats()[-1]["messages"][0]
    assert base64.b64decode(sent["images"][0])[:4] == b"RIFF"


async def test_long_prompt_goes_to_26b_with_a_window_that_holds_it(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    long_text = "The quick brown fox jumps over the lazy dog. " * 4000  # ~40K tokens
    status, headers, _ = await post_chat(
        gateway, {"messages": [{"role": "user", "content": long_text}]}
    )
    assert status == 200 and headers["X-Gateway-Route"] == "long-context"
    estimate = int(headers["X-Gateway-Tokens-Estimate"])
    assert 32768 < estimate < 65536
    sent = ollama.chats()[-1]
    assert sent["model"] == "gemma4:26b" and sent["options"]["num_ctx"] == 65536


async def test_a_loaded_context_that_is_large_enough_is_kept(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    model = next(m for m in ollama.models if m.name == "gemma4:26b")
    model.loaded, model.loaded_context = True, 32768
    gateway = await make_gateway(backend("ollama", "ollama", ollama.url))
    reloads = ollama.reloads
    status, _, _ = await post_chat(gateway, {"messages": USER})
    assert status == 200
    assert ollama.chats()[-1]["options"]["num_ctx"] == 32768
    assert ollama.reloads == reloads  # no reload for a different num_ctx


@pytest.mark.parametrize(
    ("prefer", "model", "reason"),
    [("speed", "gemma4:e4b", "prefer-speed"), ("quality", "gemma4:31b", "prefer-quality"),
     ("balanced", "gemma4:26b", "default")],
)  # fmt: skip
async def test_prefer_header(gateway: TestServer, prefer: str, model: str, reason: str) -> None:
    status, headers, _ = await post_chat(
        gateway, {"messages": USER}, **{"X-Gateway-Prefer": prefer}
    )
    assert status == 200
    assert (headers["X-Gateway-Model"], headers["X-Gateway-Route"]) == (model, reason)


async def test_override_header_wins_over_the_body(gateway: TestServer) -> None:
    status, headers, body = await post_chat(
        gateway, {"model": "gemma4-31b", "messages": USER}, **{"X-Gateway-Model": "gemma4:e2b"}
    )
    assert status == 200 and body["model"] == "gemma4:e2b"
    assert headers["X-Gateway-Route"] == "override"


async def test_override_without_the_modality_is_refused_not_stripped(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    sent_before = len(ollama.chats())
    status, _, body = await post_chat(
        gateway, {"messages": audio_message(1.0)}, **{"X-Gateway-Model": "gemma4-26b-a4b"}
    )
    assert status == 400
    assert "cannot take audio" in body["error"]["message"]
    assert "gemma4:e4b" in body["error"]["message"]  # who could
    assert len(ollama.chats()) == sent_before


async def test_too_long_for_every_window_is_context_length_exceeded(gateway: TestServer) -> None:
    status, _, body = await post_chat(gateway, {"messages": USER, "max_tokens": 300_000})
    assert status == 400
    assert body["error"]["code"] == "context_length_exceeded"
    assert "262144" in body["error"]["message"]


async def test_audio_over_the_cap_is_refused(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), preprocess={"max_audio_seconds": 2}
    )
    status, _, body = await post_chat(gateway, {"messages": audio_message(3.0)})
    assert status == 400 and "max_audio_seconds" in body["error"]["message"]


async def test_unreadable_audio_is_a_400_naming_the_part(gateway: TestServer) -> None:
    junk = base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10).decode()
    messages = [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": junk, "format": "wav"}}]}]  # fmt: skip
    status, _, body = await post_chat(gateway, {"messages": messages})
    assert status == 400
    assert body["error"]["param"] == "messages[0].content[0].input_audio.data"


async def test_images_count_at_the_configured_budget(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), routing={"image_tokens": 1000}
    )
    content = [{"type": "image_url", "image_url": {"url": png_data_url()}}] * 3
    _, plain, _ = await post_chat(gateway, {"messages": USER})
    _, headers, _ = await post_chat(gateway, {"messages": [{"role": "user", "content": content}]})
    images = int(headers["X-Gateway-Tokens-Estimate"]) - int(plain["X-Gateway-Tokens-Estimate"])
    assert 2990 < images < 3000  # three images at 1000, less the question's few tokens


# --- failover ---------------------------------------------------------------------------


@pytest.fixture
async def pair(
    make_gateway: MakeGateway,
) -> AsyncIterator[tuple[TestServer, OllamaEmulator, OllamaEmulator]]:
    async with (
        OllamaEmulator([OllamaModel("gemma4:26b", capabilities=SEEING)]) as first,
        OllamaEmulator([OllamaModel("gemma4:26b", capabilities=SEEING)]) as second,
    ):
        gateway = await make_gateway(
            backend("first", "ollama", first.url), backend("second", "ollama", second.url)
        )
        yield gateway, first, second


@pytest.mark.parametrize("stream", [False, True])
async def test_failure_before_the_first_byte_moves_to_the_next_candidate(
    pair: tuple[TestServer, OllamaEmulator, OllamaEmulator], stream: bool
) -> None:
    gateway, first, second = pair
    first.status_override = (500, {"error": "llama runner process has terminated"})
    status, headers, body = await post_chat(gateway, {"messages": USER, "stream": stream})
    assert status == 200
    assert headers["X-Gateway-Backend"] == "second" and headers["X-Gateway-Route"] == "fallback"
    assert len(first.chats()) == 1 and len(second.chats()) == 1
    if stream:
        assert body.rstrip().endswith("data: [DONE]")


async def test_no_failover_after_the_first_byte(
    pair: tuple[TestServer, OllamaEmulator, OllamaEmulator],
) -> None:
    gateway, first, second = pair
    first.fail_mid_stream = "an error was encountered while running the model"
    status, headers, body = await post_chat(gateway, {"messages": USER, "stream": True})
    assert status == 200 and headers["X-Gateway-Backend"] == "first"
    assert "an error was encountered" in body and "[DONE]" not in body
    assert second.chats() == []


async def test_bad_requests_are_not_retried_elsewhere(
    pair: tuple[TestServer, OllamaEmulator, OllamaEmulator],
) -> None:
    gateway, first, second = pair
    first.status_override = (400, {"error": "invalid options"})
    status, _, _ = await post_chat(gateway, {"messages": USER})
    assert status == 400 and second.chats() == []


async def test_when_every_candidate_fails_the_last_error_is_returned(
    pair: tuple[TestServer, OllamaEmulator, OllamaEmulator],
) -> None:
    gateway, first, second = pair
    for emu in (first, second):
        emu.status_override = (500, {"error": "out of memory"})
    status, _, body = await post_chat(gateway, {"messages": USER})
    assert status == 502 and "out of memory" in body["error"]["message"]


# --- LM Studio and mixed inventories ------------------------------------------------------


async def test_audio_with_only_lm_studio_is_a_503_that_says_how(
    make_gateway: MakeGateway,
) -> None:
    async with OpenAIEmulator([LMModel("google/gemma-4-e4b")]) as lms:
        gateway = await make_gateway(backend("lms", "openai", lms.url))
        status, _, body = await post_chat(gateway, {"messages": audio_message(1.0)})
    assert status == 503
    assert "ollama pull gemma4:e4b" in body["error"]["message"]


async def test_split_inventory_routes_each_request_where_it_belongs(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    ollama.models = [m for m in ollama.models if m.name in ("gemma4:e2b", "gemma4:e4b")]
    async with OpenAIEmulator([LMModel("google/gemma-4-26b-a4b")]) as lms:
        gateway = await make_gateway(
            backend("ollama", "ollama", ollama.url), backend("lms", "openai", lms.url)
        )
        _, text, _ = await post_chat(gateway, {"messages": USER})
        _, audio, _ = await post_chat(gateway, {"messages": audio_message(1.0)})
        assert (text["X-Gateway-Backend"], text["X-Gateway-Model"]) == (
            "lms", "google/gemma-4-26b-a4b"
        )  # fmt: skip
        assert (audio["X-Gateway-Backend"], audio["X-Gateway-Model"]) == ("ollama", "gemma4:e4b")
        assert "num_ctx" not in json.dumps(lms.chats())  # only Ollama gets a context size


async def test_the_dry_run_answers_the_decision_and_forwards_nothing(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    dry = "/v1/gateway/route"
    status, _, decision = await post_chat(gateway, {"messages": audio_message(35)}, dry)
    assert status == 200
    assert (decision["model"], decision["backend"], decision["reason"]) == (
        "gemma4:e4b", "ollama", "audio"
    )  # fmt: skip
    assert decision["modalities"] == ["audio", "text"] and decision["preprocess"]["clips"] == 2
    assert decision["num_ctx"] == 8192 and decision["estimate"]["audio"] == 35 * 25

    _, _, speed = await post_chat(gateway, {"messages": USER}, dry, **{"X-Gateway-Prefer": "speed"})
    assert (speed["model"], speed["reason"]) == ("gemma4:e4b", "prefer-speed")

    status, _, refused = await post_chat(
        gateway, {"model": "gemma4:26b", "messages": audio_message(5)}, dry
    )
    assert status == 400 and "audio" in refused["error"]["message"]
    assert ollama.chats() == []
