"""The contract every backend adapter keeps, and the limits shared by all of them."""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from gateway.config import BackendConfig
from gateway.core.errors import BackendError, BackendTimeout, QueueFull, redact
from gateway.core.messages import BackendRequest, ChunkStream, Completion, Embeddings, EmbedRequest
from gateway.core.model import ModelInfo


class Backend(Protocol):
    """A local inference server reached over HTTP.

    `chat` returns one OpenAI `chat.completion`; `stream` yields OpenAI
    `chat.completion.chunk`s and ends cleanly only when the upstream finished cleanly;
    every other ending raises a `GatewayError`. `embed` returns one vector per input, in
    order, checked (a 502 for any other shape). All translate the backend's own failures
    into `GatewayError`s at this boundary, with messages that say what to check.
    """

    name: str
    kind: str
    url: str
    cfg: BackendConfig
    limiter: Limiter
    sizes_context: bool

    async def chat(self, req: BackendRequest) -> Completion: ...

    def stream(self, req: BackendRequest) -> ChunkStream: ...

    async def embed(self, req: EmbedRequest) -> Embeddings: ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def load(self, model: str, keep_alive: float | str | None) -> None: ...

    async def close(self) -> None: ...


class BackendBase(ABC):
    """What every adapter shares: identity, limits, and timeouts around `_stream`.

    Capabilities are class data, read by the pipeline instead of checking kinds:
    `sizes_context` says the server must be told the context to load a model with (Ollama's
    `num_ctx`: left alone, it silently truncates to its default).
    """

    kind: str
    sizes_context = False

    def __init__(self, cfg: BackendConfig) -> None:
        self.name = cfg.name
        self.url = redact(cfg.url)  # what is shown; adapters connect to cfg.url
        self.cfg = cfg
        self.limiter = Limiter.from_config(cfg)

    async def load(self, model: str, keep_alive: float | str | None) -> None:
        """Load `model` now (unload it, with a zero `keep_alive`) where the server has such a
        call; by default nothing: the server loads a model on its first request."""
        return None

    def stream(self, req: BackendRequest) -> ChunkStream:
        return paced(
            self._stream(req), self.name, self.cfg.first_byte_timeout_s, self.cfg.read_timeout_s
        )

    @abstractmethod
    def _stream(self, req: BackendRequest) -> ChunkStream:
        """The adapter's own streaming call, without timeouts."""


# Connections a backend's HTTP pool may open beyond its concurrency: the inventory's model
# listings and health checks run beside a full load.
PROBE_HEADROOM = 8


def pool_size(cfg: BackendConfig) -> int:
    """The connection limit for a backend's HTTP pool. aiohttp's default, 100 per session,
    would queue requests the limiter already let through until their first-byte timeout."""
    return cfg.max_concurrency + PROBE_HEADROOM


