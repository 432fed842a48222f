"""Reading a front's JSON body: every front reads its bodies through `read_body`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from gateway.core.jsonvalues import MAX_JSON_VALUES, count_json_values, crowded
from gateway.edge import too_many_values
from gateway.state import PIPELINE

M = TypeVar("M", bound=BaseModel)
# Bodies above this size or with more JSON objects than this are parsed off the loop: a few
# MB of base64 takes milliseconds, and each message ~60 µs (5,000 of them: 0.3 s).
INLINE_PARSE_BYTES = 256 * 1024
INLINE_OBJECTS = 200


async def read_body(request: web.Request, parse: Callable[[bytes], M]) -> M:
    """The body read and parsed by `parse`, off the loop when it is large. A body with more
    JSON values than pydantic may build is a 400; the exact count runs in a decode child,
    where holding the GIL stalls nothing else."""
    body, pipeline = await request.read(), request.app[PIPELINE]
    big = len(body) >= INLINE_PARSE_BYTES or body.count(b"{") > INLINE_OBJECTS
    if await pipeline.offload(big, crowded, body) and (
        await pipeline.isolate(True, count_json_values, body) > MAX_JSON_VALUES
    ):
        raise too_many_values()
    return await pipeline.offload(big, parse, body)
