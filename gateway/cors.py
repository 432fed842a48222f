"""CORS for browser apps: `server.cors_origins` lists the origins allowed ("*": any).

Empty (the default), the gateway sends no CORS headers and browsers keep other sites' pages
from calling it. Listed origins get `Access-Control-Allow-Origin` on every answer, errors and
streams included (added as the response is prepared), with the `X-Gateway-*` headers
exposed; their preflights are answered here, before auth (browsers send no credentials on a
preflight) and whatever the path, with the headers they ask for. A preflight from any other
origin is a 403, so a refused page learns at once rather than from a confusing failure.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from gateway.state import CONFIG

METHODS = "GET, POST, DELETE, OPTIONS"
EXPOSED = ", ".join([
    "X-Gateway-Model", "X-Gateway-Backend", "X-Gateway-Route", "X-Gateway-Tokens-Estimate",
    "X-Gateway-Preprocess", "X-Request-Id", "Retry-After",
])  # fmt: skip
MAX_AGE_S = "600"


def allowed(request: web.Request) -> str | None:
    """The `Access-Control-Allow-Origin` value for this request's origin, if any."""
    origins = request.app[CONFIG].server.cors_origins
    origin = request.headers.get(hdrs.ORIGIN)
    if not origins or origin is None:
        return None
    if origin in origins:
        return origin
    return "*" if "*" in origins else None


@web.middleware
async def preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer CORS preflights when CORS is on; everything else goes on."""
    asks = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_METHOD)
    cors_on = bool(request.app[CONFIG].server.cors_origins)
    if request.method != hdrs.METH_OPTIONS or asks is None or not cors_on:
        return await handler(request)
    if allowed(request) is None:
        return web.Response(status=403, text="origin not in server.cors_origins\n")
    headers = {
        hdrs.ACCESS_CONTROL_ALLOW_METHODS: METHODS,
        hdrs.ACCESS_CONTROL_MAX_AGE: MAX_AGE_S,
    }
    if wanted := request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS):
        headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = wanted  # an allowed origin's own ask
    return web.Response(status=204, headers=headers)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer to an allowed origin says so."""
    if (origin := allowed(request)) is None:
        return
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED
    if origin != "*":
        response.headers.add(hdrs.VARY, hdrs.ORIGIN)
