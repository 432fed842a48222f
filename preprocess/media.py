"""The media types preprocessing takes and makes: decoded bytes, plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    mime: str


@dataclass(frozen=True, slots=True)
class Audio:
    data: bytes
    format: str


@dataclass(frozen=True, slots=True)
class Video:
    data: bytes
    mime: str


BackendPart = Text | Image | Audio
"""What backends take: preprocessing has turned each video into labelled stills."""

MediaKind = Literal["image", "audio", "video"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Media as a request carries it, not yet decoded: a `data:` URL, bare base64 (audio, with
    its declared `format`), or an `https://` URL fetched before decoding. `param` says where
    it stood in the client's request, in that front's own terms, for error messages."""

    kind: MediaKind
    data: str
    param: str
    format: str | None = None


Source = Text | Encoded
"""A part as a front hands it over: text, or media still encoded."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What preprocessing may take and make; plain numbers, so callers need no config type."""

    max_media_bytes: int = 64 * 2**20
    image_max_side: int = 1536
    image_max_pixels: int = 50_000_000
    audio_clip_seconds: float = 30
    max_audio_seconds: float = 600
    video_fps: float = 1
    video_max_seconds: float = 60
    still_max_side: int = 768


@dataclass(slots=True)
class MediaPlan:
    """What preprocessing made of a request's media: reported, and counted in the estimate."""

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
