"""Bad request bodies become 400s that name the offending field."""

from __future__ import annotations

import json

import pytest

from gateway.core.errors import InvalidRequest
from gateway.edge import parse_chat_request

USER = {"role": "user", "content": "hi"}


def body(**fields: object) -> bytes:
    return json.dumps({"messages": [USER], **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "param", "says"),
    [
        (b"", None, "body is empty"),
        (b"{bad", None, "not valid JSON"),
        (b"[]", None, "JSON object"),
        (b"{}", "messages", "required"),
        (json.dumps({"messages": []}).encode(), "messages", "at least one message"),
        (json.dumps({"messages": "hi"}).encode(), "messages", "valid array"),
        (json.dumps({"messages": [{"content": "x"}]}).encode(), "messages[0].role", "required"),
        (
            json.dumps({"messages": [{"role": "bot", "content": "x"}]}).encode(),
            "messages[0].role",
            "'user'",
        ),
        (
            json.dumps({"messages": [{"role": "user", "content": 5}]}).encode(),
            "messages[0].content",
            "valid string or a valid",
        ),
        (
            json.dumps({"messages": [{"role": "user", "content": [{"type": "file"}]}]}).encode(),
            "messages[0].content[0]",
            "'file'",
        ),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}
            ).encode(),
            "messages[0].content[0].image_url",
            "required",
        ),
        (
            json.dumps(
                {
                    "messages": [
                        USER,
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": "x"},
                                {
                                    "type": "input_audio",
                                    "input_audio": {"data": "", "format": "aac"},
                                },
                            ],
                        },
                    ]
                }
            ).encode(),
            "messages[1].content[1].input_audio.format",
            "'wav'",
        ),
        (body(model=7), "model", "valid string"),
        (body(stream=[1]), "stream", "boolean"),
        (body(n=9), "n", "less than or equal to 8"),
        (body(max_tokens=0), "max_tokens", "a positive integer, or -1 for no limit"),
        (body(stream_options={"include_usage": "maybe"}), "stream_options.include_usage", "bool"),
    ],
)
def test_bad_body_is_a_400_naming_the_field(raw: bytes, param: str | None, says: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_chat_request(raw)
    assert err.value.status == 400
    assert err.value.param == param
    assert says in err.value.message


def test_unknown_fields_are_carried_through_for_the_backend() -> None:
    tool = {"type": "function", "function": {"name": "f", "x-vendor": 1}}
    req = parse_chat_request(body(temperature=0.2, top_k=5, tools=[tool]))
    assert req.sampling() == {"temperature": 0.2, "top_k": 5, "tools": [tool]}


def test_max_completion_tokens_wins_and_is_forwarded_as_max_tokens() -> None:
    req = parse_chat_request(body(max_tokens=10, max_completion_tokens=20))
    assert req.sampling() == {"max_tokens": 20}


def test_include_usage() -> None:
    assert parse_chat_request(
        body(stream=True, stream_options={"include_usage": True})
    ).include_usage
    assert not parse_chat_request(body(stream=True)).include_usage
