"""The operators' websocket and queue against the running app: sign-in, the round trip with a customer
(ask → queue → take → say → hand back), replay, tickets, origin and rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from app.settings import Settings
from app.shop.embedding import Encoder
from app.store.password import ScryptCost, hash_password
from app.web.application import create_app
from tests.fakes import ScriptedModel
from tests.wsutil import Frame, receive_until, send_message

CHEAP = ScryptCost(log_n=4, r=1, p=1)


@pytest.fixture
def client(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    with TestClient(create_app(settings, model=ScriptedModel(), encoder=encoder)) as client:
        operators = client.app.state.operator_auth.operators  # type: ignore[attr-defined]
        client.portal.call(operators.add, "anna", hash_password("anna-password", CHEAP))  # type: ignore[union-attr]
        yield client


def sign_in(client: TestClient) -> dict[str, str]:
    """Anna's bearer header."""
    answer = client.post(
        "/api/operator/login", json={"name": "anna", "password": "anna-password", "bearer": True}
    )
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def operator(client: TestClient, headers: dict[str, str]) -> WebSocketTestSession:
    return client.websocket_connect("/ws/operator", headers=headers)


def until(ws: WebSocketTestSession, check: Any, limit: int = 200) -> Frame:
    """The first frame for which ``check(frame)`` holds."""
    for _ in range(limit):
        frame: Frame = ws.receive_json()
        if check(frame):
            return frame
    raise AssertionError("no such frame")


