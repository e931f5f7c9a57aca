"""Hostile frames: each gets its typed error (or the proper close code), the connection stays usable, and the
log gets at most one short line per frame, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.errors import ErrorCode
from app.settings import Settings, load_settings
from app.web.application import create_app
from tests.conftest import TEST_SECRET, sqlite_url
from tests.fakes import FixedRecommender, ScriptedModel
from tests.liveserver import LiveServer

HOSTILE: list[tuple[str, str, ErrorCode, str | None]] = [
    # (what, frame, code, reply_to)
    ("lone surrogate in id", '{"type":"message","id":"\\ud800","text":"x"}', ErrorCode.INVALID_VALUE, None),
    (
        "lone surrogate in message_id",
        '{"type":"cancel","message_id":"\\udfff"}',
        ErrorCode.INVALID_VALUE,
        None,
    ),
    (
        "lone surrogate in feedback's message_id",
        '{"type":"feedback","message_id":"a\\udc00","rating":1}',
        ErrorCode.INVALID_VALUE,
        None,
    ),
    (
        "lone surrogate in text",
        '{"type":"message","id":"m1","text":"x\\ud800"}',
        ErrorCode.INVALID_VALUE,
        "m1",
    ),
    ("id with a line break", '{"type":"message","id":"m1\\n","text":"x"}', ErrorCode.INVALID_VALUE, None),
    ("a lone surrogate as the type", '{"type":"\\ud800"}', ErrorCode.UNKNOWN_TYPE, None),
    ("a lone surrogate as a key", '{"type":"ping","\\ud800":1}', ErrorCode.INVALID_VALUE, None),
    ("type as a list", '{"type":["message"],"id":"m1"}', ErrorCode.UNKNOWN_TYPE, "m1"),
    ("type as an object", '{"type":{"message":1}}', ErrorCode.UNKNOWN_TYPE, None),
    ("type as null", '{"type":null}', ErrorCode.UNKNOWN_TYPE, None),
    ("type as a boolean", '{"type":true}', ErrorCode.UNKNOWN_TYPE, None),
    ("a long type", '{"type":"' + "t" * 5000 + '"}', ErrorCode.UNKNOWN_TYPE, None),
    ("a number of 5,000 digits", '{"type":"ping","n":' + "7" * 5000 + "}", ErrorCode.BAD_JSON, None),
    (
        "a number of 40 digits",
        '{"type":"feedback","message_id":"m1","rating":' + "1" * 40 + "}",
        ErrorCode.BAD_JSON,
        None,
    ),
    (
        "a float beyond double range",
        '{"type":"feedback","message_id":"m1","rating":1e999}',
        ErrorCode.BAD_JSON,
        None,
    ),
    ("NaN", '{"type":"feedback","message_id":"m1","rating":NaN}', ErrorCode.BAD_JSON, None),
    ("Infinity", '{"type":"ping","n":Infinity}', ErrorCode.BAD_JSON, None),
    ("-Infinity", '{"type":"ping","n":-Infinity}', ErrorCode.BAD_JSON, None),
    (
        "nesting deeper than the parser goes",
        '{"type":"ping","x":' + "[" * 30000 + "]" * 30000 + "}",
        ErrorCode.BAD_JSON,
        None,
    ),
    (
        "nesting the parser takes",
        '{"type":"ping","x":' + "[" * 500 + "]" * 500 + "}",
        ErrorCode.INVALID_VALUE,
        None,
    ),
    ("an array", "[]", ErrorCode.BAD_JSON, None),
    ("a string", '"ping"', ErrorCode.BAD_JSON, None),
    ("a number", "12", ErrorCode.BAD_JSON, None),
    ("null", "null", ErrorCode.BAD_JSON, None),
    ("an empty frame", "", ErrorCode.BAD_JSON, None),
    ("a byte order mark", '\ufeff{"type":"ping"}', ErrorCode.BAD_JSON, None),
    ("a duplicate type", '{"type":"ping","type":"message"}', ErrorCode.BAD_JSON, None),
    ("a duplicate id", '{"type":"message","id":"m1","id":"m2","text":"x"}', ErrorCode.BAD_JSON, None),
    (
        "a raw control character in a string",
        '{"type":"message","id":"m1","text":"a\x07b"}',
        ErrorCode.BAD_JSON,
        None,
    ),
    (
        "an escape sequence in text",
        '{"type":"message","id":"m1","text":"\\u001b[2Jhi"}',
        ErrorCode.INVALID_VALUE,
        "m1",
    ),
    (
        "a C1 control in text",
        '{"type":"message","id":"m1","text":"hi\\u0085"}',
        ErrorCode.INVALID_VALUE,
        "m1",
    ),
    (
        "a control character in a comment",
        '{"type":"feedback","message_id":"m1","rating":-1,"comment":"\\u0008\\u0008"}',
        ErrorCode.INVALID_VALUE,
        "m1",
    ),
    ("rating true", '{"type":"feedback","message_id":"m1","rating":true}', ErrorCode.WRONG_TYPE, "m1"),
    ("rating 1.0", '{"type":"feedback","message_id":"m1","rating":1.0}', ErrorCode.WRONG_TYPE, "m1"),
    ("a long unknown field", '{"type":"ping","' + "k" * 5000 + '":1}', ErrorCode.INVALID_VALUE, None),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("hostile")
    settings = load_settings(
        data_dir=tmp / "data",
        database_url=sqlite_url(tmp / "chat.db"),
        local_stream_delay_ms=0,
        secret_key=TEST_SECRET,
        port=8000,
        encoder_process=False,
        freeze_heap=False,
        # One client opens a conversation per row: the per-address limits are not what is tested here.
        new_conversations_per_ip_per_minute=1000,
        rate_limit_per_ip_per_minute=10_000,
    )
    with TestClient(create_app(settings, model=ScriptedModel(), recommender=FixedRecommender())) as c:
        yield c


def assert_quiet(caplog: pytest.LogCaptureFixture, frames: int) -> None:
    """At most one log line per bad frame, and no traceback."""
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(records) <= frames, [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info or "\n" in r.getMessage()]


@pytest.mark.parametrize(("raw", "code", "reply_to"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_frame_gets_a_typed_error_and_the_connection_stays_usable(
    client: TestClient, caplog: pytest.LogCaptureFixture, raw: str, code: ErrorCode, reply_to: str | None
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            ws.send_text(raw)
            error = ws.receive_json()
            ws.send_json({"type": "ping"})
            pong = ws.receive_json()
    assert (error["type"], error["code"], error["reply_to"], error["seq"]) == ("error", code, reply_to, None)
    assert len(error["message"]) < 200
    assert pong == {"type": "pong"}
    assert_quiet(caplog, 1)


# ---- the same over a real uvicorn socket, where a frame's bytes are the client's own ----------------------


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(create_app(settings, model=ScriptedModel(), recommender=FixedRecommender())).start()
    try:
        yield server
    finally:
        server.stop()


async def test_hostile_frames_over_one_real_connection_each_get_their_error(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(live.ws, max_size=None) as ws:
        await ws.recv()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            codes = []
            for _, raw, _, _ in HOSTILE:
                await ws.send(raw)
                codes.append(json.loads(await ws.recv())["code"])
            await ws.send('{"type":"ping"}')
            pong = json.loads(await ws.recv())
    assert codes == [code for _, _, code, _ in HOSTILE]
    assert pong == {"type": "pong"}
    assert_quiet(caplog, len(HOSTILE))


INVALID_UTF8 = [
    b'{"type":"ping","x":"\xff"}',
    b'{"type":"ping","x":"\xe2\x82"}',  # a truncated three-byte sequence
    b'{"type":"ping","x":"\xc0\xaf"}',  # an overlong encoding of "/"
    b'{"type":"ping","x":"\xed\xa0\x80"}',  # a surrogate, encoded
]


async def test_a_text_frame_that_is_not_utf8_is_closed_with_1007_and_logged_in_one_line(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    codes = []
    with caplog.at_level(logging.INFO):
        for data in INVALID_UTF8:
            async with connect(live.ws) as ws:
                await ws.recv()
                await ws.send(data, text=True)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None
            codes.append(closed.value.rcvd.code)
    assert codes == [1007] * len(INVALID_UTF8)
    utf8_lines = [r for r in caplog.records if "UTF-8" in r.getMessage()]
    assert len(utf8_lines) == len(INVALID_UTF8)
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in utf8_lines)
    assert not [r for r in caplog.records if r.exc_info]
