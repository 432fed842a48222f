"""A budget for the request bytes in flight, all requests together.

`server.max_body_mb` bounds one body; nothing else bounded many at once: 24 bad 60 MiB
requests together took the gateway to 3.28 GB. Each request with a body is counted at its
declared `Content-Length` (a body without one at `server.max_body_mb`, its most) from
before its body is read until its response is finished, decoded media included. One that
would take the total over `server.max_inflight_mb` is refused with 503 and `Retry-After`
before a byte of its body is read; one request is always admitted when nothing else is in
flight, so a single body up to `max_body_mb` never waits for a budget below it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.core.errors import ServerBusy

RETRY_AFTER_S = 1  # bodies arrive and fail or start answering within about this


class ByteBudget:
    """Bytes held by requests in flight. Used from the event loop only: no lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def take(self, size: int) -> None:
        """Count `size` bytes in, or raise ServerBusy when they do not fit."""
        if self.in_use and self.in_use + size > self.capacity:
            raise ServerBusy(
                f"the gateway holds {self.in_use / 2**20:.1f} MiB of requests in flight and this "
                f"one's {size / 2**20:.1f} MiB would pass server.max_inflight_mb "
                f"({self.capacity / 2**20:g} MiB): retry shortly, or raise "
                "server.max_inflight_mb",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.in_use += size

    def give_back(self, size: int) -> None:
        self.in_use -= size


def budget_middleware(budget: ByteBudget) -> Middleware:
    """A middleware holding each request's body size in `budget` while it is handled; it
    must come before anything that reads the body."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.can_read_body:
            return await handler(request)
        limit = request.client_max_size  # over it, the read refuses the body (413)
        declared = request.content_length
        size = limit if declared is None else min(declared, limit)
        budget.take(size)
        try:
            return await handler(request)
        finally:
            budget.give_back(size)

    return middleware
