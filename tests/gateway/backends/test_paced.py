"""`paced`: a stream's first-chunk and between-chunk deadlines, on one timer per stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.backends.base import paced
from gateway.core.errors import BackendTimeout
from gateway.core.messages import Chunk


async def chunks_after(*delays: float) -> AsyncIterator[Chunk]:
    """One chunk after each delay (seconds)."""
    for i, delay in enumerate(delays):
        await asyncio.sleep(delay)
        yield {"i": i}


async def drain(stream: AsyncIterator[Chunk], pause: float = 0.0) -> list[int]:
    got = []
    async for chunk in stream:
        got.append(chunk["i"])
        await asyncio.sleep(pause)  # the client's write, between two waits
    return got


async def test_a_late_first_chunk_is_a_timeout_to_start() -> None:
    with pytest.raises(BackendTimeout, match="took over 0.05s to start answering"):
        await drain(paced(chunks_after(0.3), "b", first_s=0.05, idle_s=5))


async def test_a_gap_after_chunks_is_a_timeout_between_chunks() -> None:
    with pytest.raises(BackendTimeout, match="took over 0.1s between two chunks"):
        await drain(paced(chunks_after(0, 0.01, 0.5), "b", first_s=5, idle_s=0.1))


async def test_steady_chunks_outlast_the_idle_limit_without_a_timeout() -> None:
    # 20 gaps of 30 ms: 0.6 s in all, six times the limit, each gap well within it. The
    # one timer fires while chunks keep coming and must be set again, not expire.
    got = await drain(paced(chunks_after(*[0.03] * 20), "b", first_s=0.1, idle_s=0.1))
    assert got == list(range(20))


async def test_a_slow_client_between_chunks_does_not_count() -> None:
    # Each chunk is ready at once; the consumer takes 0.15 s per chunk, over the limit.
    got = await drain(paced(chunks_after(0, 0, 0), "b", first_s=0.1, idle_s=0.1), pause=0.15)
    assert got == [0, 1, 2]


async def test_a_client_hang_up_stays_a_cancellation() -> None:
    task = asyncio.create_task(drain(paced(chunks_after(0, 5), "b", first_s=5, idle_s=5)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_each_wait_may_come_from_another_task() -> None:
    # With n > 1 choices the fan-out awaits each stream's next chunk in a task of its own.
    stream = paced(chunks_after(0, 0.2), "b", first_s=1, idle_s=0.05)
    assert (await asyncio.create_task(anext(stream)))["i"] == 0  # type: ignore[arg-type]
    with pytest.raises(BackendTimeout, match="between two chunks"):
        await asyncio.create_task(anext(stream))  # type: ignore[arg-type]
    await stream.aclose()  # type: ignore[attr-defined]
