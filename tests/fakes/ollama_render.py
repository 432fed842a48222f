"""Ollama's prompt building for Gemma 4, as its server does it, so tests see what the model
would be shown (ollama/ollama at fb30760).

- `render`: the Gemma 4 renderer (`model/renderers/gemma4.go`): `<bos>`, a system turn when
  there is a system message, tools or thinking (`<|think|>` first), then `<|turn>role`
  ... `<turn|>` per message, and the open model turn; the large variant (12B, 26B, 31B:
  `server/renderer_resolution.go`) opens it with an empty thought when not thinking.
  Media tags are placed by `renderContentWithImageTags` (`model/renderers/image_tags.go`):
  each `[img]` in the text is replaced in order by the next item's `[img-N]`; items left
  without a placeholder are put *before* the text; text already holding `[img-` is left as
  it is. Tool declarations, calls and responses are rendered in a shortened form (the
  gateway's tests do not look inside them).
- `truncate`: `chatPrompt` in `server/prompt.go`: with `truncate` on (the default), drop the
  oldest messages (system messages kept, the last always kept) until the rendered prompt's
  tokens plus a flat 768 per `images` entry fit `num_ctx`. The tokenizer stand-in counts
  whitespace-separated words, deterministic for tests.
"""

from __future__ import annotations

import json
from typing import Any

IMAGE_TOKENS = 768  # server/prompt.go: imageNumTokens, image or audio alike


def image_tags(content: str, count: int, offset: int) -> tuple[str, int]:
    """`renderContentWithImageTags`: the content with its items' tags, and the next offset."""
    if count == 0:
        return content, offset
    if "[img-" in content:
        return content, offset + count
    prefix = ""
    for i in range(count):
        tag = f"[img-{offset + i}]"
        if "[img]" in content:
            content = content.replace("[img]", tag, 1)
        else:
            prefix += tag
    if prefix and content and not content[0].isspace():
        prefix += " "
    return prefix + content, offset + count


def is_large(model: str) -> bool:
    """Whether Ollama renders `model` with `gemma4-large` (`gemma4RendererFromName`)."""
    return any(size in model.lower() for size in ("12b", "26b", "31b"))


def render(
    messages: list[dict[str, Any]], tools: list[Any], think: bool, large: bool = False
) -> str:
    """The prompt Ollama's Gemma 4 renderer builds (see the module docstring)."""
    out, offset = ["<bos>"], 0
    first = messages[0] if messages else {}
    system = first if first.get("role") in ("system", "developer") else None
    rest = messages[1:] if system else messages
    if system or tools or think:
        out.append("<|turn>system\n" + ("<|think|>\n" if think else ""))
        out.append(str(system.get("content") or "").strip() if system else "")
        out += [f"<|tool>declaration:{t['function']['name']}<tool|>" for t in tools]
        out.append("<turn|>\n")
    for msg in rest:
        role = "model" if msg.get("role") == "assistant" else msg.get("role", "user")
        content = str(msg.get("content") or "")
        if role != "model":
            content = content.strip()
        content, offset = image_tags(content, len(msg.get("images") or ()), offset)
        calls = "".join(
            f"<|tool_call>call:{c['function']['name']}{json.dumps(c['function']['arguments'])}"
            "<tool_call|>"
            for c in msg.get("tool_calls") or ()
        )
        out.append(f"<|turn>{role}\n{calls}{content}<turn|>\n")
    out.append("<|turn>model\n" + ("<|channel>thought\n<channel|>" if large and not think else ""))
    return "".join(out)


def count(prompt: str, messages: list[dict[str, Any]], vision: bool) -> int:
    """Ollama's size of a prompt for its fit test: tokens, plus 768 per media item when the
    model has a projector."""
    items = sum(len(m.get("images") or ()) for m in messages) if vision else 0
    return len(prompt.split()) + IMAGE_TOKENS * items


def truncate(
    messages: list[dict[str, Any]],
    tools: list[Any],
    think: bool,
    num_ctx: int,
    vision: bool,
    large: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """The messages `chatPrompt` keeps, and how many it dropped (it says so only in a debug
    log line: a client is never told)."""
    last = len(messages) - 1
    for i in range(len(messages)):
        kept = [m for m in messages[:i] if m.get("role") == "system"] + messages[i:]
        prompt = render(kept, tools, think, large)
        if i == last or count(prompt, messages[i:], vision) <= num_ctx:
            return kept, i - (len(kept) - len(messages[i:]))
    return messages, 0
