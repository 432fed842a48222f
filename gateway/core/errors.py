"""One error vocabulary for the whole gateway; each front renders it in its own shape.

Every failure a user can see is a `GatewayError` with an HTTP status, a type and code (in
OpenAI's vocabulary, which other fronts map from) and a message that says what to do. The
front that served the route renders it, before the first byte (the server's middleware) or
in the middle of a stream (its stream writer), so a client always gets its API's shape.
"""

from __future__ import annotations

import re

# The user:password of a URL (up to its last @ before a path, space or quote).
_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s'\"<>]*@")


def redact(text: str) -> str:
    """`text` with every URL's user:password hidden: what the gateway shows (errors, /readyz,
    logs) must not hand out a backend's credentials.

    >>> redact("cannot reach http://me:p@ss@10.0.0.5:11434/x (x@y)")
    'cannot reach http://***@10.0.0.5:11434/x (x@y)'
    """
    return _USERINFO.sub(r"\1***@", text)


class GatewayError(Exception):
    """A failure with an HTTP status, an OpenAI error type/code and a message saying what to do."""

    status = 500
    type = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = redact(message)
        super().__init__(self.message)
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something no model can do with it (400)."""

    status = 400
    type = "invalid_request_error"


class UnsupportedEncoding(InvalidRequest):
    """A compressed request body (415): refused rather than inflated."""

    status = 415
    code = "unsupported_content_encoding"


class BodyTimeout(InvalidRequest):
    """The body did not arrive within `server.body_timeout_s` (408)."""

    status = 408
    code = "request_timeout"


class ServerBusy(GatewayError):
    """Too many request bytes in flight (503, with Retry-After)."""

    status = 503
    type = "api_error"
    code = "server_busy"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class ModelNotFound(GatewayError):
    """The named model or alias is not on any reachable backend (404)."""

    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class QueueFull(GatewayError):
    """A backend's concurrency limit and queue are both full (429, with Retry-After)."""

    status = 429
    type = "rate_limit_error"
    code = "queue_full"


class BackendError(GatewayError):
    """The backend answered with a failure the gateway cannot fix (502)."""

    status = 502
    type = "api_error"
    code = "backend_error"


class NoRoute(GatewayError):
    """No healthy backend has a model that can take the request (503)."""

    status = 503
    type = "api_error"
    code = "no_capable_model"


class BackendUnavailable(GatewayError):
    """The backend could not be reached at all: refused, reset, DNS (502)."""

    status = 502
    type = "api_error"
    code = "backend_unavailable"


class BackendTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "backend_timeout"


def backend_status_error(backend: str, status: int, message: str) -> GatewayError:
    """Map a backend's HTTP error status to the gateway's error, keeping its message."""
    text = f"backend {backend!r}: {message}"
    if status == 404:
        return ModelNotFound(text)
    if status in (400, 422):
        return InvalidRequest(text)
    if status in (401, 403):
        return BackendError(f"{text} (check api_key for backend {backend!r})", code="backend_auth")
    if status == 413:
        return PayloadTooLarge(f"{text} (the backend's own body limit)")
    if status in (429, 503):
        return QueueFull(text, headers={"Retry-After": "1"})
    return BackendError(text)
