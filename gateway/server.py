"""The HTTP edge: app factory, middleware, the fronts' endpoints and the operations ones.

The pipeline is in `core`, the APIs in `fronts`. Every failure is a `GatewayError` (or a
`preprocess.InvalidMedia`), rendered once by `error_middleware` in the shape of the front
whose endpoint was asked (OpenAI's for unknown paths).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from aiohttp import web

from gateway import __version__
from gateway.backends import build_backend
from gateway.budget import ByteBudget, budget_middleware
from gateway.config import GatewayConfig
from gateway.core.catalogue import Catalogue
from gateway.core.errors import (
    GatewayError,
    InvalidRequest,
    PayloadTooLarge,
    Unauthorized,
    redact,
)
from gateway.core.inventory import Inventory
from gateway.core.pipeline import Pipeline
from gateway.cors import add_cors_headers, preflight_middleware
from gateway.embedded import embedded_engine
from gateway.fronts import (
    Endpoint,
    ErrorRenderer,
    audio,
    completions,
    ollama,
    openai,
    responses,
)
from gateway.intake import body_middleware, handler_args, refuse_middleware, send
from gateway.isolation import kill_children, start_forkserver
from gateway.keeper import Keeper
from gateway.logs import front_of, log_access, mark_first_byte
from gateway.metrics import Gauge, Metrics
from gateway.openapi import serve_openapi
from gateway.state import (
    BACKENDS,
    BUDGET,
    CONFIG,
    ENDPOINTS,
    KEEPER,
    MEDIA_POOL,
    METRICS,
    PIPELINE,
    REQUEST_ID,
)
from preprocess.errors import InvalidMedia, MediaTooLarge

log = logging.getLogger("gateway")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(config: GatewayConfig, embedded_log: Path | None = None) -> web.Application:
    """The gateway as an aiohttp application; backends live in its cleanup context.

    With `embedded_log`, the embedded engine is started too (logging there) and appended
    as the last backend.
    """
    budget = ByteBudget(int(config.server.max_inflight_mb * 2**20))
    app = web.Application(
        # the budget before the body is read: a refused request's body never is
        middlewares=[
            error_middleware,
            preflight_middleware,  # before auth: browsers send no key on a preflight
            auth_middleware,
            refuse_middleware,
            budget_middleware(budget),
            body_middleware,
        ],
        client_max_size=int(config.server.max_body_mb * 2**20),
        handler_args=handler_args(config.server),
    )
    app[CONFIG] = config.with_default_backends()
    app.on_response_prepare.append(add_cors_headers)
    app.on_response_prepare.append(mark_first_byte)
    app[METRICS] = Metrics()
    app[BUDGET] = budget
    if embedded_log is not None:
        app.cleanup_ctx.append(partial(embedded_ctx, log_file=embedded_log))
    app.cleanup_ctx.append(backends_ctx)
    app.cleanup_ctx.append(media_pool_ctx)
    app.cleanup_ctx.append(pipeline_ctx)
    endpoints = [
        *openai.ENDPOINTS,
        *ollama.ENDPOINTS,
        *audio.ENDPOINTS,
        *completions.ENDPOINTS,
        *responses.ENDPOINTS,
        *OPERATIONS,
    ]
    app[ENDPOINTS] = {}
    for e in endpoints:  # a GET answers HEAD too, as probes use it
        add = app.router.add_get if e.method == "GET" else partial(app.router.add_route, e.method)
        route = add(e.path, e.handler)
        assert route.resource is not None
        app[ENDPOINTS][route.resource.canonical] = e
    return app


async def embedded_ctx(app: web.Application, log_file: Path) -> AsyncIterator[None]:
    async with embedded_engine(log_file) as backend:
        config = app[CONFIG]
        app[CONFIG] = config.model_copy(update={"backends": [*config.backends, backend]})
        yield


async def media_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    """Decoding runs from here, off the event loop (in child processes: `isolation`); the
    pool's size bounds the CPU and memory media can take at once (`preprocess.workers`)."""
    workers = app[CONFIG].preprocess.workers
    with ThreadPoolExecutor(workers, thread_name_prefix="media") as pool:
        app[MEDIA_POOL] = pool
        await asyncio.get_running_loop().run_in_executor(pool, start_forkserver)
        yield
        kill_children()  # requests are over by now; don't wait out their decodes


