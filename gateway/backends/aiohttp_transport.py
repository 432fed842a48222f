"""An httpx transport that sends over aiohttp, for the official `ollama` client.

ollama-python keeps building its requests and parsing the answers; only the connection
pool below it changes. httpcore's pool walks every pooled connection, polling its socket,
for each request: at 16 requests in flight through the gateway it served a third of the
requests per second that this transport does, at 3-4x the p99 latency (bench/bench_proxy.py,
docs/benchmarks.md). Media are spliced into the body here too (see media_body), off the
event loop.

Timeouts come from the request as httpx sets them (connect, read); aiohttp's failures
become the httpx exceptions the client and the adapter already handle.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

from gateway.backends.media_body import spliced

_NOT_FORWARDED = frozenset({"content-length", "host", "transfer-encoding"})  # aiohttp sets them


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends over one aiohttp session of at most `connections` connections (`pool_size`)."""

    def __init__(self, connections: int) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0)
            # httpx decodes content-encodings itself: hand it the bytes as sent.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read")
        )
        headers = [(k, v) for k, v in request.headers.multi_items() if k not in _NOT_FORWARDED]
        body = io.BytesIO(await spliced(await request.aread()))  # bytes: aiohttp would warn
        with _as_httpx_errors(request):
            response = await self.session.request(
                request.method, str(request.url), data=body, headers=headers,
                timeout=timeout, allow_redirects=False,
            )  # fmt: skip
        return httpx.Response(
            response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_Body(response, request),
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# One NDJSON line, or a whole JSON answer: httpx buffers a line until it ends, so a backend
# that never ends one would have it buffer without bound.
MAX_LINE_BYTES = 64 * 2**20


class _Body(httpx.AsyncByteStream):
    """The answer's bytes, which must be UTF-8 (Ollama's are JSON): httpx would decode what is
    not into U+FFFD and pass a broken answer on as text. U+0085 is sent escaped: httpx splits
    lines where `str.splitlines` does, at U+0085 too, which would cut in two an NDJSON line
    holding one (Go's JSON encoder leaves it raw). A line over `MAX_LINE_BYTES` raises."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        encoded = self._response.headers.get("Content-Encoding", "identity") != "identity"
        utf8 = codecs.getincrementaldecoder("utf-8")()  # strict: raises UnicodeDecodeError
        unbroken = 0  # bytes since the last newline
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_any():
                newline = chunk.rfind(b"\n")
                unbroken = len(chunk) - newline - 1 if newline >= 0 else unbroken + len(chunk)
                if unbroken > MAX_LINE_BYTES:
                    raise ValueError(f"a line of over {MAX_LINE_BYTES} bytes")
                yield chunk if encoded else utf8.decode(chunk).replace("\x85", "\\u0085").encode()
        if not encoded:
            utf8.decode(b"", True)  # a sequence cut off at the end

    async def aclose(self) -> None:
        # A finished answer has already gone back to the pool; an unfinished one (the
        # client went away) closes its connection, which is how Ollama learns to stop.
        self._response.close()


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's failures as the httpx exceptions ollama-python and the adapter handle."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as e:
        raise httpx.ConnectTimeout(str(e) or "connect timed out", request=request) from e
    except TimeoutError as e:  # aiohttp's ServerTimeoutError: no bytes within sock_read
        raise httpx.ReadTimeout(str(e) or "read timed out", request=request) from e
    except aiohttp.ClientConnectorError as e:
        raise httpx.ConnectError(str(e), request=request) from e
    except aiohttp.ClientError as e:
        raise httpx.ReadError(str(e) or type(e).__name__, request=request) from e
