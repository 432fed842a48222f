"""What `gateway up` logs, and how: text or JSON lines, one access line per request.

- `configure`: one handler on the root logger, formatted as `server.log_format` says:
  `text` is `ts LEVEL logger: message key=value ...`, `json` one object per line with `ts`,
  `level`, `logger`, `msg`, the record's structured fields (what was passed as `extra`) and
  `exc` for a traceback. Chatty libraries (`QUIET`) log warnings only unless
  `server.log_level` is `debug`.
- `log_access`: the access line: request id, method, path, front, status, route reason,
  model, backend, time to first byte and total time, tokens in and out when the answer
  reported usage (a front notes it: `note_usage`), media work (`X-Gateway-Preprocess`).
- Nothing secret is written: no prompt or media is ever logged, and every line is passed
  through `scrub` (URLs' user:password, bearer tokens, the configured keys) on its way out.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.core.errors import redact
from gateway.fronts import Endpoint
from gateway.state import FIRST_BYTE, REQUEST_ID, USAGE

access_log = logging.getLogger("gateway.access")

# Third-party loggers that say something per HTTP request (httpx: one line per backend call,
# i.e. one per inventory refresh): warnings only, unless the gateway logs at debug.
QUIET = ("httpx", "httpcore", "aiohttp.access", "urllib3", "ollama", "asyncio")
# What every LogRecord has; anything else on a record was passed as `extra`: its fields.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_IN_MESSAGE = frozenset({"method", "path", "status"})  # the access line's text says them first
_BEARER = re.compile(r"(bearer\s+)[\x21-\x7e]+", re.IGNORECASE)
_QUOTED = re.compile(r'[\s"]')  # a text field holding these is written quoted


def configure(config: GatewayConfig, stream: TextIO | None = None) -> logging.Handler:
    """The root logger writing to `stream` (stderr) in the configured format and level;
    replaces a handler an earlier call installed. Returns the handler."""
    server = config.server
    _lean_records()
    secrets = [*server.api_keys, *(b.api_key for b in config.backends if b.api_key)]
    handler = _Handler(stream or sys.stderr)
    json_lines = server.log_format == "json"
    handler.setFormatter(JsonFormatter(secrets) if json_lines else TextFormatter(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(server.log_level.upper())
    debug = server.log_level == "debug"
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    return handler


def _lean_records() -> None:
    """Records without what no gateway line prints: the caller's file, line and function
    (found by walking the stack), thread, process and multiprocessing names. Python's
    logging HOWTO ("Optimization") names these switches; they cut the access line's cost by
    a third (`bench/bench_stages.py`)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure` installs (so a second call replaces it)."""


def scrub(text: str, secrets: list[str]) -> str:
    """`text` without credentials: URLs' user:password, bearer tokens, the configured keys.

    >>> scrub("GET http://u:pw@h/x Authorization: Bearer sk-1 key=k2", ["k2"])
    'GET http://***@h/x Authorization: Bearer *** key=***'
    """
    if "@" in text:  # the only sign of a URL's user:password
        text = redact(text)
    text = _BEARER.sub(r"\1***", text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """A record's structured fields: what its call passed as `extra`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """`2025-01-02 03:04:05,678 INFO gateway.access: POST /v1/chat/completions 200 front=...`"""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        pairs = [f"{k}={_text(v)}" for k, v in fields(record).items() if k not in _IN_MESSAGE]
        if pairs:
            line += " " + " ".join(pairs)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return scrub(line, self.secrets)


def _text(value: object) -> str:
    """A field's value in a text line: `-` when missing, quoted when it holds spaces.

    >>> [_text(v) for v in (None, "", "a b", "ok", 1.5)]
    ['-', '""', '"a b"', 'ok', '1.5']
    """
    if value is None:
        return "-"
    text = str(value)
    return json.dumps(text) if not text or _QUOTED.search(text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, msg, fields, exc."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        obj: dict[str, Any] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **fields(record),
        }
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            obj["stack"] = self.formatStack(record.stack_info)
        return scrub(json.dumps(obj, default=str, ensure_ascii=False), self.secrets)


async def mark_first_byte(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: when the answer's head went out (a stream's first byte)."""
    if FIRST_BYTE not in request:
        request[FIRST_BYTE] = time.perf_counter()


def note_usage(request: web.Request, answer: Mapping[str, Any] | None) -> None:
    """A front's answer (a completion or a chunk) reported usage: the access line says it."""
    usage = answer.get("usage") if answer is not None else None
    if isinstance(usage, dict):
        request[USAGE] = usage


def front_of(endpoint: Endpoint | None) -> str:
    """The front that served a request, by its handler's module (`ops` for the gateway's
    own endpoints, `-` for an unknown path)."""
    if endpoint is None:
        return "-"
    module = str(getattr(endpoint.handler, "__module__", ""))
    return module.removeprefix("gateway.fronts.") if module.startswith("gateway.fronts.") else "ops"


def log_access(
    request: web.Request, response: web.StreamResponse, started: float, front: str
) -> None:
    """The one access line of a request that began at `started` (`time.perf_counter`);
    nothing is gathered when the level filters it out."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    now = time.perf_counter()
    usage = request.get(USAGE) or {}
    headers = response.headers
    access_log.info(
        "%s %s %s", request.method, request.path, response.status,
        extra={
            "request_id": request.get(REQUEST_ID, "-"),
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "front": front,
            "route": headers.get("X-Gateway-Route"),
            "model": headers.get("X-Gateway-Model"),
            "backend": headers.get("X-Gateway-Backend"),
            "ttfb_ms": round((request.get(FIRST_BYTE, now) - started) * 1000, 1),
            "total_ms": round((now - started) * 1000, 1),
            "tokens_in": usage.get("prompt_tokens"),
            "tokens_out": usage.get("completion_tokens"),
            "media": headers.get("X-Gateway-Preprocess"),
        },
    )  # fmt: skip
