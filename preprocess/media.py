"""The media types preprocessing takes and makes: decoded bytes, plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass


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
"""What backends take: `prepare_media` has turned each video into labelled stills."""
Part = BackendPart | Video
