"""Client fields the local backends lack or read differently: `n` > 1 (fanned out to n
requests and merged) and `max_tokens: -1` (no limit), through the `openai` SDK against the
Ollama and LM Studio emulators; asserts what the client got and what the backend received."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from openai import APIStatusError, AsyncOpenAI

from gateway.fronts.openai_wire import MAX_CHOICES
from gateway.state import BACKENDS
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import LMModel, OpenAIEmulator

MODEL = "gemma4-e4b"  # the family alias: gemma4:e4b on Ollama, google/gemma-4-e4b on LM Studio
USER = [{"role": "user", "content": "why is the sky blue?"}]
Emulator = OllamaEmulator | OpenAIEmulator


@dataclass
class Setup:
    kind: str
    emu: Emulator
    gateway: TestServer
    client: AsyncOpenAI

    @property
    def reply(self) -> str:
        return "".join(self.emu.reply_tokens)

    def seed(self, body: dict[str, Any]) -> Any:
        return body["options"]["seed"] if self.kind == "ollama" else body["seed"]

    def limits(self, body: dict[str, Any]) -> dict[str, Any]:
        """The output limits a chat request carried, in the backend's own spelling."""
        if self.kind == "ollama":
            fields, names = body.get("options") or {}, ["num_predict"]
        else:
            fields, names = body, ["max_tokens", "max_completion_tokens"]
        return {name: fields[name] for name in names if name in fields}


def emulator(kind: str) -> Emulator:
    if kind == "ollama":
        return OllamaEmulator([OllamaModel("gemma4:e4b")])
    return OpenAIEmulator([LMModel("google/gemma-4-e4b", state="loaded")])


async def start(kind: str, emu: Emulator, make_gateway: MakeGateway, **extra: object) -> Setup:
    gateway = await make_gateway(backend(kind, kind, emu.url, **extra))
    client = AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", max_retries=0)
    return Setup(kind, emu, gateway, client)


@pytest.fixture(params=["ollama", "openai"])
async def setup(request: pytest.FixtureRequest, make_gateway: MakeGateway) -> AsyncIterator[Setup]:
    async with emulator(request.param) as emu:
        setup = await start(request.param, emu, make_gateway)
        async with setup.client:
            yield setup


def sse_events(body: str) -> list[str]:
    return [e.removeprefix("data: ") for e in body.strip().split("\n\n")]


def idle(gateway: TestServer, name: str) -> bool:
    """No limiter slot of backend `name` is held or waited for: every choice let go."""
    limiter = gateway.app[BACKENDS][name].limiter
    return limiter.in_flight == limiter.waiting == 0


# --- n ----------------------------------------------------------------------------------


async def test_n_choices_are_n_requests_merged(setup: Setup) -> None:
    create = setup.client.chat.completions.create
    one = await create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    two = await create(model=MODEL, messages=USER, n=2, seed=7)  # type: ignore[arg-type]
    assert [(c.index, c.message.content) for c in two.choices] == [
        (0, setup.reply),
        (1, setup.reply),
    ]
    assert one.usage is not None and two.usage is not None
    assert two.usage.prompt_tokens == one.usage.prompt_tokens  # the prompt counted once
    assert two.usage.completion_tokens == 2 * one.usage.completion_tokens
    assert two.usage.total_tokens == two.usage.prompt_tokens + two.usage.completion_tokens
    sent = setup.emu.chats()[1:]
    assert len(sent) == 2 and not any("n" in body for body in sent)
    assert sorted(setup.seed(body) for body in sent) == [7, 8]  # the choices may differ