def test_the_operator_socket_is_refused_without_a_session(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, operator(client, {}):
        pass
    assert refused.value.code == 4401
    with pytest.raises(WebSocketDisconnect) as wrong, operator(client, {"Authorization": "Bearer nonsense"}):
        pass
    assert wrong.value.code == 4401


def test_the_queue_needs_a_session(client: TestClient) -> None:
    assert client.get("/api/operator/queue").status_code == 401
    answer = client.get("/api/operator/queue", headers=sign_in(client))
    assert answer.status_code == 200
    assert answer.json() == {"type": "queue", "items": []}


def test_a_foreign_origin_is_refused(client: TestClient) -> None:
    headers = {**sign_in(client), "Origin": "https://evil.example"}
    with pytest.raises(WebSocketDisconnect) as refused, operator(client, headers):
        pass
    assert refused.value.code == 4403


def test_the_round_trip_between_a_customer_and_an_operator(client: TestClient) -> None:
    with operator(client, sign_in(client)) as op:
        assert op.receive_json()["type"] == "hello"
        assert op.receive_json() == {"type": "queue", "items": []}
        with client.websocket_connect("/ws/chat") as customer:
            ready = customer.receive_json()
            conversation_id = ready["conversation_id"]
            send_message(customer, "m1", "Can I speak to a human, please?")
            frames = receive_until(customer, "done")
            handoff = next(f for f in frames if f["type"] == "handoff")
            assert handoff["status"] == "waiting"
            assert frames[-1]["held"] is True
            assert frames[-1]["text"] == ""

            queued = until(op, lambda f: f["type"] == "queue" and f["items"])
            item = queued["items"][0]
            assert (item["conversation_id"], item["state"], item["source"]) == (
                conversation_id,
                "waiting",
                "customer",
            )
            assert item["reason"] == "Can I speak to a human, please?"
            assert item["waiting_s"] >= 0

            op.send_json({"type": "conversation", "conversation_id": conversation_id})
            info = until(op, lambda f: f["type"] == "conversation")
            assert info["state"] == "waiting"
            replayed = until(op, lambda f: f["type"] == "event" and f["event"]["type"] == "handoff")
            assert replayed["conversation_id"] == conversation_id

            op.send_json({"type": "take", "conversation_id": conversation_id})
            until(op, lambda f: f["type"] == "done_action" and f["action"] == "take")
            joined = until(customer, lambda f: f["type"] == "handoff")
            assert (joined["status"], joined["operator_name"], joined["message"]) == (
                "joined",
                "anna",
                "Anna joined the chat.",
            )

            op.send_json(
                {"type": "say", "conversation_id": conversation_id, "text": "Hi, Anna here <b>!</b>"}
            )
            said = until(customer, lambda f: f["type"] == "agent_message")
            assert (said["text"], said["operator_name"]) == ("Hi, Anna here <b>!</b>", "anna")

            send_message(customer, "m2", "Thanks Anna")
            held = receive_until(customer, "done")[-1]
            assert held["held"] is True
            seen = until(op, lambda f: f["type"] == "event" and f["event"]["type"] == "accepted")
            assert seen["event"]["text"] == "Thanks Anna"

            op.send_json({"type": "release", "conversation_id": conversation_id})
            returned = until(customer, lambda f: f["type"] == "handoff")
            assert returned["status"] == "returned"
            send_message(customer, "m3", "one more thing")
            answered = receive_until(customer, "done")[-1]
            assert answered["held"] is False
            assert answered["text"] == "Hello there!"


def test_a_customer_reconnecting_gets_the_handoff_and_the_operators_messages_again(
    client: TestClient,
) -> None:
    with operator(client, sign_in(client)) as op:
        with client.websocket_connect("/ws/chat") as customer:
            ready = customer.receive_json()
            send_message(customer, "m1", "human please")
            receive_until(customer, "done")
        conversation_id, token = ready["conversation_id"], ready["token"]
        op.send_json({"type": "take", "conversation_id": conversation_id})
        until(op, lambda f: f["type"] == "done_action")
        op.send_json({"type": "say", "conversation_id": conversation_id, "text": "Still there?"})
        until(op, lambda f: f["type"] == "done_action" and f["action"] == "say")
    with client.websocket_connect(
        f"/ws/chat?conversation_id={conversation_id}&token={token}&last_seq=0"
    ) as again:
        again.receive_json()
        frames = [again.receive_json() for _ in range(5)]
    kinds = [(f["type"], f.get("status")) for f in frames]
    assert kinds == [
        ("accepted", None),
        ("handoff", "waiting"),
        ("done", None),
        ("handoff", "joined"),
        ("agent_message", None),
    ]
    assert frames[-1]["text"] == "Still there?"


def test_with_nobody_online_the_customer_leaves_an_email(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer:
        customer.receive_json()
        send_message(customer, "m1", "I want to talk to a person")
        frames = receive_until(customer, "done")
        assert [f["status"] for f in frames if f["type"] == "handoff"] == ["unavailable"]
        assert frames[-1]["held"] is False
        customer.send_json({"type": "ticket", "email": "not-an-email"})
        assert customer.receive_json()["code"] == "invalid_value"
        customer.send_json({"type": "ticket", "email": "ann@example.com"})
        stored = until(customer, lambda f: f["type"] == "handoff")
        assert stored["status"] == "unavailable"
        assert "ann@example.com" in stored["message"]
    queue = client.get("/api/operator/queue", headers=sign_in(client)).json()
    assert [i["ticket_email"] for i in queue["items"]] == ["ann@example.com"]


def test_operators_act_only_on_conversations_they_may(client: TestClient) -> None:
    with operator(client, sign_in(client)) as op:
        op.receive_json()
        op.receive_json()
        op.send_json({"type": "take", "conversation_id": "0" * 32})
        assert op.receive_json()["code"] == "not_found"
        op.send_json({"type": "take", "conversation_id": "not-an-id"})
        assert op.receive_json()["code"] == "invalid_value"
        op.send_json({"type": "shout"})
        assert op.receive_json()["code"] == "unknown_type"


def test_operator_frames_are_rate_limited(client: TestClient) -> None:
    with operator(client, sign_in(client)) as op:
        op.receive_json()
        op.receive_json()
        for _ in range(40):
            op.send_json({"type": "ping"})
        frames = [op.receive_json() for _ in range(40)]
    limited = [f for f in frames if f["type"] == "error"]
    assert limited
    assert limited[0]["code"] == "rate_limited"
    assert limited[0]["retry_after_s"] > 0
    assert sum(f["type"] == "pong" for f in frames) == 30
