"""Several hosts serving the same model (issue 12): requests spread by load, a conversation
stays on the host that served its previous turn, and a host that dies and comes back is
left and then used again. Three Ollama emulators, each with `gemma4:e4b` loaded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.state import PIPELINE
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel

E4B = "gemma4:e4b"
HOSTS = ("gpu1", "gpu2", "gpu3")


@pytest.fixture
async def hosts() -> AsyncIterator[dict[str, OllamaEmulator]]:
    emus = {name: OllamaEmulator([OllamaModel(E4B, loaded=True, loaded_context=32768)])
            for name in HOSTS}  # fmt: skip
    for emu in emus.values():
        await emu.start()
        emu.delay_first_byte = 0.3  # answers take a while: requests overlap
    yield emus
    for emu in emus.values():
        await emu.stop()


@pytest.fixture
async def gateway(hosts: dict[str, OllamaEmulator], make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(*(backend(name, "ollama", emu.url) for name, emu in hosts.items()))


def opening(n: int) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Question number {n}?"}]  # fmt: skip


async def ask(
    gateway: TestServer, messages: list[dict[str, Any]], pin: str | None = None
) -> tuple[str, str]:
    pinned = {"X-Gateway-Backend": pin} if pin else {}
    status, headers, reply = await post_chat(gateway, {"model": E4B, "messages": messages},
                                             **pinned)  # fmt: skip
    assert status == 200, reply
    return headers["X-Gateway-Backend"], reply["choices"][0]["message"]["content"]


async def until_in_flight(gateway: TestServer, n: int) -> None:
    limiters = [b.limiter for b in gateway.app[PIPELINE].backends.values()]
    for _ in range(2000):  # noqa: ASYNC110 - the limiters have no event to wait on
        if sum(lim.in_flight for lim in limiters) >= n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not {n} in flight: {[lim.in_flight for lim in limiters]}")


async def test_new_conversations_spread_over_the_hosts_by_load(gateway: TestServer) -> None:
    served = Counter(host for host, _ in await asyncio.gather(
        *(ask(gateway, opening(n)) for n in range(30))))  # fmt: skip
    assert set(served) == set(HOSTS), served
    assert min(served.values()) >= 5, served  # none left idle while another queues


async def test_a_conversation_stays_on_the_host_of_its_previous_turn(
    gateway: TestServer,
) -> None:
    """Five turns of one conversation; before each, four other requests are pinned to the
    conversation's host, so that on load alone the turn would go elsewhere. It stays."""
    messages = opening(0)
    host, answer = await ask(gateway, messages)
    turns = [host]
    for turn in range(4):
        others = [asyncio.create_task(ask(gateway, opening(100 + 10 * turn + k), host))
                  for k in range(4)]  # fmt: skip
        await until_in_flight(gateway, 4)
        messages = [*messages, {"role": "assistant", "content": answer},
                    {"role": "user", "content": f"And then {turn}?"}]  # fmt: skip
        host, answer = await ask(gateway, messages)
        turns.append(host)
        await asyncio.gather(*others)
    assert turns == [turns[0]] * 5, turns


async def test_a_dead_host_is_left_and_used_again_when_it_comes_back(
    gateway: TestServer, hosts: dict[str, OllamaEmulator]
) -> None:
    messages = opening(7)
    first, answer = await ask(gateway, messages)
    messages = [*messages, {"role": "assistant", "content": answer},
                {"role": "user", "content": "More?"}]  # fmt: skip
    dead = hosts[first]
    port = int(dead.url.rsplit(":", 1)[1])
    await dead.stop()
    moved, _ = await ask(gateway, messages)  # fails over before the first byte
    assert moved != first
    again, _ = await ask(gateway, messages)
    assert again == moved  # and the conversation now stays there
    await dead.start(port)
    await gateway.app[PIPELINE].keeper.refresh()
    served = Counter(host for host, _ in await asyncio.gather(
        *(ask(gateway, opening(200 + n)) for n in range(30))))  # fmt: skip
    assert served[first] >= 5, served
