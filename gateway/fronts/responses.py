"""The Responses front: `POST /v1/responses` (OpenAI's Responses API) and
`GET /v1/responses/{id}`, through the same pipeline as Chat Completions.

The body (`responses_wire`) becomes the core `Request`: `instructions` a system message
first, `input` items messages (media still encoded), `function_call` items an assistant
turn's `tool_calls` and `function_call_output` items tool messages, in the OpenAI shape the
backend adapters take; flat function tools, `text.format`, `reasoning.effort` and
`max_output_tokens` in Chat Completions' names. The neutral completion or chunks are
rendered as a `response` object or as the Responses event stream (`Events`).

`previous_response_id` continues a conversation the gateway keeps in memory (`ResponseStore`:
`server.responses_store_max` responses at most, each for `server.responses_store_ttl_s`,
least recently used dropped first, nothing across restarts); `store: false` keeps nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.core.errors import GatewayError, InvalidRequest
from gateway.core.messages import ChatMessage, Chunk, Completion
from gateway.core.request import Request
from gateway.edge import parse_body
from gateway.fronts import SCHEMA_REF, Endpoint, wish
from gateway.fronts.body import read_body
from gateway.fronts.openai import error_response
from gateway.fronts.responses_wire import (
    Content,
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputFile,
    InputImage,
    MessageItem,
    ReasoningItem,
    Refusal,
    ResponsesRequest,
)
from gateway.fronts.stream import stream_response
from gateway.logs import note_usage
from gateway.state import CONFIG, PIPELINE, REQUEST_ID
from preprocess.media import Encoded, Source, Text

Item = dict[str, Any]  # an output item as the API writes it
Thread = list[ChatMessage[Source]]


class ResponseNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


# --- the store -----------------------------------------------------------------------------


@dataclass(slots=True)
class Stored:
    """A kept response: the conversation up to and including its answer (without the
    instructions, which a continuation does not inherit), and the response object."""

    thread: Thread
    response: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class ResponseStore:
    """Recent responses in memory: at most `max_items`, each for `ttl_s` seconds, the least
    recently used dropped first."""

    def __init__(self, max_items: int, ttl_s: float) -> None:
        self.max_items, self.ttl_s = max_items, ttl_s
        self._items: OrderedDict[str, Stored] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, response_id: str, stored: Stored) -> None:
        if self.max_items <= 0:
            return
        self._items[response_id] = stored
        self._items.move_to_end(response_id)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def get(self, response_id: str) -> Stored | None:
        stored = self._items.get(response_id)
        if stored is None:
            return None
        if time.monotonic() - stored.at > self.ttl_s:
            del self._items[response_id]
            return None
        self._items.move_to_end(response_id)
        return stored


_STORES: weakref.WeakKeyDictionary[web.Application, ResponseStore] = weakref.WeakKeyDictionary()


def store_of(app: web.Application) -> ResponseStore:
    """The app's store, made on first use from its config."""
    store = _STORES.get(app)
    if store is None:
        server = app[CONFIG].server
        store = _STORES[app] = ResponseStore(
            server.responses_store_max, server.responses_store_ttl_s
        )
    return store


# --- handlers ------------------------------------------------------------------------------


async def create_response(request: web.Request) -> web.StreamResponse:
    pipeline, request_id = request.app[PIPELINE], request[REQUEST_ID]
    body = await read_body(request, parse_responses_request)
    store = store_of(request.app)
    thread = [*previous_thread(store, body.previous_response_id), *input_messages(body)]
    if not any(m.role != "system" for m in thread):
        raise InvalidRequest("input is required: a string or a list of items", param="input")
    req = to_request(body, thread, request)
    prepared = await pipeline.prepare(req)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    outcome = await pipeline.dispatch(req, prepared, decision, request_id)
    draft = Draft(body, outcome.model.id)

    def keep(response: dict[str, Any], output: list[Item]) -> None:
        if body.store:
            store.put(response["id"], Stored([*thread, assistant_turn(output)], response))

    if outcome.stream is not None:
        return await stream_response(request, outcome.stream, outcome.headers, Events(draft, keep))
    assert outcome.completion is not None
    note_usage(request, outcome.completion)
    response = draft.whole(outcome.completion)
    keep(response, response["output"])
    return web.json_response(response, headers=outcome.headers)


