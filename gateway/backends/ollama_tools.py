"""OpenAI's forced `tool_choice` on Ollama, which has no such field.

Ollama's `/api/chat` takes `tools` but always lets the model choose (its own `/v1` lists
`tool_choice` as unsupported), so structured-output libraries (instructor, pydantic-ai,
LangChain's `with_structured_output`) that force a call get plain text back. The gateway
honours the choice by constraining the output with `format` (a JSON schema, which Ollama
turns into a grammar) and turning the constrained output into a real `tool_calls` entry:

- a named function (or `required` with one tool): the output is that tool's arguments;
- `required` with several tools: the output is `{"name": ..., "arguments": ...}`, one of them;
- `none`: the tools are not sent at all.

Should Ollama answer with a tool call of its own instead (its parser found one in the
output), that call is the answer and is passed on as it is.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from gateway.core.errors import BackendError, InvalidRequest

ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass
class ForcedTool:
    """The tools a forced choice allows, and the call being built from the output."""

    tools: dict[str, dict[str, Any]]  # name -> parameters schema
    call_id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")
    _text: list[str] = field(default_factory=list)

    @property
    def started(self) -> bool:
        """Whether any output has been seen (and, for a named call, its first delta sent)."""
        return bool(self._text)

    @property
    def named(self) -> str | None:
        """The one function the output is the arguments of; None when it names itself."""
        return next(iter(self.tools)) if len(self.tools) == 1 else None

    def schema(self) -> dict[str, Any]:
        """The `format` that makes the model's output a valid call."""
        if self.named is not None:
            return self.tools[self.named]
        return {"anyOf": [
            {"type": "object", "properties": {"name": {"const": name}, "arguments": params},
             "required": ["name", "arguments"]}
            for name, params in self.tools.items()
        ]}  # fmt: skip

    def delta(self, text: str) -> list[dict[str, Any]]:
        """OpenAI `tool_calls` deltas for a piece of output: a named call streams its
        arguments as they come (the first delta carries id and name, as OpenAI's do); a
        self-naming one waits for the whole object."""
        self._text.append(text)
        if self.named is None:
            return []
        call: dict[str, Any] = {"index": 0, "function": {"arguments": text}}
        if len(self._text) == 1:
            call.update(id=self.call_id, type="function")
            call["function"]["name"] = self.named
        return [call]

    def finish(self) -> list[dict[str, Any]]:
        """The last deltas: the whole call when it names itself; a named call that saw no
        output at all still gets its (empty) arguments."""
        if self.named is None:
            return [{"index": 0, **self.call()}]
        return [] if self._text else self.delta("{}")

    def call(self) -> dict[str, Any]:
        """The whole call, from all of the output seen."""
        text = "".join(self._text)
        if self.named is not None:
            name, arguments = self.named, text or "{}"
        else:
            try:
                chosen = json.loads(text)
                name, arguments = chosen["name"], json.dumps(chosen["arguments"])
            except (ValueError, KeyError, TypeError):
                raise BackendError(
                    f"the model's output is not a call of one of {', '.join(self.tools)}: "
                    f"{text[:200]!r}"
                ) from None
        return {"id": self.call_id, "type": "function",
                "function": {"name": name, "arguments": arguments}}  # fmt: skip


def tool_choice(sampling: dict[str, Any]) -> tuple[list[Any] | None, ForcedTool | None]:
    """The `tools` to send to Ollama and the forced call to build, if any; a choice that
    cannot be honoured is a 400 that says why, never dropped."""
    tools, choice = sampling.get("tools") or None, sampling.get("tool_choice")
    if choice in (None, "auto"):
        return tools, None
    if choice == "none":
        return None, None
    if not tools:
        raise InvalidRequest("tool_choice forces a tool call but no tools were given",
                             param="tool_choice")  # fmt: skip
    if sampling.get("response_format") is not None:
        raise InvalidRequest(
            "Ollama cannot force a tool call and a response_format at once: the gateway forces "
            "the call through Ollama's `format`; drop one of them",
            param="tool_choice",
        )
    schemas = {t["function"]["name"]: t["function"].get("parameters") or ANY_OBJECT
               for t in tools if isinstance(t, dict) and t.get("function")}  # fmt: skip
    if choice == "required":
        return tools, ForcedTool(schemas)
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if name is None:
        raise InvalidRequest(
            'tool_choice must be "none", "auto", "required" or '
            '{"type": "function", "function": {"name": ...}}',
            param="tool_choice",
        )
    if name not in schemas:
        raise InvalidRequest(
            f"tool_choice names {name!r}, which is not among the tools ({', '.join(schemas)})",
            param="tool_choice",
        )
    return tools, ForcedTool({name: schemas[name]})