async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    app[PIPELINE] = Pipeline(app[CONFIG], app[KEEPER], app[BACKENDS], app[MEDIA_POOL], app[METRICS])
    yield


async def backends_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the backends, take a first inventory before serving, refresh it in background."""
    config = app[CONFIG]
    backends = {b.name: build_backend(b) for b in config.backends}
    catalogue = Catalogue(config.models)
    keeper = Keeper(list(backends.values()), config.server.refresh_seconds, catalogue)
    app[BACKENDS], app[KEEPER] = backends, keeper
    await keeper.refresh()
    task = asyncio.create_task(keeper.run())
    yield
    task.cancel()
    await keeper.stop()
    await asyncio.gather(*(b.close() for b in backends.values()))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request ids, one renderer for every error (never a bare 500), the answer sent under
    its write deadline (`intake.send`; a stream has sent itself), then the access line and
    metrics: after the last byte, so they are not on the answer's path and its time is the
    whole of it."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except asyncio.CancelledError:  # the client hung up (handler cancellation): as nginx logs it
        _record(request, web.Response(status=CLIENT_CLOSED_REQUEST), started)
        raise
    except Exception as e:
        response = _renderer(request)(_as_gateway_error(e, request, request_id))
    try:
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
            await send(request, response)
    finally:
        _record(request, response, started)
    return response


CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before its answer


def _record(request: web.Request, response: web.StreamResponse, started: float) -> None:
    """The access line (`logs.log_access`) and the request metrics."""
    took = time.perf_counter() - started
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].http_requests.inc(request.method, path, str(response.status))
    request.app[METRICS].http_seconds.observe(took, path)
    log_access(request, response, started, front_of(endpoint_of(request)))


TRACEBACK_EVERY_S = 60.0
_last_traceback: dict[type[BaseException], float] = {}


def _log_unexpected(e: Exception, where: str) -> None:
    """One log record per unexpected error, with its full traceback only for the first of its
    type each `TRACEBACK_EVERY_S`: a thousand requests failing alike write one traceback."""
    now, kind = time.monotonic(), type(e)
    if now - _last_traceback.get(kind, -TRACEBACK_EVERY_S) >= TRACEBACK_EVERY_S:
        _last_traceback[kind] = now
        log.exception("unexpected error on %s", where)
    else:
        log.error(
            "unexpected error on %s: %s: %s (only the first of a type each %gs has a traceback)",
            where, kind.__name__, redact(str(e)), TRACEBACK_EVERY_S,
        )  # fmt: skip


def endpoint_of(request: web.Request) -> Endpoint | None:
    """The endpoint a request was routed to; for a wrong method, the one at its path."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return request.app[ENDPOINTS].get(path)


def _renderer(request: web.Request) -> ErrorRenderer:
    """The asked endpoint's error shape; an unknown path under /api/ gets Ollama's."""
    if endpoint := endpoint_of(request):
        return endpoint.render_error
    return ollama.error_response if request.path.startswith("/api/") else openai.error_response


def _as_gateway_error(e: Exception, request: web.Request, request_id: str) -> GatewayError:
    """Any failure in the vocabulary every front renders; an unexpected one is logged."""
    if isinstance(e, GatewayError):
        return e
    if isinstance(e, InvalidMedia):
        error = PayloadTooLarge if isinstance(e, MediaTooLarge) else InvalidRequest
        return error(e.message, param=e.param)
    if isinstance(e, web.HTTPException):
        return _http_error(e, request.app)
    _log_unexpected(e, f"{request.method} {request.path} [{request_id}]")
    return GatewayError(f"internal gateway error; quote request id {request_id} when reporting")