async def get_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    stored = store_of(request.app).get(response_id)
    if stored is None:
        raise ResponseNotFound(
            f"No response found with id '{response_id}': the gateway keeps responses in "
            "memory for server.responses_store_ttl_s (and not those sent with store: false)",
            param="response_id",
        )
    return web.json_response(stored.response)


def parse_responses_request(raw: bytes) -> ResponsesRequest:
    return parse_body(ResponsesRequest, raw, "a JSON Responses API request")


def previous_thread(store: ResponseStore, response_id: str | None) -> Thread:
    if response_id is None:
        return []
    stored = store.get(response_id)
    if stored is None:
        raise InvalidRequest(
            f"Previous response with id '{response_id}' not found. The gateway keeps "
            "responses in memory (server.responses_store_max, server.responses_store_ttl_s), "
            "not across restarts, and none sent with store: false; send the whole "
            "conversation as input instead.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return list(stored.thread)


def to_request(body: ResponsesRequest, thread: Thread, request: web.Request) -> Request:
    """The core request: instructions first, then the conversation; sampling in Chat
    Completions' names (the neutral vocabulary the adapters translate)."""
    system = [ChatMessage[Source]("system", [Text(body.instructions)])] if body.instructions else []
    sampling: dict[str, Any] = {
        name: value
        for name, value in (
            ("temperature", body.temperature), ("top_p", body.top_p),
            ("tools", body.chat_tools()), ("tool_choice", body.chat_tool_choice()),
            ("parallel_tool_calls", body.parallel_tool_calls),
            ("reasoning_effort", body.reasoning and body.reasoning.effort),
            ("response_format", body.response_format()),
            ("max_tokens", body.max_output_tokens),
        )
        if value is not None
    }  # fmt: skip
    return Request(
        messages=[*system, *thread],
        wish=wish(request, body.model),
        sampling=sampling,
        stream=body.stream,
        include_usage=True,  # the response carries usage, streamed or not
        output_tokens=body.max_output_tokens,
    )


# --- input items -> messages ---------------------------------------------------------------


def input_messages(body: ResponsesRequest) -> Thread:
    if body.input is None:
        return []
    if isinstance(body.input, str):
        return [ChatMessage("user", [Text(body.input)])]
    builder = _Builder()
    for i, item in enumerate(body.input):
        builder.add(item, f"input[{i}]")
    return builder.messages


class _Builder:
    """Items in order -> messages: a function call joins the assistant turn before it (as
    one Chat Completions message holds text and tool_calls); reasoning sent back goes with
    the next assistant turn."""

    def __init__(self) -> None:
        self.messages: Thread = []
        self.reasoning = ""

    def add(
        self,
        item: MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem,
        param: str,
    ) -> None:
        if isinstance(item, MessageItem):
            self._turn(item.role, parts(item.content, param + ".content"))
        elif isinstance(item, FunctionCallItem):
            self._call(item)
        elif isinstance(item, FunctionCallOutputItem):
            tool = parts(item.output, param + ".output")
            self.messages.append(ChatMessage("tool", tool, {"tool_call_id": item.call_id}))
        else:
            texts = [p.get("text") for p in [*(item.content or []), *item.summary]]
            self.reasoning += "".join(t for t in texts if isinstance(t, str))

    def _turn(self, role: str, content: list[Source]) -> ChatMessage[Source]:
        message = ChatMessage(role, content)
        if role == "assistant" and self.reasoning:
            message.extra["reasoning_content"], self.reasoning = self.reasoning, ""
        self.messages.append(message)
        return message

    def _call(self, item: FunctionCallItem) -> None:
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "assistant":
            last = self._turn("assistant", [])
        call = {"id": item.call_id, "type": "function",
                "function": {"name": item.name, "arguments": item.arguments}}  # fmt: skip
        last.extra.setdefault("tool_calls", []).append(call)


def parts(content: Content, param: str) -> list[Source]:
    if isinstance(content, str):
        return [Text(content)]
    return [_part(p, f"{param}[{j}]") for j, p in enumerate(content)]


def _part(part: ContentPart, param: str) -> Source:
    if isinstance(part, InputImage):
        if part.image_url is None:
            raise InvalidRequest(
                "input_image needs image_url (a data: URL or an https:// URL): the gateway "
                "has no Files API for file_id",
                param=param + ".image_url",
            )
        return Encoded("image", part.image_url, param + ".image_url")
    if isinstance(part, InputAudio):
        audio = part.input_audio
        return Encoded("audio", audio.data, param + ".input_audio.data", audio.format)
    if isinstance(part, InputFile):
        return _file(part, param)
    return Text(part.refusal if isinstance(part, Refusal) else part.text)


_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*),", re.I)
_AUDIO_MIME = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/ogg": "ogg",
}  # fmt: skip


