"""Pure translation between OpenAI chat objects and Ollama's native `/api/chat`.

Ollama's native API (not its `/v1`) is used because only it honours `options.num_ctx`
and takes audio: images and WAV clips both travel as base64 in `messages[].images`.

What is sent, and why (sources: ollama/ollama at fb30760):
- `think` always: Ollama turns thinking on for Gemma 4 when it is absent (`server/routes.go`
  ChatHandler), and with thinking on audio comes back as an empty answer (ollama#16584).
  It is `false` unless the client sends `think` or a reasoning effort, mapped as Ollama's own
  `/v1` maps it (`openai/openai.go` thinkFromReasoningEffort).
- Media stay where the client put them: each image or audio clip leaves an `[img]` in the
  text, which Ollama's renderer replaces in order with that item's tag; without
  placeholders it would put every item before the text (`model/renderers/image_tags.go`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ollama import ChatResponse, GenerateResponse

from gateway.backends.ollama_tools import ForcedTool, tool_choice
from gateway.core.errors import InvalidRequest
from gateway.core.messages import BackendRequest, ChatMessage, Chunk, Completion, join_text
from preprocess.media import Audio, BackendPart, Image

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
PLACEHOLDER = "[img]"  # filled in order by Ollama's renderer with each item's [img-N] tag
THINK_LEVELS = ("low", "medium", "high", "max")  # api/types.go ThinkValue.UnmarshalJSON
# OpenAI reasoning_effort -> Ollama think (openai/openai.go thinkFromReasoningEffort).
EFFORT_TO_THINK: dict[str, bool | str] = {
    "none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high",
    "max": "max", "xhigh": "max", "ultra": "max",
}  # fmt: skip


def to_ollama_messages(
    messages: list[ChatMessage[BackendPart]], stand_in: Callable[[bytes], bytes] = bytes
) -> list[dict[str, Any]]:
    """OpenAI messages -> Ollama messages; media becomes `stand_in(data)` in `images`, with
    an `[img]` placeholder where it stood in the content.

    Media is handed to the client as `bytes`, never as `str`: ollama-python reads a
    string that names an existing file from disk, which a user must never control.
    """
    tool_names: dict[str, str] = {}
    out = []
    for i, msg in enumerate(messages):
        item: dict[str, Any] = {"role": _ROLES.get(msg.role, msg.role)}
        item["content"], media = _content(msg, f"messages[{i}].content")
        if media:
            item["images"] = [stand_in(data) for data in media]
        if calls := msg.extra.get("tool_calls"):
            item["tool_calls"] = [
                _ollama_tool_call(c, tool_names, f"messages[{i}].tool_calls[{j}]")
                for j, c in enumerate(calls)
            ]
        if msg.role == "tool" and (name := tool_names.get(msg.extra.get("tool_call_id", ""))):
            item["tool_name"] = name
        out.append(item)
    return out


def _content(msg: ChatMessage[BackendPart], param: str) -> tuple[str, list[bytes]]:
    """The message text with a placeholder at each media item, and the items in order.

    In a message with media, a client's own `[img` is spaced (`[ img`) so that it can neither
    take an item's place nor stop Ollama from placing them (it leaves text containing
    `[img-` untouched)."""
    media = [p for p in msg.parts if isinstance(p, Image | Audio)]
    if not media:
        return msg.text, []
    for part in media:
        if isinstance(part, Audio) and part.format != "wav":
            raise InvalidRequest(
                f"Ollama takes audio only as WAV; convert this {part.format} clip to WAV",
                param=param,
            )
    pieces = [
        PLACEHOLDER if isinstance(p, Image | Audio) else p.text.replace("[img", "[ img")
        for p in msg.parts
    ]
    return join_text(pieces), [p.data for p in media]


def _ollama_tool_call(call: dict[str, Any], names: dict[str, str], param: str) -> dict[str, Any]:
    """An OpenAI tool call (checked at the edge) in Ollama's shape, whose arguments are an
    object: Ollama's client refuses anything else."""
    fn = call["function"]
    names[call.get("id") or ""] = fn["name"]
    args = fn["arguments"] or "{}"
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            f"{param}.function.arguments must be a JSON object (as a string) for Ollama",
            param=f"{param}.function.arguments",
        )
    return {"function": {"name": fn["name"], "arguments": parsed}}


