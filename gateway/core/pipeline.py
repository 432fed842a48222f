"""The one pipeline every front drives: prepare -> plan -> dispatch.

- `prepare`: remote media fetched (within its caps), then decoding, preprocessing and the
  estimate in **one** blocking call (`core.prepare`), in a decoding child when there is
  media (`gateway.isolation`), in a pool thread when the text is long, inline otherwise.
- `plan`: the pure router on the inventory snapshot, refreshed once on a miss.
- `dispatch`: the candidates in order, each in its backend's limiter slot, until one starts
  answering; a stream is returned primed (its first chunk received), so a failure to start
  still fails over and a front still answers it with a status.

Fronts parse their wire format into a `core.request.Request` and render the `Outcome`
(OpenAI-shaped completions and chunks, the neutral shape) and errors in their own format.
Nothing here reads or writes HTTP; the dry run (`gateway route`) runs the same `prepare`
and `plan`, fetching nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.backends import Backend
from gateway.config import GatewayConfig
from gateway.core.affinity import Affinity
from gateway.core.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    ModelNotFound,
    NoRoute,
    QueueFull,
)
from gateway.core.fanout import complete, stream
from gateway.core.inventory import Inventory
from gateway.core.messages import (
    BackendRequest,
    Chunk,
    ChunkStream,
    Completion,
    Embeddings,
    EmbedRequest,
)
from gateway.core.model import ModelInfo
from gateway.core.prepare import Prepared, prepare
from gateway.core.request import Request
from gateway.core.routing import RouteDecision, Wish, route, route_embedding
from gateway.core.tokens import estimate_text_tokens
from gateway.fetch import fetch_all, unfetched
from gateway.isolation import Isolated, Limits
from gateway.keeper import Keeper
from gateway.metrics import Metrics
from preprocess.media import MediaPlan, Text
from preprocess.parts import Fetched

log = logging.getLogger("gateway.pipeline")
T = TypeVar("T")
A = TypeVar("A")

# Text-only requests with more text or messages than this are estimated in a pool thread:
# the estimator takes ~1 µs per 10 characters, and each message ~60 µs to build (5,000: 0.3 s).
INLINE_TEXT_CHARS = 256 * 1024
INLINE_OBJECTS = 200
MISS_REFRESH_AFTER_S = 1.0  # a miss refreshes the snapshot unless it is this fresh
MAX_ATTEMPTS = 3
# Failures that say nothing about the request itself: another candidate may well succeed.
RETRYABLE = (BackendUnavailable, BackendTimeout, BackendError, ModelNotFound, QueueFull)


@dataclass(slots=True)
class Primed:
    """A stream whose first chunk has arrived (None: it ended at once). Whoever takes it
    must close `rest` however it ends: that ends the upstream and frees its limiter slot."""

    first: Chunk | None
    rest: ChunkStream


@dataclass(frozen=True, slots=True)
class Outcome:
    """A backend's answer: a whole completion, or a primed stream; with the contract's
    `X-Gateway-*` headers saying who answered and why."""

    model: ModelInfo
    headers: dict[str, str]
    completion: Completion | None = None
    stream: Primed | None = None


@dataclass(frozen=True, slots=True)
class EmbedCall:
    """An embeddings request, whichever API it came in by: the texts in order, the routing
    wish (model, backend pin), and what the backend is told (see `EmbedRequest`)."""

    inputs: list[str]
    wish: Wish = dataclasses.field(default_factory=Wish)
    dimensions: int | None = None
    truncate: bool = True
    keep_alive: float | str | None = None
    request_id: str = "-"


@dataclass(frozen=True, slots=True)
class EmbedOutcome:
    """A backend's vectors (one per input, in order), who made them, and the contract's
    `X-Gateway-*` headers (reason `embedding`, `override` or `fallback`)."""

    model: ModelInfo
    headers: dict[str, str]
    embeddings: Embeddings


@dataclass(slots=True)
class Pipeline:
    """What a request needs from the running gateway, with no HTTP in it."""

    config: GatewayConfig
    keeper: Keeper
    backends: dict[str, Backend]
    pool: Executor
    metrics: Metrics
    affinity: Affinity = dataclasses.field(default_factory=Affinity)

    async def prepare(self, req: Request, dry: bool = False) -> Prepared:
        """Fetch remote media (the dry run counts it instead), then one blocking trip."""
        fetched = await self._fetch(req, dry)
        decodes = req.decodes()
        texts = (len(p.text) for m in req.messages for p in m.parts if isinstance(p, Text))
        long = len(req.messages) > INLINE_OBJECTS or sum(texts) > INLINE_TEXT_CHARS
        run = self.isolate if decodes else self.offload
        started = time.perf_counter()
        prepared = await run(decodes or long, prepare, req.messages, req.output_tokens,
                             self.config, fetched)  # fmt: skip
        if decodes:
            self.metrics.media_seconds.observe(time.perf_counter() - started)
        return prepared

    async def _fetch(self, req: Request, dry: bool) -> Fetched:
        media = self.config.preprocess
        if not media.allow_remote_media or not (urls := req.remote()):
            return {}
        return unfetched(urls, media) if dry else await fetch_all(urls, media)

    async def plan(self, prepared: Prepared, wish: Wish, request_id: str = "-") -> RouteDecision:
        """Route on the snapshot; on a miss, refresh once (a model may just have been pulled)."""
        need, policy, catalogue = prepared.need(), self.config.routing, self.keeper.catalogue
        busy = self._busy()
        if wish.affinity is None:  # the conversation's previous host, if it had one
            wish = dataclasses.replace(wish, affinity=self.affinity.host(prepared.messages))
        decision = await self._decide(
            lambda snapshot: route(need, wish, snapshot, policy, catalogue, busy)
        )
        log.debug(  # the access line says model and reason
            "route [%s] asked=%s -> %s on %s reason=%s tokens=%d candidates=%d",
            request_id, wish.model or "auto", decision.model.id, decision.backend,
            decision.reason, decision.tokens, len(decision.candidates),
        )  # fmt: skip
        return decision

    def _busy(self) -> dict[str, int]:
        return {n: b.limiter.in_flight + b.limiter.waiting for n, b in self.backends.items()}

    async def _decide(self, decide_on: Callable[[Inventory], RouteDecision]) -> RouteDecision:
        """`decide_on` the snapshot; on a miss (model unknown, nothing able), once more on a
        fresh one unless the snapshot is fresh already."""
        try:
            return decide_on(self.keeper.snapshot)
        except (ModelNotFound, NoRoute):
            if time.monotonic() - self.keeper.snapshot.taken_at < MISS_REFRESH_AFTER_S:
                raise
        return decide_on(await self.keeper.refresh())

    async def _first_answer(
        self, decision: RouteDecision, request_id: str,
        attempt: Callable[[Backend, ModelInfo, str], Awaitable[A]],
    ) -> A:  # fmt: skip
        """`attempt` on the candidates in order (reason `fallback` after the first) until one
        answers; a failure that says nothing about the request moves on to the next."""
        last: GatewayError | None = None
        for i, model in enumerate(decision.candidates[:MAX_ATTEMPTS]):
            reason = decision.reason if i == 0 else "fallback"
            try:
                answer = await attempt(self.backends[model.backend], model, reason)
            except RETRYABLE as e:
                self.metrics.backend_failures.inc(model.backend, e.code or "error")
                if isinstance(e, BackendUnavailable):
                    self.keeper.refresh_soon()
                log.warning("[%s] %s on %s failed before answering: %s",
                            request_id, model.id, model.backend, e.message)  # fmt: skip
                last = e
                continue
            self.metrics.routed.inc(model.id, model.backend, reason)
            return answer
        assert last is not None  # candidates are never empty
        try:
            raise last
        finally:  # else this frame and `last`'s traceback hold each other, and the request's
            del last  # media with them, until the garbage collector runs (hazards.md)

    async def dispatch(
        self, req: Request, prepared: Prepared, decision: RouteDecision, request_id: str = "-"
    ) -> Outcome:
        """The first candidate that starts answering; a stream is returned primed."""

        async def attempt(backend: Backend, model: ModelInfo, reason: str) -> Outcome:
            headers = response_headers(model, reason, decision.tokens, prepared.plan, request_id)
            breq = backend_request(req, prepared, model, backend, decision)
            return await self._attempt(backend, breq, req, model, headers)

        outcome = await self._first_answer(decision, request_id, attempt)
        self.affinity.served(prepared.messages, outcome.model.backend)
        return outcome

    async def _attempt(
        self, backend: Backend, breq: BackendRequest, req: Request, model: ModelInfo,
        headers: dict[str, str],
    ) -> Outcome:  # fmt: skip
        if not req.stream:
            return Outcome(model, headers, completion=await complete(backend, breq, req.choices))
        chunks = stream(backend, breq, req.choices)
        try:
            first = await anext(chunks, None)
        except BaseException:  # a failure to start, or the client left: free the slot now
            await chunks.aclose()
            raise
        return Outcome(model, headers, stream=Primed(first, chunks))

    async def load(self, decision: RouteDecision, keep_alive: float | str | None) -> None:
        """A client's load or unload request, passed to the chosen model's backend."""
        await self.backends[decision.model.backend].load(decision.model.id, keep_alive)

    async def embed(self, call: EmbedCall) -> EmbedOutcome:
        """Route among the embedding models (refreshing once on a miss, as `plan` does), then
        the candidates in order, each in its backend's limiter slot, until one answers. No
        input: routed (an unknown model is still a 404), nothing sent."""
        catalogue, busy = self.keeper.catalogue, self._busy()
        decision = await self._decide(
            lambda snapshot: route_embedding(call.wish, snapshot, catalogue, busy)
        )
        log.debug(  # the access line says model and reason
            "route [%s] embeddings asked=%s -> %s on %s reason=%s inputs=%d candidates=%d",
            call.request_id, call.wish.model or "auto", decision.model.id, decision.backend,
            decision.reason, len(call.inputs), len(decision.candidates),
        )  # fmt: skip
        long = sum(map(len, call.inputs)) > INLINE_TEXT_CHARS
        tokens = await self.offload(long, _estimate_texts, call.inputs)

        async def attempt(backend: Backend, model: ModelInfo, reason: str) -> EmbedOutcome:
            headers = response_headers(model, reason, tokens, MediaPlan(), call.request_id)
            if not call.inputs:
                return EmbedOutcome(model, headers, Embeddings([], 0))
            req = EmbedRequest(
                model.id, call.inputs, call.dimensions, call.truncate, call.keep_alive
            )
            async with backend.limiter.slot():
                return EmbedOutcome(model, headers, await backend.embed(req))

        return await self._first_answer(decision, call.request_id, attempt)

    async def offload(self, heavy: bool, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` in the media pool when the work is heavy, inline when it is trivial."""
        if not heavy:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def isolate(self, heavy: bool, fn: Callable[..., T], *args: Any) -> T:
        """Run decoding `fn` in a child process (see `isolation`) when there is media to
        decode, waited for from the media pool; inline when there is nothing heavy."""
        if not heavy:
            return fn(*args)
        media = self.config.preprocess
        call = Isolated(Limits(media.decode_memory_mb, media.decode_timeout_s))
        try:
            return await self.offload(True, call.run, fn, *args)
        finally:
            call.cancel()  # a client that hung up cancelled us: its decode dies now