async def test_n_choices_streamed_as_one_stream(setup: Setup) -> None:
    create = setup.client.chat.completions.create
    one = await create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    stream = await create(
        model=MODEL, messages=USER, n=2, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [c async for c in stream]
    text: dict[int, str] = defaultdict(str)
    finish = {}
    for chunk in chunks:
        for choice in chunk.choices:
            text[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert text == {0: setup.reply, 1: setup.reply} and finish == {0: "stop", 1: "stop"}
    assert all(c.choices for c in chunks[:-1]) and chunks[-1].choices == []
    assert [c for c in chunks if c.usage] == chunks[-1:]
    usage, expected = chunks[-1].usage, one.usage
    assert usage is not None and expected is not None
    assert usage.prompt_tokens == expected.prompt_tokens
    assert usage.completion_tokens == 2 * expected.completion_tokens
    assert len({(c.id, c.created) for c in chunks}) == 1
    assert len(setup.emu.chats()) == 3


async def test_a_choice_failing_mid_stream_ends_the_stream_with_the_error(setup: Setup) -> None:
    setup.emu.fail_mid_stream = "model crashed"
    body = {"model": MODEL, "messages": USER, "n": 2, "stream": True}
    status, _, text = await post_chat(setup.gateway, body)
    events = sse_events(text)
    assert status == 200 and "[DONE]" not in events
    assert "model crashed" in json.loads(events[-1])["error"]["message"]
    assert idle(setup.gateway, setup.kind)


async def test_a_client_leaving_stops_every_choice(setup: Setup) -> None:
    setup.emu.token_delay = 0.2
    body = {"model": MODEL, "messages": USER, "n": 2, "stream": True}
    async with (
        ClientSession() as s,
        s.post(setup.gateway.make_url("/v1/chat/completions"), json=body) as r,
    ):
        await r.content.readline()  # the first event arrived: the choices are under way
    async with asyncio.timeout(5):
        while setup.emu.cancellations < 2:
            await setup.emu.chat_cancelled.wait()
            setup.emu.chat_cancelled.clear()


async def test_a_client_leaving_lets_go_of_queued_choices(make_gateway: MakeGateway) -> None:
    async with emulator("ollama") as emu:
        setup = await start("ollama", emu, make_gateway, max_concurrency=1, max_queue=2)
        emu.token_delay = 0.2  # the first choice holds the only slot, the second waits for it
        body = {"model": MODEL, "messages": USER, "n": 2, "stream": True}
        async with (
            ClientSession() as s,
            s.post(setup.gateway.make_url("/v1/chat/completions"), json=body) as r,
        ):
            await r.content.readline()
        emu.token_delay = 0
        # The slot is free again: the next request is answered, not queued behind the choices.
        async with asyncio.timeout(5):
            status, _, _ = await post_chat(setup.gateway, {"model": MODEL, "messages": USER})
        assert status == 200 and idle(setup.gateway, "ollama")


async def test_n_over_the_cap_is_a_400_that_says_the_limit(setup: Setup) -> None:
    with pytest.raises(APIStatusError) as err:
        await setup.client.chat.completions.create(
            model=MODEL,
            messages=USER,
            n=MAX_CHOICES + 1,  # type: ignore[arg-type]
        )
    assert err.value.status_code == 400 and err.value.param == "n"
    assert f"n: Input should be less than or equal to {MAX_CHOICES}" in err.value.message
    assert setup.emu.chats() == []


@pytest.mark.parametrize("stream", [False, True])
async def test_each_choice_takes_its_own_slot(make_gateway: MakeGateway, stream: bool) -> None:
    body = {"model": MODEL, "messages": USER, "n": 2, "stream": stream}
    async with emulator("ollama") as emu:
        # One slot and one place in the queue: the second choice waits for the first.
        queued = await start("ollama", emu, make_gateway, max_concurrency=1, max_queue=1)
        async with asyncio.timeout(10):
            status, _, _ = await post_chat(queued.gateway, body)
        assert status == 200 and len(emu.chats()) == 2
        # No queue: the second choice cannot wait, so the request is refused as a whole.
        full = await start("ollama", emu, make_gateway, max_concurrency=1, max_queue=0)
        status, headers, _ = await post_chat(full.gateway, body)
        assert status == 429 and headers["Retry-After"] == "1"
        assert idle(full.gateway, "ollama")


@pytest.mark.parametrize("stream", [False, True])
async def test_a_choice_failing_to_start_fails_over_as_a_whole(
    make_gateway: MakeGateway, stream: bool
) -> None:
    async with emulator("ollama") as first, emulator("ollama") as second:
        gateway = await make_gateway(
            backend("first", "ollama", first.url), backend("second", "ollama", second.url)
        )
        first.status_override = (500, {"error": "llama runner process has terminated"})
        body = {"model": MODEL, "messages": USER, "n": 2, "stream": stream}
        status, headers, _ = await post_chat(gateway, body)
    assert status == 200
    assert headers["X-Gateway-Backend"] == "second" and headers["X-Gateway-Route"] == "fallback"
    assert len(second.chats()) == 2 and idle(gateway, "first")


# --- max_tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_minus_one_means_no_limit(setup: Setup, field: str) -> None:
    create = setup.client.chat.completions.with_raw_response.create
    plain = await create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    unlimited = await create(model=MODEL, messages=USER, **{field: -1})  # type: ignore
    assert unlimited.parse().choices[0].finish_reason == "stop"
    # The routing estimate reserves the configured output, as when the field is absent.
    estimate = "X-Gateway-Tokens-Estimate"
    assert unlimited.headers[estimate] == plain.headers[estimate]
    assert setup.limits(setup.emu.chats()[-1]) == {}
    await create(model=MODEL, messages=USER, **{field: 2})  # type: ignore
    assert list(setup.limits(setup.emu.chats()[-1]).values()) == [2]  # a limit still reaches it


@pytest.mark.parametrize("value", [0, -5])
@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_zero_and_other_negatives_are_a_400(setup: Setup, field: str, value: int) -> None:
    with pytest.raises(APIStatusError) as err:
        await setup.client.chat.completions.create(
            model=MODEL,
            messages=USER,
            **{field: value},  # type: ignore
        )
    assert err.value.status_code == 400 and err.value.param == field
    allowed = f"must be a positive integer, or -1 for no limit (got {value})"
    assert f"{field}: {allowed}" in err.value.message
    assert setup.emu.chats() == []
