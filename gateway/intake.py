"""Deadlines and limits on what a client sends and takes, which aiohttp's server lacks.

- The request head: aiohttp's keep-alive timer runs from the moment a connection opens and
  again from the end of each response, and closes the connection if no complete request
  head has arrived when it fires. Set to `server.header_timeout_s`, it is the header
  deadline (and the idle keep-alive limit).
- The body: `refuse_middleware` refuses, before a byte is read, a declared length over
  `server.max_body_mb` (413) and any compressed body (415: nothing inflates a bomb, and
  aiohttp's own decompression is off). `body_middleware` then reads the body whole under
  `server.body_timeout_s` (a handler's own `request.read()` returns it at once).
- The answer: `send` gives a non-streamed answer `server.client_write_timeout_s`
  to leave; streams keep the same deadline per write that could wait (`fronts.stream`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from gateway.config import ServerConfig
from gateway.core.errors import BodyTimeout, UnsupportedEncoding
from gateway.state import CONFIG, METRICS, REQUEST_ID

log = logging.getLogger("gateway.intake")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# After a refusal aiohttp reads and drops the rest of the body for this long, so that a
# client still sending sees the answer rather than a reset; a slow client is not waited on.
LINGER_S = 2.0


def handler_args(server: ServerConfig) -> dict[str, Any]:
    """aiohttp's per-connection options (`web.Application(handler_args=...)`)."""
    return {
        "keepalive_timeout": server.header_timeout_s,
        "lingering_time": LINGER_S,
        "auto_decompress": False,
    }


@web.middleware
async def refuse_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bodies refused on their headers alone: compressed, or declared over the limit."""
    if request.can_read_body:
        _refuse_by_headers(request)
    return await handler(request)


def _refuse_by_headers(request: web.Request) -> None:
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedEncoding(
            f"request bodies with Content-Encoding {encoding!r} are not accepted; "
            "send the JSON uncompressed",
            headers={"Accept-Encoding": "identity"},
        )
    declared = request.content_length or 0
    if declared > request.client_max_size:
        raise web.HTTPRequestEntityTooLarge(request.client_max_size, declared)


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The body read whole within its deadline (and size), before the handler runs."""
    if request.can_read_body:
        await _read_body(request, request.app[CONFIG].server)
    return await handler(request)


async def _read_body(request: web.Request, server: ServerConfig) -> None:
    if request.content.is_eof():  # all of it came with the head: nothing to wait for
        await request.read()
        return
    try:
        async with asyncio.timeout(server.body_timeout_s):
            await request.read()
    except TimeoutError:
        raise BodyTimeout(
            f"the request body did not arrive within server.body_timeout_s "
            f"({server.body_timeout_s:g}s); send it faster or raise the limit"
        ) from None


async def send(request: web.Request, response: web.StreamResponse) -> None:
    """Send a non-streamed answer under the write deadline; aiohttp itself would wait as
    long as a client that reads nothing keeps its connection open. An answer the socket
    takes at once (most) needs no deadline timer."""
    body = getattr(response, "body", None)
    if isinstance(body, bytes) and writes_at_once(request, len(body) + HEAD_BYTES):
        await response.prepare(request)
        await response.write_eof()
        return
    timeout = request.app[CONFIG].server.client_write_timeout_s
    try:
        async with asyncio.timeout(timeout):
            await response.prepare(request)
            await response.write_eof()
    except TimeoutError:
        cut_off(request, "response", timeout)


HEAD_BYTES = 4096  # more than a response head of the gateway's takes


def writes_at_once(request: web.Request, size: int) -> bool:
    """Whether writing `size` bytes returns at once: the socket is not paused and takes
    them, or the transport buffers them under its high-water mark, so the write never waits
    for the client and needs no deadline."""
    transport, protocol = request.transport, request.protocol
    if transport is None or protocol.writing_paused:
        return False
    return transport.get_write_buffer_size() + size <= transport.get_write_buffer_limits()[1]


def cut_off(request: web.Request, what: str, timeout: float) -> None:
    """Drop a client that took nothing for `timeout` seconds, discarding what it left
    unread (aiohttp's own end of the response then fails at once instead of waiting)."""
    log.warning(
        "client read none of the %s for %gs: connection closed [%s]",
        what, timeout, request.get(REQUEST_ID, "-"),
    )  # fmt: skip
    request.app[METRICS].client_cut_off.inc(what)
    if request.transport is not None:
        request.transport.abort()
