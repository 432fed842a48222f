"""OpenAI's Responses API as clients send it: the pydantic models `fronts.responses` parses.

Typed are the fields the gateway reads (input items and their content parts, function
tools, `tool_choice`, `reasoning`, `text.format`, limits and sampling), strictly, so a wrong
type is a 400 naming the field; other fields are kept in `model_extra` and ignored. Item
types that need OpenAI's own services (web search, file search, computer use, ...) are no
member of the input union and are refused by name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag

from gateway.fronts.openai_wire import MAX_MESSAGES, MAX_PARTS, Number


class _Open(BaseModel):
    """An OpenAI object whose fields the gateway checks; any others are kept as sent."""

    model_config = ConfigDict(extra="allow")


# --- content parts -------------------------------------------------------------------------


class InputText(_Open):
    type: Literal["input_text"]
    text: str


class OutputText(_Open):
    """An earlier answer's text, as clients send their output items back."""

    type: Literal["output_text"]
    text: str


class Refusal(_Open):
    type: Literal["refusal"]
    refusal: str


class InputImage(_Open):
    type: Literal["input_image"]
    image_url: str | None = None  # a data URL or an https:// URL
    file_id: str | None = None  # OpenAI's Files API: the gateway has none
    detail: str | None = None


class InputFile(_Open):
    type: Literal["input_file"]
    file_data: str | None = None  # a data URL (or bare base64)
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class AudioData(_Open):
    data: str  # base64
    format: Literal["wav", "mp3", "flac", "ogg"]


class InputAudio(_Open):
    type: Literal["input_audio"]
    input_audio: AudioData


ContentPart = Annotated[
    InputText | OutputText | Refusal | InputImage | InputFile | InputAudio,
    Field(discriminator="type"),
]
Content = str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)]


# --- input items ---------------------------------------------------------------------------


class MessageItem(_Open):
    """A message; `type` may be left out (`{"role": ..., "content": ...}`)."""

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: Content


class FunctionCallItem(_Open):
    """A call the model made, sent back with its output."""

    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(_Open):
    type: Literal["function_call_output"]
    call_id: str
    output: Content


class ReasoningItem(_Open):
    """An earlier answer's reasoning, sent back: its text goes with the next assistant turn."""

    type: Literal["reasoning"]
    summary: list[dict[str, Any]] = Field(default_factory=list)
    content: list[dict[str, Any]] | None = None


def _item_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "message"))
    return str(getattr(value, "type", "message"))


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")],
    Discriminator(_item_type),
]


# --- tools and formats ---------------------------------------------------------------------


class FunctionTool(_Open):
    """Responses' flat function tool (Chat Completions nests it under `function`)."""

    type: Literal["function"]
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class ToolChoiceFunction(_Open):
    type: Literal["function"]
    name: str


class Reasoning(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: str | None = None


class TextFormatText(_Open):
    type: Literal["text"]


class TextFormatJsonObject(_Open):
    type: Literal["json_object"]


class TextFormatJsonSchema(_Open):
    type: Literal["json_schema"]
    name: str = "response"
    # `schema` itself would shadow BaseModel.schema
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: StrictBool | None = None


TextFormat = Annotated[
    TextFormatText | TextFormatJsonObject | TextFormatJsonSchema, Field(discriminator="type")
]


class TextConfig(_Open):
    format: TextFormat | None = None


# --- the request ---------------------------------------------------------------------------


class ResponsesRequest(_Open):
    """A `POST /v1/responses` body; unknown fields are kept, not read."""

    model: str | None = None
    input: str | Annotated[list[InputItem], Field(max_length=MAX_MESSAGES)] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    store: StrictBool = True
    stream: StrictBool = False
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | None = None
    parallel_tool_calls: StrictBool | None = None
    reasoning: Reasoning | None = None
    text: TextConfig | None = None
    max_output_tokens: StrictInt | None = Field(default=None, ge=1)
    temperature: Number | None = None
    top_p: Number | None = None
    metadata: dict[str, str] | None = None
    background: Literal[False] | None = None  # no background mode: nothing runs unasked

    def chat_tools(self) -> list[dict[str, Any]] | None:
        """The function tools in Chat Completions' shape, which the adapters translate."""
        if not self.tools:
            return None
        return [
            {"type": "function", "function": t.model_dump(exclude={"type"}, exclude_none=True)}
            for t in self.tools
        ]

    def chat_tool_choice(self) -> str | dict[str, Any] | None:
        choice = self.tool_choice
        if isinstance(choice, ToolChoiceFunction):
            return {"type": "function", "function": {"name": choice.name}}
        return choice

    def response_format(self) -> dict[str, Any] | None:
        """`text.format` as Chat Completions' `response_format`."""
        fmt = self.text.format if self.text else None
        if isinstance(fmt, TextFormatJsonSchema):
            schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
            schema.update({k: v for k, v in (("description", fmt.description),
                                             ("strict", fmt.strict)) if v is not None})  # fmt: skip
            return {"type": "json_schema", "json_schema": schema}
        if isinstance(fmt, TextFormatJsonObject):
            return {"type": "json_object"}
        return None
