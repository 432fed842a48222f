"""What a request will cost in tokens, counted from what preprocessing actually made.

Images count at the configured budget, audio at 25 tokens per second (Gemma 4's audio
encoder: 40 ms per token, at most 750 per 30 s clip), video as the stills it was cut into at
the image budget plus a timestamp label each, and the text of the client's messages with
the fast estimator (`tokens`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config import RoutingConfig
from gateway.core.messages import ChatMessage
from gateway.core.tokens import BOS, MESSAGE_OVERHEAD_TOKENS, estimate_text_tokens
from preprocess.media import MediaPlan, Source, Text

AUDIO_TOKENS_PER_SECOND = 25
OLLAMA_MEDIA_TOKENS = 768  # Ollama's count per `images` entry when it truncates (prompt.go)
FRAME_LABEL_TOKENS = estimate_text_tokens("00:00 ")


@dataclass(frozen=True, slots=True)
class Estimate:
    """Tokens by source; `total` is what must fit in the model's window."""

    text: int = 0
    images: int = 0
    audio: int = 0
    video: int = 0
    output: int = 0

    @property
    def total(self) -> int:
        return self.text + self.images + self.audio + self.video + self.output


def estimate(
    messages: list[ChatMessage[Source]],
    plan: MediaPlan,
    output_tokens: int | None,
    routing: RoutingConfig,
) -> Estimate:
    """The client's text (not the frame labels preprocessing added: `video` counts those)
    plus the media as prepared, plus the answer's reserve."""
    text = BOS + MESSAGE_OVERHEAD_TOKENS * len(messages)
    text += sum(estimate_text_tokens(p.text) for m in messages for p in m.parts
                if isinstance(p, Text))  # fmt: skip
    return Estimate(
        text=text,
        images=plan.images * routing.image_tokens,
        audio=math.ceil(plan.audio_s * AUDIO_TOKENS_PER_SECOND),
        video=plan.frames * (routing.image_tokens + FRAME_LABEL_TOKENS),
        output=output_tokens or routing.output_reserve_tokens,
    )
