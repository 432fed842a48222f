"""What both emulators share: a real aiohttp server on a free loopback port that records
every request, with the fault knobs tests flip between requests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from aiohttp import web

DEFAULT_REPLY = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """One request as the server saw it, so tests can assert what the gateway sent."""

    method: str
    path: str
    body: Any  # the parsed JSON body, or None (no body, or not JSON)
    headers: dict[str, str] = field(default_factory=dict, compare=False)


class Emulator(ABC):
    """A loopback aiohttp server with request recording and the fault knobs; subclasses
    add their routes. Knobs are plain attributes so a test can flip them between requests.
    """

    chat_path = ""  # the route whose bodies `chats()` returns and the knobs apply to

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.reply_tokens: list[str] = list(DEFAULT_REPLY)
        self.fail_mid_stream: str | None = None
        self.status_override: tuple[int, dict[str, Any]] | None = None
        self.delay_first_byte: float = 0.0
        self.token_delay: float = 0.0
        # A broken backend: a stream ends after `fault_after` frames without finishing
        # (`truncate_stream`), or `garbage` (raw bytes, unframed) is sent there instead of the
        # rest; a non-streamed answer is then `garbage` itself, with status 200.
        self.truncate_stream = False
        self.garbage: bytes | None = None
        self.fault_after = 1
        self.chat_received = asyncio.Event()  # set by every chat request as it arrives
        self.chat_cancelled = asyncio.Event()
        self.cancellations = 0
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopping = False

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The emulated server's routes."""

    def middlewares(self) -> list[Middleware]:
        """Extra middlewares, run after the recording one (so refused requests are recorded)."""
        return []

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        if self._url is None:
            raise RuntimeError("emulator not started")
        return self._url

    def chats(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat request, oldest first."""
        return [r.body for r in self.received if r.path == self.chat_path and r.body is not None]

    async def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 on a free port (or `port`: a stopped server coming back). Handler
        cancellation is on, so a client that hangs up is noticed at once (as Ollama's request
        context is), not at the next write."""
        # Real servers take large media bodies; aiohttp alone would stop at 1 MiB.
        app = web.Application(
            middlewares=[self._record, *self.middlewares()], client_max_size=512 * 2**20
        )
        app.add_routes(self.routes())
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        self._stopping = False
        return self._url

    async def stop(self) -> None:
        """Close the listener and drop open connections (later connects are refused)."""
        if self._runner is not None:
            self._stopping = True
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            try:
                body = json.loads(await request.read())
            except ValueError:
                body = None
        self.received.append(Received(request.method, request.path, body, dict(request.headers)))
        return await handler(request)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        """The chat route: faults first (delay, forced status), then the subclass's answer;
        a client leaving mid-answer is noted."""
        return await self.guarded(request, self._answer)

    async def guarded(self, request: web.Request, answer: Handler) -> web.StreamResponse:
        """`answer` behind the chat route's knobs (a generation route other than chat, e.g.
        Ollama's `/api/generate`, takes them too)."""
        self.chat_received.set()
        try:
            if self.delay_first_byte:
                await asyncio.sleep(self.delay_first_byte)
            if self.status_override is not None:
                status, payload = self.status_override
                return web.json_response(payload, status=status, dumps=dumps)
            return await answer(request)
        except asyncio.CancelledError:
            self.note_cancelled()
            raise

    @abstractmethod
    async def _answer(self, request: web.Request) -> web.StreamResponse:
        """The emulated server's answer to one chat request."""

    def note_cancelled(self) -> None:
        """The client went away before the answer was complete (not our own shutdown)."""
        if not self._stopping:
            self.cancellations += 1
            self.chat_cancelled.set()

    def faulted(self, frames: list[T]) -> list[T | bytes]:
        """The frames of a stream as the fault knobs leave them (garbage as raw bytes)."""
        if self.garbage is not None:
            return [*frames[: self.fault_after], self.garbage]
        return list(frames[: self.fault_after] if self.truncate_stream else frames)

    def garbage_response(self) -> web.Response | None:
        """A non-streamed answer that is `garbage` with status 200, when set."""
        if self.garbage is None:
            return None
        return web.Response(body=self.garbage, content_type="text/html")

    async def write_frame(self, response: web.StreamResponse, data: bytes) -> bool:
        """Write one frame; False (and `chat_cancelled` set) when the client has gone away."""
        try:
            await response.write(data)
        except ConnectionResetError:
            self.note_cancelled()
            return False
        return True


def dumps(obj: Any) -> str:
    """Compact JSON, as Go's encoding/json and most servers put it on the wire."""
    return json.dumps(obj, separators=(",", ":"))


def text_vector(model: str, text: str, dims: int) -> list[float]:
    """A deterministic unit vector for `text` (from a hash of model and text), so tests can
    tell which input a vector belongs to and check that order is kept."""
    digest = b""
    counter = 0
    while len(digest) < 2 * dims:
        digest += hashlib.sha256(f"{model}\0{text}\0{counter}".encode()).digest()
        counter += 1
    raw = [int.from_bytes(digest[2 * i : 2 * i + 2], "big") / 32767.5 - 1 for i in range(dims)]
    return normalized(raw)


def normalized(vector: list[float]) -> list[float]:
    """`vector` scaled to length 1, as Ollama's `normalize` does (server/routes.go)."""
    norm = 1.0 / max(math.sqrt(sum(x * x for x in vector)), 1e-12)
    return [x * norm for x in vector]