class Limiter:
    """At most `concurrency` requests in flight to a backend and `queue` waiting; then 429.

    Local engines serve a few requests at once and queue the rest in memory; holding the
    line here keeps the queue visible (`in_flight`, used for routing) and bounded.
    """

    def __init__(self, backend: str, concurrency: int, queue: int) -> None:
        self.backend = backend
        self._sem = asyncio.Semaphore(concurrency)
        self._queue = queue
        self.in_flight = 0
        self.waiting = 0

    @classmethod
    def from_config(cls, cfg: BackendConfig) -> Limiter:
        return cls(cfg.name, cfg.max_concurrency, cfg.max_queue)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem.locked() and self.waiting >= self._queue:
            raise QueueFull(
                f"backend {self.backend!r} has {self.in_flight} requests in flight and "
                f"{self.waiting} queued; retry shortly or raise its max_concurrency/max_queue",
                headers={"Retry-After": "1"},
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._sem.release()


async def paced(chunks: ChunkStream, backend: str, first_s: float, idle_s: float) -> ChunkStream:
    """Re-yield `chunks`, failing with 504 if the first takes over `first_s` seconds
    (prompt processing) or any later wait over `idle_s` (a stalled generation). Only time
    spent waiting for the backend counts, not the client's writes in between."""
    watch = _Watch(first_s)
    try:
        while True:
            watch.begin()
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if watch.expired():
                    what = "to start answering" if watch.limit == first_s else "between two chunks"
                    raise BackendTimeout(
                        f"backend {backend!r} took over {watch.limit:g}s {what}; "
                        "raise its first_byte_timeout_s/read_timeout_s or use a smaller model"
                    ) from None
                raise
            finally:
                watch.end()
            yield chunk
            watch.limit = idle_s
    finally:
        watch.stop()
        await chunks.aclose()


class _Watch:
    """The deadline of each wait in a stream, on one timer for the whole stream: a timer per
    chunk (`asyncio.timeout`) cost more than relaying the chunk. A timer that fires while a
    later wait is still within its limit is set again for that wait's deadline; one that
    fires past it cancels the waiting task, as `asyncio.timeout` does."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None  # the task waiting now, if one is
        self._until = 0.0  # when the current wait runs out
        self._timer: asyncio.TimerHandle | None = None
        self._fired = False

    def begin(self) -> None:
        # The current task: with n > 1 choices each stream is waited on by a task of its own.
        self._task = asyncio.current_task()
        self._until = self._loop.time() + self.limit
        if self._timer is None or self._timer.when() > self._until:
            self.stop()
            self._timer = self._loop.call_at(self._until, self._fire)

    def end(self) -> None:
        self._task = None

    def _fire(self) -> None:
        self._timer = None
        if self._task is None:
            return  # not waiting: the next wait sets the timer
        if self._loop.time() < self._until:
            self._timer = self._loop.call_at(self._until, self._fire)
            return
        self._fired = True
        self._task.cancel()

    def expired(self) -> bool:
        """The cancellation being handled is this deadline's own (not a client's hang-up)."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() == 0

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def checked_vectors(backend: str, vectors: Any, expected: int) -> list[list[float]]:
    """A backend's embeddings, checked: `expected` non-empty lists of finite numbers, all of
    one length; anything else is a 502 (another backend is tried).

    >>> checked_vectors("b", [[1, 0.5]], 1)
    [[1.0, 0.5]]
    >>> checked_vectors("b", [[1.0], [2.0]], 1)
    Traceback (most recent call last):
    ...
    gateway.core.errors.BackendError: backend 'b' sent 2 embeddings for 1 inputs
    """
    if not isinstance(vectors, list | tuple):
        raise BackendError(f"backend {backend!r} sent no list of embeddings")
    if len(vectors) != expected:
        raise BackendError(
            f"backend {backend!r} sent {len(vectors)} embeddings for {expected} inputs"
        )
    out = [_vector(backend, v) for v in vectors]
    if len({len(v) for v in out}) > 1:
        raise BackendError(f"backend {backend!r} sent embeddings of different lengths")
    return out


def _vector(backend: str, vector: Any) -> list[float]:
    if (
        not isinstance(vector, list | tuple)
        or not vector
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in vector)
        or not all(math.isfinite(x) for x in vector)
    ):
        raise BackendError(
            f"backend {backend!r} sent an embedding that is not a list of numbers: "
            f"{str(vector)[:100]}"
        )
    return [float(x) for x in vector]


def shortened(vectors: list[list[float]], dimensions: int | None) -> list[list[float]]:
    """Vectors longer than `dimensions` cut to it and normalised again, as Ollama's
    EmbedHandler does (Matryoshka-trained models such as EmbeddingGemma keep their meaning).

    >>> shortened([[3.0, 4.0, 12.0]], 2)
    [[0.6, 0.8]]
    """
    if not dimensions or all(len(v) <= dimensions for v in vectors):
        return vectors
    out = []
    for vector in vectors:
        cut = vector[:dimensions]
        norm = math.sqrt(sum(x * x for x in cut)) or 1.0
        out.append([x / norm for x in cut])
    return out
