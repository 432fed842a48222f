"""Video: container facts read through OpenCV's FFmpeg, only ever from a local temp file.

A user string is never handed to FFmpeg (it would follow URLs, `concat:` lists and
playlists): the bytes are written to a private temp file, and FFmpeg is limited to the
`file` protocol.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import cv2

from preprocess.errors import InvalidMedia

os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "protocol_whitelist;file")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # bad input is our 400


@contextlib.contextmanager
def open_video(data: bytes, param: str | None = None) -> Iterator[cv2.VideoCapture]:
    """A capture over `data`; InvalidMedia when FFmpeg cannot open it as a video."""
    fd, path = tempfile.mkstemp(prefix="gateway-video-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                raise InvalidMedia(
                    "video could not be opened: not a video container FFmpeg reads "
                    "(mp4, mov, webm, mkv, avi), or it is truncated",
                    param,
                )
            yield cap
        finally:
            cap.release()
    finally:
        os.unlink(path)


def video_seconds(data: bytes, param: str | None = None) -> float | None:
    """Duration from the container's header (frame count / fps), None when it lacks one.

    Only an estimate for routing: the decoder later stops by decoded timestamps.
    """
    with open_video(data, param) as cap:
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = cap.get(cv2.CAP_PROP_FPS)
    if frames > 0 and fps > 0:
        return float(frames / fps)
    return None
