"""Counting a JSON body's values before pydantic sees it (pure; `count_json_values` runs in a
decoding child, which preloads this module and nothing of the HTTP stack: `isolation`)."""

from __future__ import annotations

import json

# Pydantic holds the GIL while it validates, even off the loop, and does not stop at a
# list's max_length: it builds every item first (10^6 messages: ~2 s, 12 million numbers in
# an unknown field: ~0.5 s). Bodies with more JSON values than this are refused before it
# sees them; a request within the caps has a few per message and part.
MAX_JSON_VALUES = 50_000


def crowded(body: bytes) -> bool:
    """Whether `body` may hold more than MAX_JSON_VALUES values: a cheap upper bound, as a
    container of n values has n-1 commas (those inside strings only raise the bound)."""
    return body.count(b",") + body.count(b"{") + body.count(b"[") >= MAX_JSON_VALUES


def count_json_values(body: bytes) -> int:
    """Blocking, for a decode child (it holds the GIL throughout): the JSON values in
    `body`, counted up to just past MAX_JSON_VALUES; 0 when it is not JSON (pydantic says
    where)."""
    try:
        stack = [json.loads(body)]
    except (ValueError, RecursionError):
        return 0
    count = 0
    while stack and count <= MAX_JSON_VALUES:
        value = stack.pop()
        count += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count
