"""`POST /v1/chat/completions`: parse -> decode and inspect -> route -> forward, with
failover to the next candidate while nothing has been sent to the client yet."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from gateway.backends import Backend
from gateway.config import GatewayConfig
from gateway.core.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    ModelNotFound,
    NoRoute,
    QueueFull,
)
from gateway.core.estimate import Inspection, MediaPlan, inspect
from gateway.core.fanout import answer
from gateway.core.inventory import Inventory
from gateway.core.messages import BackendRequest, ChatMessage
from gateway.core.model import Modality, ModelInfo
from gateway.core.routing import Need, RouteDecision, Wish, route
from gateway.edge import (
    MAX_JSON_VALUES,
    count_json_values,
    crowded,
    parse_chat_request,
    too_many_values,
)
from gateway.fetch import fetch_all, unfetched, unfetched_note
from gateway.fronts.openai_wire import AudioPart, ChatRequest, TextPart, VideoPart
from gateway.isolation import Isolated, Limits
from gateway.state import BACKENDS, CONFIG, KEEPER, MEDIA_POOL, METRICS, REQUEST_ID
from preprocess.media import BackendPart, Part
from preprocess.parts import Fetched, expand_messages, prepare_media, remote_urls

log = logging.getLogger("gateway.chat")
T = TypeVar("T")

# Bodies above this size or with more JSON objects (messages, parts), or any audio/video,
# are parsed, decoded and inspected off the loop: base64 of a few MB takes milliseconds,
# opening a video container more, and each message ~60 µs (5,000 of them: 0.3 s).
INLINE_DECODE_BYTES = 256 * 1024
INLINE_OBJECTS = 200
MISS_REFRESH_AFTER_S = 1.0  # a miss refreshes the snapshot unless it is this fresh
MAX_ATTEMPTS = 3
# Failures that say nothing about the request itself: another candidate may well succeed.
RETRYABLE = (BackendUnavailable, BackendTimeout, BackendError, ModelNotFound, QueueFull)


@dataclass(frozen=True)
class Planned:
    """A parsed, inspected and routed request, before its media are prepared."""

    req: ChatRequest
    messages: list[ChatMessage[Part]]
    inspection: Inspection
    decision: RouteDecision


async def chat_completions(request: web.Request) -> web.StreamResponse:
    app, planned = request.app, await plan(request)
    has_media = planned.inspection.modalities - {Modality.TEXT}
    heavy = bool(has_media) or len(planned.messages) > INLINE_OBJECTS
    started = time.perf_counter()
    run = decoding if has_media else blocking
    prepared = await run(app, heavy, prepare_media, planned.messages, app[CONFIG].preprocess)
    if has_media:
        took = time.perf_counter() - started
        app[METRICS].media_seconds.observe(took)
        log.debug("[%s] media prepared in %.1f ms: %s", request[REQUEST_ID],
                  took * 1000, prepared.plan)  # fmt: skip
    return await forward(request, planned.req, prepared.messages, planned.decision, prepared.plan)


async def route_dry_run(request: web.Request) -> web.Response:
    """`POST /v1/gateway/route`: the decision a chat request would get, on the live inventory
    and load, with nothing prepared or forwarded. `gateway route` asks it when a gateway runs,
    so the dry run sees what the gateway sees (the embedded engine, requests in flight)."""
    planned = await plan(request, dry=True)
    kinds = {name: b.kind for name, b in request.app[BACKENDS].items()}
    answer = explain(planned.decision, planned.inspection, kinds)
    if request.app[CONFIG].preprocess.allow_remote_media and (urls := remote_urls(planned.req)):
        answer["remote_media"] = unfetched_note(urls)  # counted, not fetched
    return web.json_response(answer)


async def plan(request: web.Request, dry: bool = False) -> Planned:
    """Parse -> fetch remote media -> decode and inspect -> route, heavy steps in the pool."""
    body = await request.read()
    app, config = request.app, request.app[CONFIG]
    big = len(body) >= INLINE_DECODE_BYTES or body.count(b"{") > INLINE_OBJECTS
    await refuse_crowded(app, big, body)
    req = await blocking(app, big, parse_chat_request, body)
    fetched = await fetch_remote(req, config, dry=dry)
    kinds = _part_kinds(req)
    heavy = big or bool(fetched) or bool(kinds & {AudioPart, VideoPart})
    # Only decoders need a child process; a long text-only body needs just a thread.
    run = decoding if kinds - {TextPart} else blocking
    messages, inspection = await run(app, heavy, decode_and_inspect, req, config, fetched)
    wish = Wish(
        model=request.headers.get("X-Gateway-Model") or req.model,
        backend=request.headers.get("X-Gateway-Backend"),
        prefer=request.headers.get("X-Gateway-Prefer"),
    )
    need = inspection.need()
    decision = await decide(app, need, wish)
    log.info(
        "route [%s] asked=%s -> %s on %s reason=%s tokens=%d candidates=%d",
        request[REQUEST_ID], wish.model or "auto", decision.model.id, decision.backend,
        decision.reason, decision.tokens, len(decision.candidates),
    )  # fmt: skip
    return Planned(req, messages, inspection, decision)


async def refuse_crowded(app: web.Application, big: bool, body: bytes) -> None:
    """A 400 for a body with more JSON values than pydantic may build (`edge`); the exact
    count runs in a decode child, where holding the GIL stalls nothing else."""
    if not await blocking(app, big, crowded, body):
        return
    if await decoding(app, True, count_json_values, body) > MAX_JSON_VALUES:
        raise too_many_values()


async def blocking(app: web.Application, heavy: bool, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` in the media pool when the work is heavy, inline when it is trivial."""
    if not heavy:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(app[MEDIA_POOL], fn, *args)


