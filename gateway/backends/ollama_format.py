"""Pure translation between OpenAI chat objects and Ollama's native `/api/chat`.

Ollama's native API (not its `/v1`) is used because only it honours `options.num_ctx`
and takes audio: images and WAV clips both travel as base64 in `messages[].images`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from ollama import ChatResponse

from gateway.errors import InvalidRequest
from gateway.types import Audio, BackendRequest, ChatMessage, Chunk, Completion, Image

# OpenAI sampling field -> Ollama `options` key.
_OPTION_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "seed": "seed",
    "max_tokens": "num_predict",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "repeat_penalty": "repeat_penalty",
}
_ROLES = {"developer": "system"}


def to_ollama_messages(
    messages: list[ChatMessage], stand_in: Callable[[bytes], bytes] = bytes
) -> list[dict[str, Any]]:
    """OpenAI messages -> Ollama messages; media becomes `stand_in(data)` in `images`.

    Media is handed to the client as `bytes`, never as `str`: ollama-python reads a
    string that names an existing file from disk, which a user must never control.
    """
    tool_names: dict[str, str] = {}
    out = []
    for i, msg in enumerate(messages):
        item: dict[str, Any] = {"role": _ROLES.get(msg.role, msg.role), "content": msg.text}
        media = [p for p in msg.parts if isinstance(p, Image | Audio)]
        for j, part in enumerate(media):
            if isinstance(part, Audio) and part.format != "wav":
                raise InvalidRequest(
                    f"Ollama takes audio only as WAV; convert this {part.format} clip to WAV",
                    param=f"messages[{i}].content",
                )
            if j == 0:
                item["images"] = []
            item["images"].append(stand_in(part.data))
        if calls := msg.extra.get("tool_calls"):
            item["tool_calls"] = [_ollama_tool_call(c, tool_names) for c in calls]
        if msg.role == "tool" and (name := tool_names.get(msg.extra.get("tool_call_id", ""))):
            item["tool_name"] = name
        out.append(item)
    return out


def _ollama_tool_call(call: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    fn = call.get("function") or {}
    names[call.get("id", "")] = fn.get("name", "")
    args = fn.get("arguments") or "{}"
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except json.JSONDecodeError:
        raise InvalidRequest(
            "tool call arguments must be a JSON object string", param="messages.tool_calls"
        ) from None
    return {"function": {"name": fn.get("name", ""), "arguments": parsed}}


def to_ollama_kwargs(req: BackendRequest) -> dict[str, Any]:
    """The keyword arguments for `AsyncClient.chat`, from the OpenAI sampling fields."""
    s = req.sampling
    options = {_OPTION_NAMES[k]: v for k, v in s.items() if k in _OPTION_NAMES and v is not None}
    if (stop := s.get("stop")) is not None:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if req.num_ctx:
        options["num_ctx"] = req.num_ctx
    kwargs: dict[str, Any] = {"options": options or None}
    if s.get("tools"):
        kwargs["tools"] = s["tools"]
    if (fmt := _format(s.get("response_format"))) is not None:
        kwargs["format"] = fmt
    if (effort := s.get("reasoning_effort")) is not None:
        kwargs["think"] = False if effort == "none" else effort
    if "keep_alive" in s:
        kwargs["keep_alive"] = s["keep_alive"]
    return kwargs


def _format(response_format: Any) -> Any:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or "json"
    return None


class ChunkTranslator:
    """Turns one Ollama NDJSON stream into OpenAI `chat.completion.chunk`s.

    Keeps the few facts OpenAI repeats on every chunk (id, created, model) and whether a
    tool call was seen, since Ollama reports tool calls with done_reason "stop".
    """

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self._started = False
        self._tool_calls = 0

    def translate(self, part: ChatResponse) -> list[Chunk]:
        delta = self._delta(part)
        chunks = [self._chunk(delta, None)] if delta else []
        if part.done:
            chunks.append(self._chunk({}, self._finish_reason(part)))
            if self.include_usage:
                chunks.append({**self._chunk({}, None), "choices": [], "usage": usage(part)})
        return chunks

    def _delta(self, part: ChatResponse) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        if not self._started:  # OpenAI streams open with the role, as TV-A1 shows
            delta = {"role": "assistant", "content": ""}
            self._started = True
        msg = part.message
        if msg.content:
            delta["content"] = msg.content
        if msg.thinking:
            delta["reasoning_content"] = msg.thinking
        if msg.tool_calls:
            delta["tool_calls"] = openai_tool_calls(msg.tool_calls, start=self._tool_calls)
            self._tool_calls += len(msg.tool_calls)
        return delta

    def _finish_reason(self, part: ChatResponse) -> str:
        return "tool_calls" if self._tool_calls else finish_reason(part)

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> Chunk:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }


def completion_from_ollama(part: ChatResponse, model: str) -> Completion:
    """A whole Ollama reply -> one OpenAI `chat.completion`."""
    msg = part.message
    message: dict[str, Any] = {"role": "assistant", "content": msg.content or ""}
    finish = finish_reason(part)
    if msg.thinking:
        message["reasoning_content"] = msg.thinking
    if msg.tool_calls:
        message["tool_calls"] = openai_tool_calls(msg.tool_calls)
        finish = "tool_calls"
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage(part),
    }


def openai_tool_calls(calls: Any, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "index": start + i,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": c.function.name,
                "arguments": json.dumps(dict(c.function.arguments)),
            },
        }
        for i, c in enumerate(calls)
    ]


def finish_reason(part: ChatResponse) -> str:
    return "length" if part.done_reason == "length" else "stop"


def usage(part: ChatResponse) -> dict[str, int]:
    prompt, completion = part.prompt_eval_count or 0, part.eval_count or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"
