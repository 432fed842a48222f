"""A request's media decoded, preprocessed and counted in one blocking call.

`prepare` is what a decoding child runs (`gateway.isolation`), so a media request crosses
into a child once: the bytes are decoded, cut into what backends take, and the estimate is
computed from what was made, not predicted from headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import GatewayConfig
from gateway.core.estimate import OLLAMA_MEDIA_TOKENS, Estimate, estimate
from gateway.core.messages import ChatMessage
from gateway.core.model import Modality
from gateway.core.routing import Need
from preprocess.media import BackendPart, Encoded, MediaPlan, Source
from preprocess.parts import Fetched, prepare_part


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to route and send: backend-ready messages and what they cost."""

    messages: list[ChatMessage[BackendPart]]
    modalities: frozenset[Modality]
    estimate: Estimate
    plan: MediaPlan

    def need(self) -> Need:
        """What routing weighs: modalities, the estimate, and the prompt as Ollama counts it
        (its text, plus a flat 768 per media item)."""
        e = self.estimate
        ollama = e.text + e.output + OLLAMA_MEDIA_TOKENS * self.plan.items
        return Need(self.modalities, e.total, ollama)


def prepare(
    messages: list[ChatMessage[Source]],
    output_tokens: int | None,
    config: GatewayConfig,
    fetched: Fetched | None = None,
) -> Prepared:
    """Blocking: every part made into what backends take, and the request's estimate."""
    limits, plan = config.media_limits(), MediaPlan()
    out = [
        ChatMessage(m.role, [q for p in m.parts for q in prepare_part(p, limits, plan, fetched)],
                    m.extra)
        for m in messages
    ]  # fmt: skip
    cost = estimate(messages, plan, output_tokens, config.routing)
    return Prepared(out, modalities(messages), cost, plan)


def modalities(messages: list[ChatMessage[Source]]) -> frozenset[Modality]:
    """What the request carries: text when any message has some, and each media kind."""
    seen = {Modality.TEXT} if any(m.text for m in messages) else set()
    seen.update(Modality(p.kind) for m in messages for p in m.parts if isinstance(p, Encoded))
    return frozenset(seen)