def _file(part: InputFile, param: str) -> Encoded:
    """An `input_file` that is a picture or a recording (by its MIME type, else its bytes);
    other files (PDF, text) are refused: the models read them only as text."""
    param += ".file_data"
    if part.file_data is None:
        raise InvalidRequest(
            "input_file needs file_data (a data: URL): the gateway has no Files API for "
            "file_id and does not fetch file_url",
            param=param,
        )
    match = _DATA_URL.match(part.file_data)
    data = part.file_data[match.end() :] if match else part.file_data
    mime = ((match and match.group("mime")) or "application/octet-stream").lower()
    kind = "image" if mime.startswith("image/") else _AUDIO_MIME.get(mime) or _sniff(data)
    if kind == "image":
        return Encoded("image", f"data:{mime};base64,{data}", param)
    if kind:
        return Encoded("audio", data, param, kind)
    raise InvalidRequest(
        f"input_file {part.filename or ''} holds {mime}: the gateway passes images and audio "
        "(WAV, MP3, FLAC, Ogg) to the models; send text as input_text",
        param=param,
    )


def _sniff(data: str) -> str | None:
    """`image`, an audio format, or None, from a file's first bytes.

    >>> _sniff(base64.b64encode(b"RIFF\\0\\0\\0\\0WAVEfmt ").decode()), _sniff("JVBERi0x")
    ('wav', None)
    """
    try:
        head = base64.b64decode(data[:16], validate=True)
    except (binascii.Error, ValueError):
        return None
    if head[:4] == b"RIFF":
        return {b"WAVE": "wav", b"WEBP": "image"}.get(head[8:12])
    for magic, kind in ((b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"),
                        (b"ID3", "mp3"), (b"fLaC", "flac"), (b"OggS", "ogg")):  # fmt: skip
        if head.startswith(magic):
            return kind
    return "mp3" if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 else None


# --- output --------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def text_part(text: str) -> Item:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_part(text: str) -> Item:
    return {"type": "reasoning_text", "text": text}


def message_item(item_id: str, content: list[Item], status: str) -> Item:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": content}  # fmt: skip


def reasoning_item(item_id: str, content: list[Item], status: str) -> Item:
    return {"id": item_id, "type": "reasoning", "status": status, "summary": [],
            "content": content}  # fmt: skip


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> Item:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id,
            "name": name, "arguments": arguments}  # fmt: skip


def _arguments(function: dict[str, Any]) -> str:
    args = function.get("arguments")
    return json.dumps(args) if isinstance(args, dict) else str(args or "")


