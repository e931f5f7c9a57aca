from __future__ import annotations

import pytest

from app.errors import ErrorCode
from app.events import Done, Error, Usage
from app.web.frames import SERVER_FRAME, ClientFeedback, ClientMessage, parse_client_frame


def code_of(raw: str) -> ErrorCode:
    result = parse_client_frame(raw)
    assert isinstance(result, Error)
    return result.code


def test_valid_message_parses() -> None:
    assert parse_client_frame('{"type":"message","id":"m-1","text":"hi"}') == ClientMessage(
        type="message", id="m-1", text="hi"
    )


def test_feedback_with_comment_parses() -> None:
    frame = parse_client_frame('{"type":"feedback","message_id":"m1","rating":-1,"comment":"wrong"}')
    assert isinstance(frame, ClientFeedback)
    assert frame.rating == -1


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", ErrorCode.BAD_JSON),
        ("[1,2]", ErrorCode.BAD_JSON),
        ('"text"', ErrorCode.BAD_JSON),
        ("{}", ErrorCode.UNKNOWN_TYPE),
        ('{"type":"shout"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type":5}', ErrorCode.UNKNOWN_TYPE),
        ('{"type":"message","id":"m1"}', ErrorCode.MISSING_FIELD),
        ('{"type":"cancel"}', ErrorCode.MISSING_FIELD),
        ('{"type":"message","id":"m1","text":42}', ErrorCode.WRONG_TYPE),
        ('{"type":"message","id":7,"text":"x"}', ErrorCode.WRONG_TYPE),
        ('{"type":"message","id":"has space","text":"x"}', ErrorCode.INVALID_VALUE),
        ('{"type":"message","id":"","text":"x"}', ErrorCode.INVALID_VALUE),
        ('{"type":"feedback","message_id":"m1","rating":0}', ErrorCode.INVALID_VALUE),
        ('{"type":"message","id":"m1","text":"x","extra":1}', ErrorCode.INVALID_VALUE),
    ],
)
def test_bad_frames_get_stable_codes(raw: str, code: ErrorCode) -> None:
    assert code_of(raw) == code


def test_error_names_the_message_it_concerns() -> None:
    result = parse_client_frame('{"type":"message","id":"m9","text":1}')
    assert isinstance(result, Error)
    assert result.reply_to == "m9"


def test_deeply_nested_json_is_a_bad_json_error_not_a_crash() -> None:
    assert code_of("[" * 100_000 + "]" * 100_000) == ErrorCode.BAD_JSON


def test_server_frames_round_trip_through_the_union() -> None:
    done = Done(
        seq=4, message_id="m1", route="chat", text="ok", usage=Usage(prompt_tokens=3, completion_tokens=1)
    )
    assert SERVER_FRAME.validate_json(done.model_dump_json()) == done