def to_ollama_kwargs(req: BackendRequest) -> tuple[dict[str, Any], ForcedTool | None]:
    """The keyword arguments for `AsyncClient.chat` from the OpenAI fields, and the tool
    call to build from the output when `tool_choice` forces one."""
    s = req.sampling
    options = {_OPTION_NAMES[k]: v for k, v in s.items() if k in _OPTION_NAMES and v is not None}
    if (stop := s.get("stop")) is not None:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if isinstance(extra := s.get("options"), dict):  # Ollama's own runner options, as sent
        options = {**extra, **options}
    if req.num_ctx:
        options["num_ctx"] = req.num_ctx
    tools, forced = tool_choice(s)
    kwargs: dict[str, Any] = {"options": options or None, "think": think_value(s)}
    if tools:
        kwargs["tools"] = tools
    fmt = forced.schema() if forced else _format(s.get("response_format"))
    if fmt is not None:
        kwargs["format"] = fmt
    kwargs.update(_logprobs(s))
    if "keep_alive" in s:
        kwargs["keep_alive"] = s["keep_alive"]
    return kwargs, forced


def think_value(sampling: dict[str, Any]) -> bool | str:
    """Ollama's `think`: the client's own `think`, else its reasoning effort (`reasoning_effort`
    or `reasoning.effort`) as Ollama maps it, else false; never absent (see module doc)."""
    think = sampling.get("think")
    if think is not None:
        if isinstance(think, bool) or (isinstance(think, str) and think in THINK_LEVELS):
            return think
        raise InvalidRequest(
            f"think must be true, false or one of {', '.join(THINK_LEVELS)}; not {think!r}",
            param="think",
        )
    reasoning = sampling.get("reasoning")
    effort = sampling.get("reasoning_effort")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    if effort is None:
        return False
    if isinstance(effort, str) and effort in EFFORT_TO_THINK:
        return EFFORT_TO_THINK[effort]
    raise InvalidRequest(
        f"reasoning_effort must be one of {', '.join(EFFORT_TO_THINK)}; not {effort!r}",
        param="reasoning_effort",
    )


