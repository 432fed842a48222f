"""Parsing JSON bodies at the HTTP edge: bytes -> a pydantic model, or a 400 that names the
field (pure: `fronts.body.read_body` runs it, off the loop when the body is large)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from gateway.core.errors import InvalidRequest
from gateway.core.jsonvalues import MAX_JSON_VALUES
from gateway.fronts.openai_wire import MAX_MESSAGES, MAX_PARTS, ChatRequest

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes, what: str) -> M:
    """Validate a JSON body as `model`; the error names the first offending field. `what` is
    the request's name in messages ("a JSON chat completion request")."""
    if not body.strip():
        raise InvalidRequest(f"request body is empty; send {what}")
    refuse_non_finite(body)
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        raise _invalid(e.errors(include_url=False), what) from None


def parse_chat_request(body: bytes) -> ChatRequest:
    """An OpenAI chat completion request."""
    return parse_body(ChatRequest, body, "a JSON chat completion request")


def refuse_non_finite(body: bytes) -> None:
    """JSON has no NaN or Infinity, but Python's and pydantic's parsers accept them, and a
    backend's encoder then refuses the request (once seen as a 502 blamed on the backend).
    Only a body where such a word follows `:`, `[` or `,` is parsed again, strictly, to tell
    a number from text (base64 media never has those characters).

    >>> refuse_non_finite(b'{"content": "x: NaN, [Infinity"}')
    >>> refuse_non_finite(b'{"temperature": NaN}')
    Traceback (most recent call last):
    gateway.core.errors.InvalidRequest: ...
    """
    if _NON_FINITE.search(body) is None:
        return
    try:
        pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as e:
        try:
            pydantic_core.from_json(body)
        except ValueError:
            return  # not JSON at all: validation says where
        raise InvalidRequest(
            f"request body holds NaN or Infinity, which JSON does not have ({e}); send "
            "finite numbers"
        ) from None


_NON_FINITE = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)")


def too_many_values() -> InvalidRequest:
    return InvalidRequest(
        f"the request holds more than {MAX_JSON_VALUES} JSON values; the gateway takes at "
        f"most {MAX_MESSAGES} messages of at most {MAX_PARTS} content parts each"
    )


def _invalid(errors: list[Any], what: str) -> InvalidRequest:
    if too_long := next((e for e in errors if e["type"] == "too_long"), None):
        param = field_path(too_long["loc"])
        limit = too_long["ctx"]["max_length"]
        what = "messages" if param == "messages" else "content parts in one message"
        return InvalidRequest(f"{param}: at most {limit} {what} are accepted", param=param)
    if errors[0]["type"] == "json_invalid":
        return InvalidRequest(f"request body is not valid JSON: {errors[0]['ctx']['error']}")
    # A union (content: string | parts) reports one error per branch; the branch that got
    # deepest into the value is the one the client meant.
    depth = max(len(e["loc"]) for e in errors)
    deepest = [e for e in errors if len(e["loc"]) == depth]
    first = deepest[0]
    param = field_path(first["loc"])
    same = [e["msg"] for e in deepest if field_path(e["loc"]) == param]
    head, *rest = dict.fromkeys(same)
    message = " or ".join([head, *(m.removeprefix("Input should be ") for m in rest)])
    if not param:
        return InvalidRequest(f"request body must be a JSON object: {what}")
    if first["type"] == "missing":
        message = "this field is required"
    elif first["type"] == "too_short" and param == "messages":
        message = "at least one message is required"
    return InvalidRequest(f"{param}: {message}", param=param)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's location as a JSON path, without its union-branch labels.

    >>> field_path(("messages", 0, "content", "list[tagged-union[A,B]]", 2, "image_url",
    ...             "image_url", "url"))
    'messages[0].content[2].image_url.url'
    >>> field_path(("messages", 1, "content", "str"))
    'messages[1].content'
    """
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part in ("str", "int", "float", "bool") or part == prev:
            continue  # a branch label, or a discriminator tag repeating its field name
        else:
            out += f".{part}" if out else part
        prev = part
    return out
