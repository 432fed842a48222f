"""What a request carries and what it will cost in tokens, before anything is decoded.

Media is counted as what it will become: an image at the configured budget, audio at 25
tokens per second (Gemma 4's audio encoder: 40 ms per token, at most 750 per 30 s clip),
video as the stills it is cut into (`video_fps`, first `video_max_seconds`) at the image
budget plus a timestamp label each. Durations come from headers and containers only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config import PreprocessConfig, RoutingConfig
from gateway.core.errors import InvalidRequest
from gateway.core.messages import ChatMessage
from gateway.core.model import Modality
from gateway.core.routing import Need
from gateway.core.tokens import BOS, MESSAGE_OVERHEAD_TOKENS, estimate_text_tokens
from preprocess.audio import audio_seconds
from preprocess.media import Audio, Image, Part, Text, Video
from preprocess.video import video_seconds

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


@dataclass(slots=True)
class MediaPlan:
    """What preprocessing will make of the media (reported, and counted in the estimate)."""

    images: int = 0
    videos: int = 0
    frames: int = 0
    truncated_s: float = 0.0
    audios: int = 0
    clips: int = 0
    audio_s: float = 0.0

    @property
    def items(self) -> int:
        """Media items a backend receives: images, video stills and audio clips."""
        return self.images + self.frames + self.clips


@dataclass(frozen=True, slots=True)
class Inspection:
    modalities: frozenset[Modality]
    estimate: Estimate
    plan: MediaPlan

    def need(self) -> Need:
        """What routing weighs: modalities, the estimate, and the prompt as Ollama counts it
        (its text, plus a flat 768 per media item)."""
        e = self.estimate
        ollama = e.text + e.output + OLLAMA_MEDIA_TOKENS * self.plan.items
        return Need(self.modalities, e.total, ollama)


def inspect(
    messages: list[ChatMessage[Part]],
    output_tokens: int | None,
    routing: RoutingConfig,
    media: PreprocessConfig,
) -> Inspection:
    """Modalities, token estimate and media plan of decoded messages (reads media headers)."""
    text = BOS + MESSAGE_OVERHEAD_TOKENS * len(messages)
    plan = MediaPlan()
    seen = {Modality.TEXT} if any(m.text for m in messages) else set()
    for i, msg in enumerate(messages):
        for j, part in enumerate(msg.parts):
            param = f"messages[{i}].content[{j}]"
            if isinstance(part, Text):
                text += estimate_text_tokens(part.text)
            elif isinstance(part, Image):
                seen.add(Modality.IMAGE)
                plan.images += 1
            elif isinstance(part, Audio):
                seen.add(Modality.AUDIO)
                seconds = audio_seconds(part.data, param + ".input_audio.data")
                plan.audios += 1
                plan.clips += math.ceil(seconds / media.audio_clip_seconds)
                plan.audio_s += seconds
                if plan.audio_s > media.max_audio_seconds:
                    raise InvalidRequest(
                        f"the request carries {plan.audio_s:.0f}s of audio; the limit is "
                        f"{media.max_audio_seconds:g}s (preprocess.max_audio_seconds): "
                        "send less audio",
                        param=param + ".input_audio.data",
                    )
            elif isinstance(part, Video):
                seen.add(Modality.VIDEO)
                # No bytes: a remote video the dry run did not fetch, counted at the cap.
                length = video_seconds(part.data, param + ".video_url.url") if part.data else None
                frames, cut = video_frames(length, media)
                plan.videos += 1
                plan.frames += frames
                plan.truncated_s += cut
    estimate = Estimate(
        text=text,
        images=plan.images * routing.image_tokens,
        audio=math.ceil(plan.audio_s * AUDIO_TOKENS_PER_SECOND),
        video=plan.frames * (routing.image_tokens + FRAME_LABEL_TOKENS),
        output=output_tokens or routing.output_reserve_tokens,
    )
    return Inspection(frozenset(seen), estimate, plan)


def video_frames(seconds: float | None, media: PreprocessConfig) -> tuple[int, float]:
    """Stills a video becomes and seconds cut off; unknown length counts as the cap.

    >>> video_frames(90.0, PreprocessConfig()), video_frames(7.2, PreprocessConfig())
    ((60, 30.0), (8, 0.0))
    """
    cap = media.video_max_seconds
    if seconds is None:
        return math.ceil(cap * media.video_fps), 0.0
    kept = min(seconds, cap)
    return max(1, math.ceil(kept * media.video_fps)), max(0.0, seconds - cap)