def _logprobs(sampling: dict[str, Any]) -> dict[str, Any]:
    """`logprobs` and `top_logprobs` (typed at the edge), which Ollama's `/api/chat` takes as
    OpenAI names them."""
    top = sampling.get("top_logprobs")
    if not sampling.get("logprobs"):
        return {}
    return {"logprobs": True, "top_logprobs": top} if top else {"logprobs": True}


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
    tool call was seen, since Ollama reports tool calls with done_reason "stop"; with a
    forced tool, the output becomes that call's arguments.
    """

    def __init__(self, model: str, include_usage: bool, forced: ForcedTool | None = None) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.forced = forced
        self._started = False
        self._tool_calls = 0

    def translate(self, part: ChatResponse) -> list[Chunk]:
        delta, logprobs = self._delta(part), openai_logprobs(part.logprobs)
        chunks = [self._chunk(delta, None, logprobs)] if delta or logprobs else []
        if part.done:
            # A call Ollama made itself (see _delta) already answers a forced choice.
            forced = self.forced
            if forced and (forced.started or not self._tool_calls) and (calls := forced.finish()):
                chunks.append(self._chunk({"tool_calls": calls}, None))
            chunks.append({**self._chunk({}, self._finish_reason(part)), "timings": timings(part)})
            if self.include_usage:
                chunks.append({**self._chunk({}, None), "choices": [], "usage": usage(part)})
        return chunks

    def _delta(self, part: ChatResponse) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        if not self._started:  # OpenAI streams open with the role, as TV-A1 shows
            delta = {"role": "assistant", "content": ""}
            self._started = True
        msg = part.message
        if msg.content and self.forced:
            if calls := self.forced.delta(msg.content):
                delta["tool_calls"] = calls
        elif msg.content:
            delta["content"] = msg.content
        if msg.thinking:
            delta["reasoning_content"] = msg.thinking
        if msg.tool_calls:  # after a forced call's index 0 when one was begun
            start = self._tool_calls + bool(self.forced and self.forced.started)
            calls = openai_tool_calls(msg.tool_calls, start=start)
            delta["tool_calls"] = delta.get("tool_calls", []) + calls
            self._tool_calls += len(msg.tool_calls)
        return delta

    def _finish_reason(self, part: ChatResponse) -> str:
        return "tool_calls" if self._tool_calls or self.forced else finish_reason(part)

    def _chunk(
        self, delta: dict[str, Any], finish: str | None, logprobs: dict[str, Any] | None = None
    ) -> Chunk:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }


def completion_from_ollama(
    part: ChatResponse, model: str, forced: ForcedTool | None = None
) -> Completion:
    """A whole Ollama reply -> one OpenAI `chat.completion`."""
    msg = part.message
    message: dict[str, Any] = {"role": "assistant", "content": msg.content or ""}
    finish = finish_reason(part)
    if msg.thinking:
        message["reasoning_content"] = msg.thinking
    if msg.tool_calls:  # Ollama's own calls win, forced choice or not
        message["tool_calls"] = openai_tool_calls(msg.tool_calls)
        finish = "tool_calls"
    elif forced is not None:
        forced.delta(msg.content or "")
        message.update(content=None, tool_calls=[forced.call()])
        finish = "tool_calls"
    choice = {
        "index": 0,
        "message": message,
        "logprobs": openai_logprobs(part.logprobs),
        "finish_reason": finish,
    }
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage(part),
        "timings": timings(part),
    }


def openai_logprobs(logprobs: Sequence[Any] | None) -> dict[str, Any] | None:
    """Ollama's `logprobs` in OpenAI's choice shape (`{"content": [...]}`), as Ollama's own
    `/v1` returns them (`openai/openai.go` ChoiceLogprobs), with OpenAI's UTF-8 `bytes`."""
    if not logprobs:
        return None

    def token(t: Any) -> dict[str, Any]:
        return {"token": t.token, "logprob": t.logprob, "bytes": list(t.token.encode())}

    return {"content": [
        {**token(lp), "top_logprobs": [token(t) for t in lp.top_logprobs or ()]}
        for lp in logprobs
    ]}  # fmt: skip


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


def timings(part: ChatResponse) -> dict[str, float]:
    """Ollama's counters in llama-server's `timings` shape (which OpenAI clients of
    llama-server already see), so the gateway's Ollama front can hand them on unchanged."""
    ms = 1e-6
    return {
        "prompt_n": part.prompt_eval_count or 0,
        "prompt_ms": (part.prompt_eval_duration or 0) * ms,
        "predicted_n": part.eval_count or 0,
        "predicted_ms": (part.eval_duration or 0) * ms,
        "load_ms": (part.load_duration or 0) * ms,
    }


def chat_response(part: GenerateResponse) -> ChatResponse:
    """A `/api/generate` reply (a raw prompt continued) as the chat reply it stands for, so
    that one translation serves both: `response` (and `thinking`) become the message."""
    counters = part.model_dump(exclude={"response", "thinking", "context", "image",
                                        "completed", "total", "logprobs"})  # fmt: skip
    message = {"role": "assistant", "content": part.response or "", "thinking": part.thinking}
    return ChatResponse.model_validate({**counters, "message": message,
                                        "logprobs": part.logprobs})  # fmt: skip


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"
