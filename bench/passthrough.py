"""The floor: a bare aiohttp pass-through in front of one upstream (not a test).

    .venv/bin/python bench/passthrough.py UPSTREAM_URL [--port 0]

Relays every request to UPSTREAM_URL + the same path, with the same method, body and
content type, over one pooled client session, and relays the answer: read whole and sent
back when it is not a stream, copied chunk by chunk as it arrives when it is (SSE). No
parsing, no validation, no logging: what any Python/aiohttp gateway pays at the least, so
`python -m bench` measures the gateway against it. Prints "passthrough listening on URL"
once it serves; GET /health answers 200 without touching the upstream.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def make_app(upstream: str) -> web.Application:
    upstream = upstream.rstrip("/")
    app = web.Application(client_max_size=64 * 2**20)

    async def start_session(app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        app["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def relay(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["session"]
        body = await request.read()
        headers = {}
        if ctype := request.headers.get("Content-Type"):
            headers["Content-Type"] = ctype
        async with session.request(
            request.method, upstream + request.rel_url.path_qs, data=body, headers=headers
        ) as up:
            out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP}
            if up.headers.get("Content-Type", "").startswith("text/event-stream"):
                response = web.StreamResponse(status=up.status, headers=out_headers)
                await response.prepare(request)
                async for chunk in up.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
            return web.Response(status=up.status, body=await up.read(), headers=out_headers)

    app.on_startup.append(start_session)
    app.on_cleanup.append(close_session)
    app.router.add_get("/health", health)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


async def serve(upstream: str, port: int) -> None:
    runner = web.AppRunner(make_app(upstream), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"passthrough listening on http://127.0.0.1:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("upstream")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    asyncio.run(serve(args.upstream, args.port))


if __name__ == "__main__":
    main()
