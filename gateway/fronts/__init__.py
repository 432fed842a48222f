"""Fronts: each API the gateway speaks parses its wire format into the core `Request` and
renders the pipeline's outcomes and errors in its own shape.

A front declares its routes as `Endpoint`s; the server mounts them all, and its middleware
asks the matched endpoint how to render an error and whether it is `public`. Auth is thus a
property of the route, on unless an endpoint says otherwise (the health probes, metrics and
the API description), so a new front's routes are guarded without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.core.errors import GatewayError
from gateway.core.routing import Wish

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[GatewayError], web.Response]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    render_error: ErrorRenderer
    public: bool = False  # answered without an API key


def wish(request: web.Request, model: str | None) -> Wish:
    """The contract's routing headers; `X-Gateway-Model` wins over the body's model."""
    return Wish(
        model=request.headers.get("X-Gateway-Model") or model,
        backend=request.headers.get("X-Gateway-Backend"),
        prefer=request.headers.get("X-Gateway-Prefer"),
    )


SCHEMA_REF = "#/components/schemas/{model}"  # where /openapi.json keeps a named schema


def sse_event_schema(*models: str) -> dict[str, Any]:
    """The OpenAPI schema of one server-sent event of a stream of `models` (before OpenAPI
    3.2's `itemSchema`, an event stream's `schema` describes one event): `data: [DONE]`, or
    JSON that is one of `models`."""
    payload = {"anyOf": [{"$ref": SCHEMA_REF.format(model=m)} for m in models]}
    json_data = {"type": "string", "contentMediaType": "application/json", "contentSchema": payload}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"anyOf": [{"const": "[DONE]"}, json_data]}},
    }
