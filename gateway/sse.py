"""OpenAI server-sent events: the only place that frames `data: ...` lines.

The first chunk is awaited before any byte is sent, so a failure to start (backend down,
model missing, timeout before the first token) is still an ordinary HTTP error with its
status; after that the status is 200 and a failure can only be an error event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from gateway.errors import GatewayError
from gateway.types import Chunk

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
    request: web.Request, chunks: AsyncIterator[Chunk], headers: Mapping[str, str]
) -> web.StreamResponse:
    """Relay `chunks` as SSE; `data: [DONE]` only when the upstream finished cleanly."""
    try:
        first = await anext(chunks, None)
        response = web.StreamResponse(headers={**SSE_HEADERS, **headers})
        await response.prepare(request)
        if first is not None:
            await response.write(frame(first))
        try:
            async for chunk in chunks:
                await response.write(frame(chunk))
        except GatewayError as e:
            log.warning("stream %s ended with an error: %s", headers.get("X-Request-Id"), e)
            await response.write(frame(e.body()))
            return response
        await response.write(DONE)
        return response
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
