"""OpenAI server-sent events: the only place that frames `data: ...` lines.

The pipeline hands over a stream whose first chunk has arrived before any byte is sent, so
a failure to start (backend down, model missing, timeout before the first token) is still an
ordinary HTTP error with its status; after that the status is 200 and a failure can only be
an error event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping

from aiohttp import web

from gateway.core.errors import GatewayError
from gateway.core.messages import Chunk
from gateway.core.pipeline import Primed
from gateway.fronts.openai_wire import error_body
from gateway.intake import cut_off
from gateway.state import CONFIG

log = logging.getLogger("gateway.sse")

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx would otherwise buffer the whole answer
}
DONE = b"data: [DONE]\n\n"


def frame(obj: object) -> bytes:
    """One SSE event.

    >>> frame({"a": 1})
    b'data: {"a":1}\\n\\n'
    """
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


async def stream_response(
    request: web.Request, primed: Primed, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Relay a primed stream as SSE; `data: [DONE]` only when the upstream finished cleanly.

    A client that takes nothing for `server.client_write_timeout_s` (a write waits while its
    socket is full) is cut off, and the backend stream closed first: that frees its slot.
    """
    stall_s = request.app[CONFIG].server.client_write_timeout_s
    first, chunks = primed.first, primed.rest
    try:
        response = web.StreamResponse(headers={**SSE_HEADERS, **headers})
        try:
            await _bounded(response.prepare(request), stall_s)
            await _relay(response, first, chunks, stall_s)
        except _ClientStalled:
            await chunks.aclose()
            cut_off(request, "stream", stall_s)
        return response
    finally:
        await chunks.aclose()


async def _relay(
    response: web.StreamResponse, first: Chunk | None, chunks: AsyncIterator[Chunk], stall_s: float
) -> None:
    if first is not None:
        await _bounded(response.write(frame(first)), stall_s)
    try:
        async for chunk in chunks:
            await _bounded(response.write(frame(chunk)), stall_s)
    except GatewayError as e:
        log.warning("stream %s ended with an error: %s", response.headers.get("X-Request-Id"), e)
        await _bounded(response.write(frame(error_body(e))), stall_s)
        return
    await _bounded(response.write(DONE), stall_s)


class _ClientStalled(Exception):
    """The client took nothing from its socket for the whole write deadline."""


async def _bounded(write: Awaitable[object], stall_s: float) -> None:
    try:
        async with asyncio.timeout(stall_s):
            await write
    except TimeoutError:
        raise _ClientStalled from None
