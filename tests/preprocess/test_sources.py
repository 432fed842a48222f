"""Media sources: strict base64 and data URLs; everything else refused with a reason."""

from __future__ import annotations

import pytest

from preprocess.errors import InvalidMedia
from preprocess.sources import decode_base64, decode_data_url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/cat.png", "allow_remote_media"),
        ("file:///etc/passwd", "only data: URLs"),
        ("/etc/passwd", "expected a data: URL"),
        ("data:image/png,rawbytes", "base64-encoded"),
        ("data:image/png;base64,@@@@", "not valid base64"),
        ("data:image/png;base64,aGk", "not valid base64"),  # bad padding
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64," + "A" * 40, "larger than"),
    ],
)
def test_unusable_urls_are_refused(url: str, says: str) -> None:
    with pytest.raises(InvalidMedia, match=says) as err:
        decode_data_url(url, "image", "messages[0].content[0].image_url.url", max_bytes=16)
    assert err.value.param == "messages[0].content[0].image_url.url"


def test_data_url_with_params() -> None:
    url = "data:image/PNG;charset=x;base64,aGk="
    assert decode_data_url(url, "image", "p", 16) == ("image/png", b"hi")


def test_base64_never_drops_junk_silently() -> None:
    # The stdlib default would decode "a-Gk=" by skipping "-"; a strict gateway refuses it.
    with pytest.raises(InvalidMedia):
        decode_base64("a-Gk=", "audio", "p", 16)