async def decoding(app: web.Application, heavy: bool, fn: Callable[..., T], *args: Any) -> T:
    """Run media decoding `fn` in a child process (see `isolation`) when there is media to
    decode, waited for from the media pool; inline when there is nothing heavy."""
    if not heavy:
        return fn(*args)
    media = app[CONFIG].preprocess
    call = Isolated(Limits(media.decode_memory_mb, media.decode_timeout_s))
    try:
        return await blocking(app, True, call.run, fn, *args)
    finally:
        call.cancel()  # a client that hung up cancelled us: its decode dies now, not at the end


async def fetch_remote(req: ChatRequest, config: GatewayConfig, dry: bool = False) -> Fetched:
    """Fetch `https://` media within the request's caps when allowed; else leave them to be
    refused. The dry run fetches nothing: it counts them (`fetch.unfetched`)."""
    urls = remote_urls(req)
    media = config.preprocess
    if not urls or not media.allow_remote_media:
        return {}
    return unfetched(urls, media) if dry else await fetch_all(urls, media)


def decode_and_inspect(
    req: ChatRequest, config: GatewayConfig, fetched: Fetched | None = None
) -> tuple[list[ChatMessage[Part]], Inspection]:
    """Blocking: decodes base64 media and reads media headers."""
    messages = expand_messages(req, int(config.server.max_body_mb * 2**20), fetched)
    return messages, inspect(messages, req.output_tokens, config.routing, config.preprocess)


def _part_kinds(req: ChatRequest) -> set[type]:
    """The content part classes the request uses (TextPart, ImagePart, ...)."""
    return {type(p) for m in req.messages if isinstance(m.content, list) for p in m.content}


async def decide(app: web.Application, need: Need, wish: Wish) -> RouteDecision:
    """Route on the snapshot; on a miss, refresh once (a model may just have been pulled)."""
    keeper, policy = app[KEEPER], app[CONFIG].routing
    busy = {name: b.limiter.in_flight + b.limiter.waiting for name, b in app[BACKENDS].items()}

    def decide_on(snapshot: Inventory) -> RouteDecision:
        return route(need, wish, snapshot, policy, keeper.catalogue, busy)

    try:
        return decide_on(keeper.snapshot)
    except (ModelNotFound, NoRoute):
        if time.monotonic() - keeper.snapshot.taken_at < MISS_REFRESH_AFTER_S:
            raise
    return decide_on(await keeper.refresh())


