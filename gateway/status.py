"""`gateway status`: the running gateway's backends, their load, and what `auto` would choose
right now for four typical requests (each asked of the gateway's own dry run, so the answer
is the live decision: its inventory, its load, the embedded engine)."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Callable
from typing import Any

from gateway.core.errors import redact

# An 8x8 PNG, made once with zlib; a request with it needs a model that sees.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAADElEQVR4nGNgGB4AAADIAAGtQHYiAAAAAElFTkSuQmCC"
LONG_WORDS = 48_000  # about 60K tokens: over routing.long_context_tokens' default (32K)

Ask = Callable[[str, bytes], Any]  # path, body -> the gateway's JSON answer


def silence_wav(seconds: float = 1.0, rate: int = 16000) -> str:
    """`seconds` of 16 kHz mono silence as base64 WAV (stdlib only)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(2 * int(seconds * rate)))
    return base64.b64encode(out.getvalue()).decode()


def probes() -> dict[str, dict[str, Any]]:
    """The four requests `auto` is asked about: chat bodies, as a client would send them."""

    def user(*content: dict[str, Any]) -> dict[str, Any]:
        return {"model": "auto", "messages": [{"role": "user", "content": list(content)}]}

    text = {"type": "text", "text": "Summarise this."}
    return {
        "short text": user({"type": "text", "text": "Hello!"}),
        "image": user(text, {"type": "image_url",
                             "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
        "audio": user(text, {"type": "input_audio",
                             "input_audio": {"data": silence_wav(), "format": "wav"}}),
        "long document": user({"type": "text", "text": "The report says. " * (LONG_WORDS // 3)}),
    }  # fmt: skip


def auto_choices(ask: Ask) -> dict[str, dict[str, Any]]:
    """What `auto` chooses for each probe: model, backend, reason, estimate (or the error)."""
    choices = {}
    for name, body in probes().items():
        answer = ask("/v1/gateway/route", json.dumps(body).encode())
        if "error" in answer:
            choices[name] = {"error": answer["error"]["message"]}
        else:
            choices[name] = {k: answer[k] for k in ("model", "backend", "reason",
                                                    "tokens_estimate")}  # fmt: skip
    return choices


def report(ready: dict[str, Any], auto: dict[str, dict[str, Any]], where: str) -> str:
    """The status screen: health and load per backend, loaded models with their windows,
    then `auto`'s choices."""
    lines = [f"gateway: {ready['status']} at {where}"]
    for name, b in ready["backends"].items():
        health = "healthy" if b["healthy"] else f"down: {b['detail']}"
        load = f"{b.get('in_flight', 0)} in flight, {b.get('queued', 0)} queued"
        lines.append(f"  {name} ({b['kind']}, {redact(b['url'])}): {health}; {load}")
        for m in b["models"]:
            window = m.get("loaded_context") or m.get("context")
            loaded = f"  [loaded, window {window}]" if m["loaded"] else ""
            lines.append(f"    {m['id']}{loaded}")
    lines.append("  auto would choose:")
    for probe, c in auto.items():
        choice = c.get("error") or (f"{c['model']} on {c['backend']} ({c['reason']}, "
                                    f"~{c['tokens_estimate']} tokens)")  # fmt: skip
        lines.append(f"    {probe:14} -> {choice}")
    return "\n".join(lines)