def output_items(message: dict[str, Any], status: str) -> list[Item]:
    """A whole answer's items: its reasoning, its text (also when empty and there is no
    call, as OpenAI answers), its function calls."""
    items: list[Item] = []
    if reasoning := message.get("reasoning_content"):
        items.append(reasoning_item(new_id("rs"), [reasoning_part(reasoning)], status))
    calls = message.get("tool_calls") or []
    if (text := message.get("content") or "") or not calls:
        items.append(message_item(new_id("msg"), [text_part(text)], status))
    for call in calls:
        function = call.get("function") or {}
        call_id, name = call.get("id") or new_id("call"), function.get("name") or ""
        items.append(call_item(new_id("fc"), call_id, name, _arguments(function), status))
    return items


def assistant_turn(output: list[Item]) -> ChatMessage[Source]:
    """The answer as the next request's history: text, reasoning and tool calls."""

    def texts(kind: str) -> str:
        return "".join(p["text"] for i in output if i["type"] == kind for p in i["content"])

    extra: dict[str, Any] = {}
    calls = [{"id": i["call_id"], "type": "function",
              "function": {"name": i["name"], "arguments": i["arguments"]}}
             for i in output if i["type"] == "function_call"]  # fmt: skip
    if calls:
        extra["tool_calls"] = calls
    if reasoning := texts("reasoning"):
        extra["reasoning_content"] = reasoning
    text = texts("message")
    return ChatMessage("assistant", [Text(text)] if text else [], extra)