async def forward(
    request: web.Request,
    req: ChatRequest,
    messages: list[ChatMessage[BackendPart]],
    decision: RouteDecision,
    plan: MediaPlan,
) -> web.StreamResponse:
    """Try the candidates in order until one starts answering (reason `fallback` after the
    first); once a byte has reached the client there is no going back."""
    last: GatewayError | None = None
    for attempt, model in enumerate(decision.candidates[:MAX_ATTEMPTS]):
        backend = request.app[BACKENDS][model.backend]
        reason = decision.reason if attempt == 0 else "fallback"
        headers = response_headers(model, reason, decision.tokens, plan, request[REQUEST_ID])
        breq = backend_request(req, messages, model, backend, decision)
        try:
            response = await answer(request, backend, breq, req.n_choices, req.stream, headers)
            request.app[METRICS].routed.inc(model.id, model.backend, reason)
            return response
        except RETRYABLE as e:
            request.app[METRICS].backend_failures.inc(model.backend, e.code or "error")
            if isinstance(e, BackendUnavailable):
                request.app[KEEPER].refresh_soon()
            log.warning("[%s] %s on %s failed before answering: %s",
                        request[REQUEST_ID], model.id, model.backend, e.message)  # fmt: skip
            last = e
    assert last is not None  # candidates are never empty
    try:
        raise last
    finally:  # else this frame and `last`'s traceback hold each other, and the request's media
        del last  # with them, until the garbage collector runs (hazards.md)


def backend_request(
    req: ChatRequest,
    messages: list[ChatMessage[BackendPart]],
    model: ModelInfo,
    backend: Backend,
    decision: RouteDecision,
) -> BackendRequest:
    """Ollama gets an explicit num_ctx: left alone, it silently truncates to its default."""
    context = decision.num_ctx(model) if backend.kind == "ollama" else None
    return BackendRequest(model.id, messages, req.sampling(), req.include_usage, context)


def response_headers(
    model: ModelInfo, reason: str, tokens: int, plan: MediaPlan, request_id: str
) -> dict[str, str]:
    headers = {
        "X-Gateway-Model": model.id,
        "X-Gateway-Backend": model.backend,
        "X-Gateway-Route": reason,
        "X-Gateway-Tokens-Estimate": str(tokens),
        "X-Request-Id": request_id,
    }
    if preprocess := describe_plan(plan):
        headers["X-Gateway-Preprocess"] = preprocess
    return headers


def explain(
    decision: RouteDecision, inspection: Inspection, kinds: Mapping[str, str]
) -> dict[str, Any]:
    """The decision as `gateway route` prints it; `kinds` maps backend name -> kind."""

    def described(m: ModelInfo) -> dict[str, Any]:
        ctx = decision.num_ctx(m) if kinds.get(m.backend) == "ollama" else None
        return {"model": m.id, "backend": m.backend, "member": m.member, "num_ctx": ctx}

    return {
        **described(decision.model),
        "reason": decision.reason,
        "tokens_estimate": decision.tokens,
        "estimate": dataclasses.asdict(inspection.estimate),
        "modalities": sorted(inspection.modalities),
        "preprocess": dataclasses.asdict(inspection.plan),
        "candidates": [described(m) for m in decision.candidates],
    }


def describe_plan(plan: MediaPlan) -> str:
    """The contract's `X-Gateway-Preprocess` value; empty when no media was touched.

    >>> describe_plan(MediaPlan(videos=1, frames=60, truncated_s=30.4, audios=1, clips=3))
    'video=1;frames=60;truncated_s=30;audio=1;clips=3'
    """
    parts = []
    if plan.videos:
        parts += [f"video={plan.videos}", f"frames={plan.frames}",
                  f"truncated_s={round(plan.truncated_s)}"]  # fmt: skip
    if plan.audios:
        parts += [f"audio={plan.audios}", f"clips={plan.clips}"]
    return ";".join(parts)