def _http_error(e: web.HTTPException, app: web.Application) -> GatewayError:
    """aiohttp's own refusals (unknown path, wrong method, body too large), in words."""
    if isinstance(e, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(
            f"request body is larger than server.max_body_mb "
            f"({app[CONFIG].server.max_body_mb:g} MiB); send smaller media or raise the limit"
        )
    served = ", ".join(f"{ep.method} {ep.path}" for ep in app[ENDPOINTS].values())
    error = GatewayError(
        f"{e.reason}: the gateway serves {served} (GET /openapi.json describes the whole API)"
    )
    error.status, error.type, error.code = e.status, "invalid_request_error", None
    return error


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer keys on every route when `server.api_keys` is set, unknown paths included, but
    for the endpoints that say they are public (health probes, metrics, the API's spec)."""
    keys = request.app[CONFIG].server.api_keys
    endpoint = endpoint_of(request)
    if keys and not (endpoint and endpoint.public):
        token = bearer_token(request.headers.get("Authorization", ""))
        # Every key is compared, so the time taken does not say which one came close.
        if token is None or not any([hmac.compare_digest(token, k.encode()) for k in keys]):
            raise Unauthorized(
                "missing or wrong API key; send `Authorization: Bearer <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return await handler(request)


_BEARER = re.compile(r"bearer ([\x21-\x7e]+)", re.IGNORECASE | re.ASCII)


def bearer_token(header: str) -> bytes | None:
    """The token of `Bearer <token>` (scheme in any case, one space, printable ASCII); None
    for anything else, bytes that are no UTF-8 included (aiohttp hands them on escaped).

    >>> bearer_token("bearer k1"), bearer_token("k1"), bearer_token("Bearer  k1")
    (b'k1', None, None)
    """
    match = _BEARER.fullmatch(header)
    return match[1].encode() if match else None


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    snapshot: Inventory = request.app[KEEPER].snapshot
    limiters = {name: b.limiter for name, b in request.app[BACKENDS].items()}
    backends = {
        b.name: {
            "kind": b.kind,
            "url": b.url,
            "healthy": b.healthy,
            "detail": b.detail,
            "in_flight": limiters[b.name].in_flight if b.name in limiters else 0,
            "queued": limiters[b.name].waiting if b.name in limiters else 0,
            "models": [{"id": m.id, "loaded": m.loaded, "context": m.context,
                        "loaded_context": m.loaded_context} for m in b.models],
        }  # fmt: skip
        for b in snapshot.backends
    }
    if snapshot.ready:
        return web.json_response({"status": "ready", "backends": backends})
    return web.json_response(
        {"status": "not ready", "reason": snapshot.why_not_ready(), "backends": backends},
        status=503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; open like the health probes (it names models, never content)."""
    app = request.app
    limiters = [(name, b.limiter) for name, b in app[BACKENDS].items()]
    backends = app[KEEPER].snapshot.backends
    gauges = [
        Gauge("gateway_backend_in_flight", "Requests a backend is answering now.",
              ("backend",), [((n,), lim.in_flight) for n, lim in limiters]),
        Gauge("gateway_backend_queued", "Requests waiting for a backend's concurrency slot.",
              ("backend",), [((n,), lim.waiting) for n, lim in limiters]),
        Gauge("gateway_backend_up", "1 when the last inventory found the backend healthy.",
              ("backend",), [((b.name,), float(b.healthy)) for b in backends]),
        Gauge("gateway_backend_models", "Models a backend lists, and how many are loaded.",
              ("backend", "state"),
              [((b.name, state), sum(1 for m in b.models if m.loaded or state == "listed"))
               for b in backends for state in ("listed", "loaded")]),
        Gauge("gateway_inventory_age_seconds", "Seconds since the inventory was last taken.",
              (), [((), time.monotonic() - app[KEEPER].snapshot.taken_at)]),
        Gauge("gateway_inflight_body_bytes", "Request bytes held now (server.max_inflight_mb).",
              ("state",), [(("in_use",), app[BUDGET].in_use),
                           (("capacity",), app[BUDGET].capacity)]),
    ]  # fmt: skip
    return web.Response(
        text=app[METRICS].render(gauges), content_type="text/plain", charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


OPERATIONS = [
    Endpoint("GET", "/healthz", healthz, openai.error_response, public=True),
    Endpoint("GET", "/readyz", readyz, openai.error_response, public=True),
    Endpoint("GET", "/metrics", metrics, openai.error_response, public=True),
    Endpoint("GET", "/openapi.json", serve_openapi, openai.error_response, public=True),
]
