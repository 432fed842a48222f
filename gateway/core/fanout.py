"""One backend's answer to a request, and `n` > 1 as n requests merged into one answer.

No local backend makes several choices for one request (Ollama's `/v1` lists `n` as
unsupported, llama-server answers "Only one completion choice is allowed"), so the gateway
asks n times, concurrently, each request in its own limiter slot: choices queue like any other
request. The first failure of one choice fails the whole request and stops the others; while
nothing has been sent yet it fails over like any failure to start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from gateway.backends import Backend
from gateway.backends.ollama_format import new_completion_id
from gateway.core.messages import BackendRequest, Chunk, ChunkStream, Completion


async def complete(backend: Backend, breq: BackendRequest, n: int) -> Completion:
    """`n` == 1 is relayed as the backend answers; more choices are merged."""
    if n == 1:
        return await _chat(backend, breq)
    return await merged_chat(backend, choice_requests(breq, n))


def stream(backend: Backend, breq: BackendRequest, n: int) -> ChunkStream:
    """`n` == 1 is relayed as the backend streams it; more choices are merged."""
    if n == 1:
        return _slotted(backend, breq)
    return merged_stream(backend, choice_requests(breq, n))


def choice_requests(breq: BackendRequest, n: int) -> list[BackendRequest]:
    """One request per choice; a client `seed` becomes seed+i for choice i.

    Sent n times unchanged, one seed would give n identical choices. With seed+i the choices
    differ and the same request gives the same choices again, as OpenAI-compatible servers do
    (web-llm#335: seeding is per request, not per choice). A negative seed means "random" to
    llama.cpp and Ollama, so it is left alone.
    """
    seed = breq.sampling.get("seed")
    if not isinstance(seed, int) or seed < 0:
        return [breq] * n
    return [dataclasses.replace(breq, sampling={**breq.sampling, "seed": seed + i})
            for i in range(n)]  # fmt: skip


async def merged_chat(backend: Backend, breqs: list[BackendRequest]) -> Completion:
    """All choices at once; the first failure cancels the others and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_chat(backend, breq)) for breq in breqs]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    completions = [task.result() for task in tasks]
    choices = [{**c["choices"][0], "index": i} for i, c in enumerate(completions)]
    usage = summed_usage([c.get("usage") for c in completions])
    return {**completions[0], "choices": choices, "usage": usage}


async def merged_stream(backend: Backend, breqs: list[BackendRequest]) -> ChunkStream:
    """The choices' chunks as they come, under one id and `created`, each choice's `index` set
    to its number; the choices' own usage chunks become one summed usage chunk at the end."""
    completion_id, created = new_completion_id(), int(time.time())
    usages: dict[int, Any] = {}
    last: Chunk | None = None
    async with aclosing(_merge([_slotted(backend, breq) for breq in breqs])) as chunks:
        async for i, chunk in chunks:
            if chunk.get("usage"):
                usages[i] = chunk["usage"]
            if not chunk.get("choices"):
                continue  # a choice's own usage chunk
            last = {**chunk, "id": completion_id, "created": created,
                    "choices": [{**c, "index": i} for c in chunk["choices"]]}  # fmt: skip
            if last.get("usage"):
                last["usage"] = None
            yield last
    total = summed_usage([usages.get(i) for i in range(len(breqs))])
    if breqs[0].include_usage and last is not None and total is not None:
        yield {**last, "choices": [], "usage": total}


def summed_usage(usages: list[Any]) -> dict[str, int] | None:
    """The usage of n choices of one prompt, as OpenAI reports it: the prompt counted once
    (OpenAI bills n choices "based on the number of generated tokens across all of the
    choices"), completion tokens summed. The prompt is the largest count reported, since a
    backend that served part of it from its cache reports less (Ollama). None when a choice
    reported no usage: the gateway does not invent numbers.

    >>> summed_usage([{"prompt_tokens": 9, "completion_tokens": 5},
    ...               {"prompt_tokens": 2, "completion_tokens": 7}])
    {'prompt_tokens': 9, 'completion_tokens': 12, 'total_tokens': 21}
    >>> summed_usage([{"prompt_tokens": 9, "completion_tokens": 5}, None]) is None
    True
    """
    if not all(isinstance(u, dict) for u in usages):
        return None
    prompt = max(u.get("prompt_tokens") or 0 for u in usages)
    completion = sum(u.get("completion_tokens") or 0 for u in usages)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


async def _chat(backend: Backend, breq: BackendRequest) -> Completion:
    async with backend.limiter.slot():
        return await backend.chat(breq)


async def _slotted(backend: Backend, breq: BackendRequest) -> ChunkStream:
    """The backend's stream, holding a limiter slot from before it starts until it is closed."""
    async with backend.limiter.slot(), aclosing(backend.stream(breq)) as chunks:
        async for chunk in chunks:
            yield chunk


async def _merge(streams: list[ChunkStream]) -> AsyncGenerator[tuple[int, Chunk], None]:
    """Every stream's chunks as they arrive, with the stream's number. The first error is
    raised; closing the merge stops every stream, so their slots are released at once."""
    pending = {_next(s): i for i, s in enumerate(streams)}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=pending.__getitem__):
                i = pending.pop(task)
                if (chunk := task.result()) is not None:
                    pending[_next(streams[i])] = i
                    yield i, chunk
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for stream in streams:
            await stream.aclose()


def _next(stream: AsyncIterator[Chunk]) -> asyncio.Future[Chunk | None]:
    return asyncio.ensure_future(anext(stream, None))