def usage(chat: Any) -> dict[str, Any] | None:
    """Chat Completions' usage in the Responses names."""
    if not isinstance(chat, dict):
        return None
    given, made = int(chat.get("prompt_tokens") or 0), int(chat.get("completion_tokens") or 0)
    cached = (chat.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (chat.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": given,
        "input_tokens_details": {"cached_tokens": int(cached), "cache_write_tokens": 0},
        "output_tokens": made,
        "output_tokens_details": {"reasoning_tokens": int(reasoning)},
        "total_tokens": int(chat.get("total_tokens") or given + made),
    }


class Draft:
    """One response's object: what the request set, echoed as OpenAI does, with its id and
    creation time fixed from the start (the stream's events all carry the same)."""

    def __init__(self, body: ResponsesRequest, model: str) -> None:
        self.body, self.model = body, model
        self.id = new_id("resp")
        self.created_at = int(time.time())

    def response(
        self, status: str, output: list[Item], used: Any = None, error: Item | None = None
    ) -> dict[str, Any]:
        body = self.body
        fmt = body.text.format if body.text and body.text.format else None
        return {
            "id": self.id, "object": "response", "created_at": self.created_at,
            "status": status, "background": False, "error": error,
            "incomplete_details": {"reason": "max_output_tokens"}
            if status == "incomplete" else None,
            "instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
            "metadata": body.metadata or {}, "model": self.model, "output": output,
            "parallel_tool_calls": body.parallel_tool_calls is not False,
            "previous_response_id": body.previous_response_id,
            "reasoning": {"effort": body.reasoning and body.reasoning.effort, "summary": None},
            "store": body.store, "temperature": body.temperature,
            "text": {"format": fmt.model_dump(by_alias=True) if fmt else {"type": "text"}},
            "tool_choice": _dump(body.tool_choice) or "auto",
            "tools": [_dump(t) for t in body.tools or []],
            "top_p": body.top_p, "truncation": "disabled", "usage": usage(used),
        }  # fmt: skip

    def whole(self, completion: Completion) -> dict[str, Any]:
        choice = (completion.get("choices") or [{}])[0]
        status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
        items = output_items(choice.get("message") or {}, status)
        return self.response(status, items, completion.get("usage"))


def _dump(value: Any) -> Any:
    return (
        value.model_dump(by_alias=True, exclude_none=True)
        if hasattr(value, "model_dump")
        else value
    )


# --- the event stream ----------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    """The output item being streamed: its kind, where it stands, what it holds so far."""

    kind: str  # "reasoning" | "message" | "function_call"
    index: int
    item: Item
    text: str = ""
    call: int = -1  # the tool call's index in the chunks


_DELTA = {"message": "response.output_text.delta", "reasoning": "response.reasoning_text.delta"}
_DONE = {"message": "response.output_text.done", "reasoning": "response.reasoning_text.done"}


class Events:
    """The Responses event stream, from the neutral chunks: `response.created` and
    `response.in_progress`, then per output item `output_item.added`, its content part, its
    deltas and their `done` events, `output_item.done`; finally `response.completed` (or
    `response.incomplete` at the token limit). A failure after the first byte is an `error`
    event and `response.failed`. Each event is `event: <type>` + `data: {...}` with a
    `sequence_number`, as OpenAI sends them (no `[DONE]`)."""

    content_type = "text/event-stream"

    def __init__(self, draft: Draft, keep: Callable[[dict[str, Any], list[Item]], None]) -> None:
        self.draft, self.keep = draft, keep
        self.sequence = 0
        self.started = False
        self.items: list[Item] = []
        self.open: _Open | None = None
        self.finish: str | None = None
        self.usage: Any = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        payload = json.dumps(data, separators=(",", ":"))
        return f"event: {kind}\ndata: {payload}\n\n".encode()

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        response = self.draft.response("in_progress", [])
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def chunk(self, chunk: Chunk) -> bytes:
        out = self._start()
        self.usage = chunk.get("usage") or self.usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # the Responses API has one answer
            delta = choice.get("delta") or {}
            if reasoning := delta.get("reasoning_content"):
                out += self._text("reasoning", reasoning)
            if content := delta.get("content"):
                out += self._text("message", content)
            for fragment in delta.get("tool_calls") or []:
                out += self._call(fragment)
            self.finish = choice.get("finish_reason") or self.finish
        return out

    def _text(self, kind: str, text: str) -> bytes:
        out = b""
        if self.open is None or self.open.kind != kind:
            out = self._close("completed") + self._add(kind)
        assert self.open is not None
        self.open.text += text
        fields: dict[str, Any] = {"logprobs": []} if kind == "message" else {}
        return out + self._event(_DELTA[kind], item_id=self.open.item["id"],
                                 output_index=self.open.index, content_index=0, delta=text,
                                 **fields)  # fmt: skip

    def _add(self, kind: str) -> bytes:
        make = message_item if kind == "message" else reasoning_item
        item = make(new_id("msg" if kind == "message" else "rs"), [], "in_progress")
        self.open = _Open(kind, len(self.items), item)
        part = text_part("") if kind == "message" else reasoning_part("")
        return self._event("response.output_item.added", output_index=self.open.index,
                           item=item) + self._event(
            "response.content_part.added", item_id=item["id"], output_index=self.open.index,
            content_index=0, part=part)  # fmt: skip

    def _call(self, fragment: dict[str, Any]) -> bytes:
        index, function = fragment.get("index", 0), fragment.get("function") or {}
        out = b""
        if self.open is None or self.open.kind != "function_call" or self.open.call != index:
            out = self._close("completed")
            item = call_item(new_id("fc"), fragment.get("id") or new_id("call"),
                             function.get("name") or "", "", "in_progress")  # fmt: skip
            self.open = _Open("function_call", len(self.items), item, call=index)
            out += self._event("response.output_item.added", output_index=self.open.index,
                               item=item)  # fmt: skip
        if arguments := _arguments(function):
            self.open.text += arguments
            out += self._event("response.function_call_arguments.delta",
                               item_id=self.open.item["id"], output_index=self.open.index,
                               delta=arguments)  # fmt: skip
        return out

    def _close(self, status: str) -> bytes:
        current, self.open = self.open, None
        if current is None:
            return b""
        where = {"item_id": current.item["id"], "output_index": current.index}
        if current.kind == "function_call":
            item = {**current.item, "arguments": current.text, "status": status}
            out = self._event("response.function_call_arguments.done", **where,
                              name=item["name"], arguments=current.text)  # fmt: skip
        else:
            message = current.kind == "message"
            part = text_part(current.text) if message else reasoning_part(current.text)
            item = {**current.item, "content": [part], "status": status}
            fields: dict[str, Any] = {"logprobs": []} if message else {}
            out = self._event(_DONE[current.kind], **where, content_index=0,
                              text=current.text, **fields)  # fmt: skip
            out += self._event("response.content_part.done", **where, content_index=0, part=part)
        self.items.append(item)
        return out + self._event("response.output_item.done", output_index=current.index,
                                 item=item)  # fmt: skip

    def error(self, e: GatewayError) -> bytes:
        out = self._start() + self._close("incomplete")
        out += self._event("error", code=e.code or e.type, message=e.message, param=e.param)
        failure = {"code": "server_error", "message": e.message}
        response = self.draft.response("failed", self.items, self.usage, error=failure)
        return out + self._event("response.failed", response=response)

    def end(self) -> bytes:
        out = self._start()
        status = "incomplete" if self.finish == "length" else "completed"
        if not self.items and self.open is None:
            out += self._add("message")  # an empty answer is still a message, as OpenAI's
        out += self._close(status)
        response = self.draft.response(status, self.items, self.usage)
        self.keep(response, self.items)
        return out + self._event(f"response.{status}", response=response)


# --- the API description -------------------------------------------------------------------


def openapi_paths() -> dict[str, Any]:
    from gateway import openapi as spec  # it imports this module

    ok = spec._chat_ok()
    ok["description"] = (
        "A `response` object, or with `stream: true` the Responses events (`event: <type>` "
        "and `data: {...}`): response.created ... response.completed (or response.incomplete "
        "at max_output_tokens; after a failure mid-stream, `error` and response.failed)."
    )
    ok["content"] = {
        "application/json": {"schema": spec._ref("Response")},
        "text/event-stream": {"schema": spec._ref("ResponseEvent")},
    }
    not_found = spec._json("No kept response has this id.", "Error")
    return {
        "/v1/responses": {
            "post": {
                "operationId": "createResponse",
                "summary": "OpenAI's Responses API: route the input to a backend, answer as a "
                "response object or its event stream.",
                "security": [{"bearerAuth": []}],
                "parameters": spec._gateway_headers(),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": spec._ref("ResponsesRequest")}},
                },
                "responses": {"200": ok, **spec._errors(*spec.ERROR_STATUSES)},
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "operationId": "getResponse",
                "summary": "A response kept in memory (`server.responses_store_ttl_s`).",
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "response_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],  # fmt: skip
                "responses": {
                    "200": spec._json("The response.", "Response"),
                    "404": not_found,
                    **spec._errors(401),
                },
            }
        },
    }


