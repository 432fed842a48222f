"""Which backend served a conversation, so its next turn goes back there.

A local engine keeps the prompt it last processed in its KV cache: the next turn of the same
conversation, sent to the same host, only processes what is new. A conversation is known by
a hash of its opening (the system messages and the first user message, which every later
turn repeats); the map is bounded (least recently used dropped first) and per process, so
with several replicas a conversation sticks per replica (docs/operations.md).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from gateway.core.messages import ChatMessage
from preprocess.media import BackendPart, Text

MAX_CONVERSATIONS = 10_000


def conversation_key(messages: Sequence[ChatMessage[BackendPart]]) -> str | None:
    """A hash of the opening: messages up to and including the first user message (text,
    and the kind of each media part); None when there is no user message.

    >>> a = [ChatMessage("system", [Text("Be brief.")]), ChatMessage("user", [Text("Hi")])]
    >>> b = a + [ChatMessage("assistant", [Text("Hello!")]), ChatMessage("user", [Text("?")])]
    >>> conversation_key(a) == conversation_key(b) != conversation_key(a[1:])
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    for msg in messages:
        digest.update(msg.role.encode() + b"\0")
        for part in msg.parts:
            text = part.text if isinstance(part, Text) else f"<{type(part).__name__}>"
            digest.update(text.encode() + b"\0")
        if msg.role == "user":
            return digest.hexdigest()
    return None


class Affinity:
    """Conversation -> the backend that served its last turn."""

    def __init__(self, size: int = MAX_CONVERSATIONS) -> None:
        self.size = size
        self._hosts: OrderedDict[str, str] = OrderedDict()

    def host(self, messages: Sequence[ChatMessage[BackendPart]]) -> str | None:
        key = conversation_key(messages)
        return self._hosts.get(key) if key else None

    def served(self, messages: Sequence[ChatMessage[BackendPart]], backend: str) -> None:
        if (key := conversation_key(messages)) is None:
            return
        self._hosts[key] = backend
        self._hosts.move_to_end(key)
        while len(self._hosts) > self.size:
            self._hosts.popitem(last=False)
