"""Streamed answers, whatever their framing: the only place that writes a stream's bytes.

The pipeline hands over a stream whose first chunk has arrived before any byte is sent, so
a failure to start (backend down, model missing, timeout before the first token) is still
an ordinary HTTP error with its status; after that the status is 200 and a failure can only
be an error written in the stream's own framing. A front supplies the framing: OpenAI's
server-sent events, Ollama's NDJSON lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Protocol

from aiohttp import web

from gateway.core.errors import GatewayError
from gateway.core.messages import Chunk
from gateway.core.pipeline import Primed
from gateway.intake import cut_off, writes_at_once
from gateway.logs import note_usage
from gateway.state import CONFIG

log = logging.getLogger("gateway.stream")

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx would otherwise buffer the whole answer
}


class Framing(Protocol):
    """How a front writes a stream: one chunk, a failure after the first byte, the end."""

    content_type: str

    def chunk(self, chunk: Chunk) -> bytes: ...

    def error(self, e: GatewayError) -> bytes: ...

    def end(self) -> bytes: ...


async def stream_response(
    request: web.Request, primed: Primed, headers: Mapping[str, str], framing: Framing
) -> web.StreamResponse:
    """Relay a primed stream; the framing's end mark only when the upstream finished cleanly.

    A client that takes nothing for `server.client_write_timeout_s` (a write waits while its
    socket is full) is cut off, and the backend stream closed first: that frees its slot.
    """
    stall_s = request.app[CONFIG].server.client_write_timeout_s
    chunks = primed.rest
    try:
        head = {**STREAM_HEADERS, "Content-Type": framing.content_type, **headers}
        response = _Head(headers=head)
        try:
            await response.prepare(request)  # the head only goes out with the first write
            await _relay(request, response, primed.first, chunks, framing, stall_s)
        except _ClientStalled:
            await chunks.aclose()
            cut_off(request, "stream", stall_s)
        return response
    finally:
        await chunks.aclose()


async def _relay(
    request: web.Request, response: web.StreamResponse, first: Chunk | None,
    chunks: AsyncIterator[Chunk], framing: Framing, stall_s: float,
) -> None:  # fmt: skip
    async def write(data: bytes) -> None:
        if not data:
            return
        if writes_at_once(request, len(data)):  # most writes: no deadline timer to arm
            await response.write(data)
        else:
            await _bounded(response.write(data), stall_s)

    if first is not None:
        note_usage(request, first)
        await write(framing.chunk(first))
    try:
        async for chunk in chunks:
            note_usage(request, chunk)  # for the access line's tokens
            await write(framing.chunk(chunk))
    except GatewayError as e:
        log.warning("stream %s ended with an error: %s", response.headers.get("X-Request-Id"), e)
        await write(framing.error(e))
        return
    await write(framing.end())


class _Head(web.StreamResponse):
    """A stream whose head leaves with its first chunk, in one write, as aiohttp's own
    `web.Response` does (`_send_headers_immediately`, aiohttp/web_response.py): the first
    chunk is always written right after, so nothing waits for it, and the client is woken
    once. Were aiohttp to drop the switch, the head would only go out on its own again."""

    _send_headers_immediately = False


class _ClientStalled(Exception):
    """The client took nothing from its socket for the whole write deadline."""


async def _bounded(write: Awaitable[object], stall_s: float) -> None:
    try:
        async with asyncio.timeout(stall_s):
            await write
    except TimeoutError:
        raise _ClientStalled from None