def backend_request(
    req: Request, prepared: Prepared, model: ModelInfo, backend: Backend, decision: RouteDecision
) -> BackendRequest:
    """A backend that sizes its context (Ollama) is told a `num_ctx` that holds the request,
    or the client's own when that is larger (within the model's window). A raw request's
    prompt is its first user message's text, sent to be continued (no chat template)."""
    context = None
    if backend.sizes_context:
        asked = min(req.context, model.window or req.context) if req.context else 0
        context = max(decision.num_ctx(model), asked)
    prompt = next((m.text for m in req.messages if m.role == "user"), "") if req.raw else None
    return BackendRequest(
        model.id, prepared.messages, req.sampling, req.include_usage, context, prompt
    )


def _estimate_texts(texts: list[str]) -> int:
    """The gateway's token estimate of an embeddings request's inputs."""
    return sum(estimate_text_tokens(t) for t in texts)


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


def explain(decision: RouteDecision, prepared: Prepared, snapshot: Inventory) -> dict[str, Any]:
    """The decision as `gateway route` prints it."""
    sizing = {b.name for b in snapshot.backends if b.sizes_context}

    def described(m: ModelInfo) -> dict[str, Any]:
        ctx = decision.num_ctx(m) if m.backend in sizing else None
        return {"model": m.id, "backend": m.backend, "member": m.member, "num_ctx": ctx}

    return {
        **described(decision.model),
        "reason": decision.reason,
        "tokens_estimate": decision.tokens,
        "estimate": dataclasses.asdict(prepared.estimate),
        "modalities": sorted(prepared.modalities),
        "preprocess": dataclasses.asdict(prepared.plan),
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
