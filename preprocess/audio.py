"""Audio: how long a clip is, read from its header (libsndfile), without decoding it."""

from __future__ import annotations

import io

import soundfile as sf

from preprocess.errors import InvalidMedia


def audio_seconds(data: bytes, param: str | None = None) -> float:
    """Duration of wav/flac/ogg/mp3 bytes from the header; unreadable audio is InvalidMedia.

    libsndfile reports the true length even when a WAV header claims more data than the
    file holds, so a lying header cannot inflate the estimate.
    """
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        reason = str(e).rsplit(": ", 1)[-1]  # drop libsndfile's "Error opening <object>"
        raise InvalidMedia(
            f"audio is not a readable wav, flac, ogg or mp3 file ({reason})", param
        ) from None
    if not info.samplerate or info.frames <= 0:
        raise InvalidMedia("audio has no samples", param)
    return float(info.frames) / float(info.samplerate)