def openapi_schemas() -> dict[str, Any]:
    # Names of its own, prefixed: `InputAudio` and others are Chat Completions' too.
    request = ResponsesRequest.model_json_schema(ref_template=SCHEMA_REF.format(
        model="Responses{model}"))  # fmt: skip
    schemas = {f"Responses{k}": v for k, v in request.pop("$defs", {}).items()}
    nullable_object = {"type": ["object", "null"]}
    return {
        **schemas,
        "ResponsesRequest": request,
        "Response": {
            "type": "object",
            "required": ["id", "object", "created_at", "status", "model", "output"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "response"},
                "created_at": {"type": "integer"},
                "status": {"enum": ["completed", "incomplete", "in_progress", "failed"]},
                "model": {"type": "string"},
                "output": {
                    "type": "array",
                    "items": {"type": "object", "required": ["type"]},
                },
                "usage": nullable_object,
                "error": nullable_object,
                "incomplete_details": nullable_object,
            },
        },
        "ResponseEvent": {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string"},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {
                        "type": "object",
                        "required": ["type", "sequence_number"],
                    },
                },
            },
        },
    }


ENDPOINTS = [
    Endpoint("POST", "/v1/responses", create_response, error_response),
    Endpoint("GET", "/v1/responses/{response_id}", get_response, error_response),
]
