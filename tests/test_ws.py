"""The websocket protocol through FastAPI's TestClient, with a scripted model."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect

from app.errors import ConfigError, ErrorCode, ModelError
from app.settings import Settings
from app.shop.recommender import Recommendation
from app.web.application import create_app
from app.web.auth import sign_customer
from tests.fakes import FixedRecommender, ScriptedModel
from tests.wsutil import Frame, answer_text, receive_until, send_message

ITEMS = [Recommendation("22423", "Regency Cakestand 3 Tier", 12.75, "GBP", "Bought by people like you", 0.9)]


def make_client(settings: Settings, model: ScriptedModel, **overrides: object) -> TestClient:
    return TestClient(
        create_app(
            settings.model_copy(update=overrides), model=model, recommender=FixedRecommender(items=ITEMS)
        )
    )


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(chunks=("Hello", " there", "!"), usage=(40, 3))


@pytest.fixture
def client(settings: Settings, model: ScriptedModel) -> Iterator[TestClient]:
    # Demo mode: these tests name customers without signatures.
    with make_client(settings, model, demo_mode=True) as c:
        yield c


def test_ready_comes_first_with_a_verifiable_token(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        ready = ws.receive_json()
    assert ready["type"] == "ready"
    assert ready["customer_id"] == "12347"
    assert ready["resumed"] is False
    assert ready["max_message_chars"] == 2000
    assert client.app.state.signer.verify(ready["conversation_id"], ready["token"])  # type: ignore[attr-defined]


def test_message_is_accepted_streamed_and_done(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        send_message(ws, "m1", "hi")
        frames = receive_until(ws, "done")
    assert [f["type"] for f in frames] == ["accepted", "delta", "delta", "delta", "done"]
    assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5]
    done = frames[-1]
    assert (done["text"], done["route"], done["stopped"]) == ("Hello there!", "chat", False)
    assert done["usage"] == {"prompt_tokens": 40, "completion_tokens": 3}


def test_recommend_route_sends_cards_before_done(client: TestClient, model: ScriptedModel) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        ws.receive_json()
        send_message(ws, "m1", "recommend me something")
        frames = receive_until(ws, "done")
    types = [f["type"] for f in frames]
    assert types.index("recommendations") < types.index("done")
    cards = next(f for f in frames if f["type"] == "recommendations")["items"]
    assert cards[0]["name"] == "Regency Cakestand 3 Tier"
    assert frames[-1]["route"] == "recommend"
    assert "Regency Cakestand 3 Tier" in model.requests[-1].messages[0]["content"]


def test_prompt_has_system_context_history_and_latest(client: TestClient, model: ScriptedModel) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        ws.receive_json()
        send_message(ws, "m1", "first question")
        receive_until(ws, "done")
        send_message(ws, "m2", "second question")
        receive_until(ws, "done")
    messages = model.requests[-1].messages
    assert messages[0]["role"] == "system"
    assert "customer 12347" in messages[1]["content"]
    assert [m["content"] for m in messages[2:]] == ["first question", "Hello there!", "second question"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{oops", ErrorCode.BAD_JSON),
        ('{"type":"dance"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type":"message","id":"m1"}', ErrorCode.MISSING_FIELD),
        ('{"type":"message","id":"m1","text":["x"]}', ErrorCode.WRONG_TYPE),
        ('{"type":"feedback","message_id":"m1","rating":5}', ErrorCode.INVALID_VALUE),
        ('{"type":"message","id":"m1","text":"   "}', ErrorCode.INVALID_VALUE),
        ('{"type":"message","id":"m1","text":"nul \\u0000 here"}', ErrorCode.INVALID_VALUE),
        ('{"type":"message","id":"m1","text":"half \\ud800 pair"}', ErrorCode.INVALID_VALUE),
        ('{"type":"cancel","message_id":"nothing"}', ErrorCode.NOT_FOUND),
        ('{"type":"feedback","message_id":"nothing","rating":1}', ErrorCode.NOT_FOUND),
    ],
)
def test_bad_frame_gets_error_and_connection_stays_usable(
    client: TestClient, raw: str, code: ErrorCode
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        ws.send_text(raw)
        error = ws.receive_json()
        ws.send_json({"type": "ping"})
        pong = ws.receive_json()
    assert (error["type"], error["code"]) == ("error", code)
    assert error["seq"] is None
    assert pong["type"] == "pong"


def test_binary_frame_is_refused_with_a_typed_error(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == ErrorCode.BINARY_FRAME
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_oversize_frame_is_refused_with_a_typed_error(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        ws.send_text('{"type":"message","id":"m1","text":"' + "x" * 70_000 + '"}')
        assert ws.receive_json()["code"] == ErrorCode.FRAME_TOO_LARGE


def test_too_long_message_is_refused_and_not_stored(settings: Settings, model: ScriptedModel) -> None:
    with (
        make_client(settings, model, max_message_chars=10) as client,
        client.websocket_connect("/ws/chat") as ws,
    ):
        ws.receive_json()
        send_message(ws, "m1", "x" * 11)
        error = ws.receive_json()
        send_message(ws, "m2", "short")
        accepted = ws.receive_json()
    assert (error["code"], error["reply_to"]) == (ErrorCode.MESSAGE_TOO_LONG, "m1")
    assert (accepted["type"], accepted["seq"]) == ("accepted", 1)


def test_message_over_token_budget_is_refused(settings: Settings, model: ScriptedModel) -> None:
    with (
        make_client(
            settings, model, llm_context_tokens=1200, llm_max_output_tokens=100, max_message_chars=10_000
        ) as client,
        client.websocket_connect("/ws/chat") as ws,
    ):
        ws.receive_json()
        send_message(ws, "m1", "word " * 1000)
        error = ws.receive_json()
    assert error["code"] == ErrorCode.MESSAGE_TOO_MANY_TOKENS


def test_flood_of_messages_is_rate_limited(settings: Settings, model: ScriptedModel) -> None:
    with (
        make_client(settings, model, rate_limit_per_minute=3) as client,
        client.websocket_connect("/ws/chat") as ws,
    ):
        ws.receive_json()
        codes = []
        for i in range(5):
            send_message(ws, f"m{i}", "hi")
        for frame in receive_until(ws, "error"):
            codes.append(frame.get("code"))
    assert ErrorCode.RATE_LIMITED in codes


def test_model_failure_ends_the_answer_with_a_stored_error(settings: Settings) -> None:
    failing = ScriptedModel(
        chunks=("Par", "tial", "never"),
        fail_after=2,
        error=ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE),
    )
    with make_client(settings, failing) as client, client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        frames = receive_until(ws, "error")
        conversation = client.get(
            f"/api/conversations/{ready['conversation_id']}",
            headers={"Authorization": f"Bearer {ready['token']}"},
        ).json()
    error = frames[-1]
    assert (error["code"], error["reply_to"], error["seq"]) == (ErrorCode.MODEL_UNAVAILABLE, "m1", 4)
    answer = conversation["messages"][1]
    assert (answer["status"], answer["text"], answer["error_code"]) == (
        "failed",
        "Partial",
        "model_unavailable",
    )


def test_resent_message_id_is_answered_once(client: TestClient, model: ScriptedModel) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        send_message(ws, "m1", "hi")
        first = receive_until(ws, "done")
        send_message(ws, "m1", "hi")
        again = ws.receive_json()
        ws.send_json({"type": "ping"})
        after = ws.receive_json()
    assert again == first[0]
    assert after["type"] == "pong"
    assert len(model.requests) == 1


def connect_resume(client: TestClient, ready: Frame, last_seq: int | None) -> str:
    url = f"/ws/chat?conversation_id={ready['conversation_id']}&token={ready['token']}"
    return url if last_seq is None else f"{url}&last_seq={last_seq}"


def test_resume_with_last_seq_replays_every_later_event(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        original = receive_until(ws, "done")
    with client.websocket_connect(connect_resume(client, ready, 2)) as ws:
        again = ws.receive_json()
        replay = [ws.receive_json() for _ in range(3)]
    assert again["resumed"] is True
    assert again["last_seq"] == 5
    assert replay == original[2:]


def test_resume_without_last_seq_replays_nothing(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        receive_until(ws, "done")
    with client.websocket_connect(connect_resume(client, ready, None)) as ws:
        ws.receive_json()
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_wrong_token_is_refused_with_4401(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
    forged = {**ready, "token": "A" * 43}
    with client.websocket_connect(connect_resume(client, forged, 0)) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["code"] == ErrorCode.UNAUTHORIZED
    assert closed.value.code == 4401


def test_token_of_another_conversation_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        mine = ws.receive_json()
    with client.websocket_connect("/ws/chat") as ws:
        theirs = ws.receive_json()
    with client.websocket_connect(connect_resume(client, {**theirs, "token": mine["token"]}, 0)) as ws:
        assert ws.receive_json()["code"] == ErrorCode.UNAUTHORIZED


def test_foreign_origin_is_refused_before_the_handshake(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws/chat", headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.code == 1008


def test_own_origin_is_allowed(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat", headers={"Origin": "http://localhost:8000"}) as ws:
        assert ws.receive_json()["type"] == "ready"


def test_configured_origin_is_allowed(settings: Settings, model: ScriptedModel) -> None:
    with (
        make_client(settings, model, allowed_origins=["https://shop.example"]) as client,
        client.websocket_connect("/ws/chat", headers={"Origin": "https://shop.example"}) as ws,
    ):
        assert ws.receive_json()["type"] == "ready"


@pytest.mark.parametrize("query", ["customer_id=bad%20id", "last_seq=-1", "last_seq=abc"])
def test_bad_query_parameters_are_refused_with_4400(client: TestClient, query: str) -> None:
    with client.websocket_connect(f"/ws/chat?{query}") as ws:
        assert ws.receive_json()["code"] == ErrorCode.INVALID_VALUE
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4400


def test_cancel_stops_the_answer_with_partial_text(settings: Settings) -> None:
    slow = ScriptedModel(chunks=tuple(f"w{i} " for i in range(200)), delay_s=0.01)
    with make_client(settings, slow) as client, client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        send_message(ws, "m1", "hi")
        receive_until(ws, "delta")
        ws.send_json({"type": "cancel", "message_id": "m1"})
        frames = receive_until(ws, "done")
        send_message(ws, "m2", "next")
        next_frames = receive_until(ws, "accepted")
    done = frames[-1]
    assert done["stopped"] is True
    assert 0 < len(done["text"]) < len("".join(slow.chunks))
    assert next_frames[-1]["message_id"] == "m2"


def test_feedback_is_stored_with_the_answer(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        receive_until(ws, "done")
        ws.send_json({"type": "feedback", "message_id": "m1", "rating": -1, "comment": "too short"})
        saved = ws.receive_json()
    conversation = client.get(f"/api/conversations/{ready['conversation_id']}?token={ready['token']}").json()
    assert saved == {"type": "feedback_saved", "message_id": "m1", "rating": -1}
    assert (
        conversation["messages"][1]["feedback_rating"],
        conversation["messages"][1]["feedback_comment"],
    ) == (
        -1,
        "too short",
    )


def test_dropped_client_loses_nothing_on_reconnect(settings: Settings) -> None:
    slow = ScriptedModel(chunks=tuple(f"w{i} " for i in range(30)), delay_s=0.01)
    with make_client(settings, slow) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ready = ws.receive_json()
            send_message(ws, "m1", "hi")
            seen = receive_until(ws, "delta")
        with client.websocket_connect(connect_resume(client, ready, seen[-1]["seq"])) as ws:
            ws.receive_json()
            rest = receive_until(ws, "done")
    frames = seen + rest
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(1, len(frames) + 1))
    assert answer_text(frames, "m1") == "".join(slow.chunks) == frames[-1]["text"]


def test_abandoned_answer_is_stopped_and_stored(settings: Settings) -> None:
    slow = ScriptedModel(chunks=tuple(f"w{i} " for i in range(500)), delay_s=0.01)
    with make_client(settings, slow, abandon_after_s=0.2) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ready = ws.receive_json()
            send_message(ws, "m1", "hi")
            receive_until(ws, "delta")
        url = f"/api/conversations/{ready['conversation_id']}?token={ready['token']}"
        deadline = time.monotonic() + 10
        answer = client.get(url).json()["messages"][1]
        # Poll rather than sleep a fixed time: a loaded CI machine may take longer to stop the answer.
        while answer["status"] == "streaming" and time.monotonic() < deadline:
            time.sleep(0.1)
            answer = client.get(url).json()["messages"][1]
    assert answer["status"] == "stopped"
    assert 0 < len(answer["text"]) < len("".join(slow.chunks))


def test_answer_interrupted_by_restart_is_regenerated_after_a_reset(settings: Settings) -> None:
    slow = ScriptedModel(chunks=tuple(f"w{i} " for i in range(300)), delay_s=0.01)
    with make_client(settings, slow) as client, client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        seen = receive_until(ws, "delta")
    # The first server is gone (shutdown mid-answer); a new one on the same database resumes the answer.
    fast = ScriptedModel(chunks=("Complete", " answer"))
    with (
        make_client(settings, fast) as client,
        client.websocket_connect(connect_resume(client, ready, seen[-1]["seq"])) as ws,
    ):
        ws.receive_json()
        frames = receive_until(ws, "done")
    types = [f["type"] for f in frames]
    assert "reset" in types
    after_reset = frames[types.index("reset") :]
    assert answer_text(after_reset, "m1") == "Complete answer" == frames[-1]["text"]


def test_context_too_small_for_the_system_prompt_fails_at_start_up(
    settings: Settings, model: ScriptedModel
) -> None:
    with (
        pytest.raises(ConfigError, match="SHOPCHAT_LLM_CONTEXT_TOKENS"),
        make_client(settings, model, llm_context_tokens=300, llm_max_output_tokens=100),
    ):
        pass


def test_conversation_round_trip_on_postgresql(
    settings: Settings, model: ScriptedModel, postgres_url: str
) -> None:
    with (
        make_client(settings, model, database_url=postgres_url) as client,
        client.websocket_connect("/ws/chat") as ws,
    ):
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        frames = receive_until(ws, "done")
        conversation = client.get(
            f"/api/conversations/{ready['conversation_id']}?token={ready['token']}"
        ).json()
    assert frames[-1]["text"] == "Hello there!"
    assert [m["text"] for m in conversation["messages"]] == ["hi", "Hello there!"]


def test_signed_customer_ids_are_required_when_a_key_is_set(settings: Settings, model: ScriptedModel) -> None:
    key = "shop-backend-signing-key"
    with make_client(settings, model, customer_signing_key=SecretStr(key)) as client:
        with client.websocket_connect("/ws/chat?customer_id=12347&customer_sig=deadbeef") as ws:
            refused = ws.receive_json()
        with client.websocket_connect(
            f"/ws/chat?customer_id=12347&customer_sig={sign_customer(key.encode(), '12347')}"
        ) as ws:
            accepted = ws.receive_json()
    assert refused["code"] == ErrorCode.UNAUTHORIZED
    assert (accepted["type"], accepted["customer_id"]) == ("ready", "12347")


def test_cancelling_a_queued_message_stops_it_before_it_starts(settings: Settings) -> None:
    slow = ScriptedModel(chunks=tuple(f"w{i} " for i in range(20)), delay_s=0.01)
    with make_client(settings, slow) as client, client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        send_message(ws, "m1", "first")
        send_message(ws, "m2", "second")
        ws.send_json({"type": "cancel", "message_id": "m2"})
        frames = receive_until(ws, "done")
        frames += receive_until(ws, "done")
    dones = {f["message_id"]: f for f in frames if f["type"] == "done"}
    assert dones["m1"]["stopped"] is False
    assert (dones["m2"]["stopped"], dones["m2"]["text"]) == (True, "")
    assert len(slow.requests) == 1
