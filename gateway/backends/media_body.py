"""Request bodies that carry megabytes of media, built without stalling the event loop.

`json.dumps` and `base64.b64encode` are single C calls that hold the GIL for their whole
run, so moving them to a thread does not free the loop: `json.dumps` of 25 MB of base64
in a thread stalled it 110 ms (bench/bench_loop_stall.py). Instead a body is JSON-encoded
with a 24-character stand-in for each media part, and the stand-ins are then replaced by
the real base64, encoded in a thread in slices of about 1 MB, between which the GIL, and
with it the loop, changes hands.

A stand-in is the base64 text of 18 random bytes: it needs no JSON escaping, is itself
valid base64, and cannot be guessed, so finding it in a body finds that part. ollama-python
builds its body itself from the bytes it is handed; its transport calls `spliced()` as the
request is sent, which swaps in the media of the request that `sending()` has set.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

SLICE_BYTES = 3 * 2**18  # 768 KiB, a multiple of 3: base64 of the slices concatenates


@dataclass
class StandIns:
    """The media of one request body, each behind its stand-in."""

    media: dict[bytes, bytes] = field(default_factory=dict)  # stand-in text -> media bytes

    def raw(self, data: bytes) -> bytes:
        """Bytes whose base64 is the stand-in for `data`, for clients that encode bytes."""
        raw = secrets.token_bytes(18)
        self.media[base64.b64encode(raw)] = data
        return raw

    def text(self, data: bytes) -> str:
        """The stand-in for `data`, for bodies whose base64 text is written directly."""
        return base64.b64encode(self.raw(data)).decode()


async def splice(body: bytes, media: Mapping[bytes, bytes]) -> bytes:
    """`body` with every stand-in in `media` that it contains replaced by the base64 of its
    media; the encoding and the joining run in a thread.

    >>> s = StandIns()
    >>> body = b'{"images": ["' + s.text(b"hi") .encode() + b'"]}'
    >>> asyncio.run(splice(body, s.media))
    b'{"images": ["aGk="]}'
    """
    found = sorted((at, token, media[token]) for token in media if (at := body.find(token)) >= 0)
    if not found:
        return body

    def build() -> bytes:
        pieces, start = [], 0
        for at, token, data in found:
            pieces.append(body[start:at])
            pieces.extend(_b64_slices(data))
            start = at + len(token)
        pieces.append(body[start:])
        return b"".join(pieces)

    return await asyncio.to_thread(build)


def _b64_slices(data: bytes) -> list[bytes]:
    view = memoryview(data)
    return [base64.b64encode(view[i : i + SLICE_BYTES]) for i in range(0, len(data), SLICE_BYTES)]


_SENDING: ContextVar[StandIns | None] = ContextVar("media_being_sent", default=None)


@contextmanager
def sending(stand_ins: StandIns) -> Iterator[None]:
    """Requests sent from this task inside the block get `stand_ins`' media spliced in.
    Keep it to one step of a coroutine (no `yield` inside) so the variable stays put."""
    reset = _SENDING.set(stand_ins)
    try:
        yield
    finally:
        _SENDING.reset(reset)


async def spliced(body: bytes) -> bytes:
    """`body` with the media of the request being sent (see `sending`) spliced in."""
    stand_ins = _SENDING.get()
    return await splice(body, stand_ins.media) if stand_ins is not None else body
