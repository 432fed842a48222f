"""`POST /v1/completions` (issue 11) with the `openai` SDK against the emulators: the prompt
is continued raw (Ollama's `/api/generate` with `raw`, LM Studio's own `/v1/completions`),
never put through the chat template; answers are `text_completion` objects, plain and
streamed, with the gateway's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI, BadRequestError, InternalServerError

from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import LMModel, OpenAIEmulator

REPLY = "".join(DEFAULT_REPLY)
PROMPT = "def fib(n):\n    "  # trailing spaces and a newline must arrive as they are
LMS_MODEL = "google/gemma-4-26b-a4b"


@pytest.fixture
async def lms() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator([LMModel(LMS_MODEL)]) as emu:
        yield emu


@pytest.fixture
async def gateway(ollama: OllamaEmulator, lms: OpenAIEmulator, make_gateway: MakeGateway) -> Any:
    return await make_gateway(
        backend("ollama", "ollama", ollama.url), backend("lms", "openai", lms.url)
    )


@pytest.fixture
async def api(gateway: TestServer) -> AsyncIterator[AsyncOpenAI]:
    base = str(gateway.make_url("/v1"))
    async with AsyncOpenAI(base_url=base, api_key="x", max_retries=0) as openai:
        yield openai


async def test_ollama_plain_is_a_raw_generate(api: AsyncOpenAI, ollama: OllamaEmulator) -> None:
    got = await api.completions.create(model="gemma4:e4b", prompt=PROMPT)
    assert got.object == "text_completion" and got.id.startswith("cmpl-")
    assert got.model == "gemma4:e4b"
    (choice,) = got.choices
    assert (choice.text, choice.index, choice.finish_reason) == (REPLY, 0, "stop")
    assert got.usage is not None and got.usage.completion_tokens == len(DEFAULT_REPLY)
    assert got.usage.prompt_tokens == len(PROMPT.split())  # the raw prompt, no template
    (sent,) = ollama.generates()
    assert sent["raw"] is True and sent["prompt"] == PROMPT and sent["stream"] is False
    assert sent["think"] is False  # else Ollama turns thinking on for Gemma 4
    assert sent["options"]["num_predict"] == 16  # OpenAI's default for this endpoint
    assert ollama.prompts == [PROMPT] and ollama.chats() == []


async def test_ollama_streamed(api: AsyncOpenAI, ollama: OllamaEmulator) -> None:
    stream = await api.completions.create(
        model="gemma4:e4b", prompt=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert all(c.object == "text_completion" and c.model == "gemma4:e4b" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert "".join(ch.text for c in chunks for ch in c.choices) == REPLY
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(DEFAULT_REPLY)
    (sent,) = ollama.generates()
    assert sent["raw"] is True and sent["prompt"] == PROMPT and sent["stream"] is True


async def test_lmstudio_plain_and_streamed(api: AsyncOpenAI, lms: OpenAIEmulator) -> None:
    got = await api.completions.create(model=LMS_MODEL, prompt=[PROMPT], temperature=0.2)
    assert got.choices[0].text == REPLY and got.model == LMS_MODEL
    assert got.usage is not None and got.usage.prompt_tokens == len(PROMPT.split())
    stream = await api.completions.create(model=LMS_MODEL, prompt=PROMPT, stream=True,
                                             stream_options={"include_usage": True})  # fmt: skip
    chunks = [c async for c in stream]
    assert "".join(ch.text for c in chunks for ch in c.choices) == REPLY
    assert chunks[-1].usage is not None
    plain, streamed = lms.completions()
    assert plain == {"model": LMS_MODEL, "prompt": PROMPT, "temperature": 0.2,
                     "max_tokens": 16, "stream": False}  # fmt: skip
    assert streamed["prompt"] == PROMPT and streamed["stream"] is True
    assert streamed["stream_options"] == {"include_usage": True}
    assert lms.chats() == []


async def test_max_tokens_and_echo(api: AsyncOpenAI, ollama: OllamaEmulator) -> None:
    got = await api.completions.create(model="gemma4:e4b", prompt=PROMPT, max_tokens=3,
                                          echo=True)  # fmt: skip
    assert got.choices[0].text == PROMPT + "".join(DEFAULT_REPLY[:3])
    assert got.choices[0].finish_reason == "length"
    assert ollama.generates()[-1]["options"]["num_predict"] == 3
    stream = await api.completions.create(model="gemma4:e4b", prompt=PROMPT, echo=True,
                                             stream=True)  # fmt: skip
    texts = [ch.text for c in [c async for c in stream] for ch in c.choices]
    assert texts[0].startswith(PROMPT) and "".join(texts) == PROMPT + REPLY


async def test_two_choices(api: AsyncOpenAI, ollama: OllamaEmulator, lms: OpenAIEmulator) -> None:
    got = await api.completions.create(model="gemma4:e4b", prompt=PROMPT, n=2, seed=7)
    assert [c.index for c in got.choices] == [0, 1]
    assert [c.text for c in got.choices] == [REPLY, REPLY]
    assert sorted(b["options"]["seed"] for b in ollama.generates()) == [7, 8]
    stream = await api.completions.create(model=LMS_MODEL, prompt=PROMPT, n=2, stream=True)
    texts: dict[int, str] = {}
    async for chunk in stream:
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + ch.text
    assert texts == {0: REPLY, 1: REPLY}
    assert len(lms.completions()) == 2


async def test_logprobs_in_the_legacy_shape(api: AsyncOpenAI, ollama: OllamaEmulator) -> None:
    got = await api.completions.create(model="gemma4:e4b", prompt=PROMPT,
                                                   logprobs=2)  # fmt: skip
    logprobs = got.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens == DEFAULT_REPLY
    assert logprobs.text_offset is not None and logprobs.text_offset[:3] == [0, 5, 6]
    assert logprobs.top_logprobs is not None and len(logprobs.top_logprobs[0]) == 2
    sent = ollama.generates()[-1]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ["one", "two"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "suffix": "return"}, "suffix"),
        ({"prompt": "x", "logprobs": True}, "logprobs"),
        ({"prompt": "x", "max_tokens": 0}, "max_tokens"),
        ({"prompt": None}, "prompt"),
    ],
)
async def test_refused(
    api: AsyncOpenAI, ollama: OllamaEmulator, body: dict[str, Any], param: str
) -> None:
    with pytest.raises(BadRequestError) as refused:
        await api.completions.create(model="gemma4:e4b", **body)
    assert refused.value.status_code == 400
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == param
    assert ollama.generates() == []


async def test_headers(api: AsyncOpenAI, gateway: TestServer) -> None:
    raw = await api.completions.with_raw_response.create(
        model="gemma4:e4b", prompt=PROMPT, extra_headers={"X-Request-Id": "cmpl-test"}
    )
    assert raw.headers["X-Gateway-Model"] == "gemma4:e4b"
    assert raw.headers["X-Gateway-Backend"] == "ollama"
    assert raw.headers["X-Gateway-Route"] == "override"
    assert int(raw.headers["X-Gateway-Tokens-Estimate"]) > 0
    assert raw.headers["X-Request-Id"] == "cmpl-test"
    pinned = await api.completions.with_raw_response.create(
        model="auto", prompt=PROMPT, extra_headers={"X-Gateway-Backend": "lms"}
    )
    assert pinned.headers["X-Gateway-Backend"] == "lms"


async def test_garbage_is_a_502(api: AsyncOpenAI, lms: OpenAIEmulator) -> None:
    lms.garbage = b"<html>not a completion</html>"
    with pytest.raises(InternalServerError) as failed:
        await api.completions.create(model=LMS_MODEL, prompt=PROMPT)
    assert failed.value.status_code == 502


async def test_garbled_stream_is_an_error_event(gateway: TestServer, lms: OpenAIEmulator) -> None:
    lms.garbage, lms.fault_after = b"data: {not json}\n\n", 2
    status, _, text = await post_chat(
        gateway, {"model": LMS_MODEL, "prompt": PROMPT, "stream": True}, "/v1/completions"
    )
    assert status == 200 and '"text_completion"' in text
    assert '"error"' in text and "[DONE]" not in text


async def test_ollama_mid_stream_failure(gateway: TestServer, ollama: OllamaEmulator) -> None:
    ollama.fail_mid_stream = "runner crashed"
    status, _, text = await post_chat(
        gateway, {"model": "gemma4:e4b", "prompt": PROMPT, "stream": True}, "/v1/completions"
    )
    assert status == 200 and "runner crashed" in text and "[DONE]" not in text
