"""Decodes that never end, for decode children to run: a module that imports next to nothing,
because each child imports the module of the function it runs (a test module pulls in pytest,
aiohttp and the fixtures, seconds on a busy machine)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from preprocess.video import _temp_path


def hold_a_video_temp_file(report: str) -> None:
    """As `video_stills` does, with a decode that never ends; reports its pid and file."""
    with _temp_path(b"not really a video") as path:
        Path(report).write_text(f"{os.getpid()} {path}")
        time.sleep(600)


def linger(*args: Any) -> None:
    """A decode (standing in for `core.prepare.prepare`) that makes a temp file and never ends; the
    file's name carries the child's pid."""
    fd, _ = tempfile.mkstemp(prefix=f"pid-{os.getpid()}-")
    os.close(fd)
    time.sleep(600)
