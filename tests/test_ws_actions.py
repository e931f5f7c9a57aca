"""The built-in responder acts on orders through the real server: verification, confirmation, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from app.orders.demo import demo_backend
from app.settings import Settings
from app.web.application import create_app
from tests.wsutil import receive_until, send_message

PENDING = "1234706"  # customer 12347's newest order: pending in the demo history
EMAIL = "customer12347@example.com"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"demo_mode": True}))) as c:
        yield c


def ask(ws: WebSocketTestSession, message_id: str, text: str) -> list[dict[str, Any]]:
    send_message(ws, message_id, text)
    return receive_until(ws, "done", "error")


def status(client: TestClient, order_id: str) -> str:
    app: Any = client.app
    backend = demo_backend(app.state.store, app.state.shop)
    order = client.portal.call(backend.get_order, order_id)  # type: ignore[union-attr]
    assert order is not None
    return str(order.status)


def test_a_guest_is_asked_to_verify_and_then_gets_the_status(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        first = ask(ws, "m1", f"where is my order {PENDING}?")
        assert "email" in first[-1]["text"].lower() or "postcode" in first[-1]["text"].lower()
        assert not any(
            f["type"] == "tool_call" and f["name"] == "get_order_details" and f.get("ok") for f in first
        )
        second = ask(ws, "m2", EMAIL)
        calls = [f["name"] for f in second if f["type"] == "tool_call"]
        assert calls[:1] == ["verify_customer"]
        assert "get_order_details" in calls
        assert "pending" in second[-1]["text"].lower() or PENDING in second[-1]["text"]


def test_a_cancellation_waits_for_the_confirm_button_and_happens_once(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        ws.receive_json()
        frames = ask(ws, "m1", f"please cancel order {PENDING}")
        confirms = [f for f in frames if f["type"] == "confirm"]
        assert len(confirms) == 1
        assert confirms[0]["tool"] == "cancel_pending_order"
        assert status(client, PENDING) == "pending"
        ws.send_json({"type": "confirm", "action_id": confirms[0]["action_id"], "approve": True})
        answer = receive_until(ws, "done", "error")
        assert answer[0]["type"] == "accepted"
        assert answer[0]["message_id"] == f"confirm-{confirms[0]['action_id']}"
        results = [f for f in answer if f["type"] == "tool_result"]
        assert [r["ok"] for r in results] == [True]
        assert status(client, PENDING) == "cancelled"
        ws.send_json({"type": "confirm", "action_id": confirms[0]["action_id"], "approve": True})
        again = ws.receive_json()
    assert again["type"] == "accepted"  # the same message again: acknowledged, not answered or made again
    assert status(client, PENDING) == "cancelled"


def test_a_typed_no_leaves_the_order_as_it_is(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        ws.receive_json()
        frames = ask(ws, "m1", f"cancel order {PENDING}")
        assert any(f["type"] == "confirm" for f in frames)
        declined = ask(ws, "m2", "no")
    assert [f["ok"] for f in declined if f["type"] == "tool_result"] == [False]
    assert status(client, PENDING) == "pending"


def test_someone_elses_order_is_not_found(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat?customer_id=12348") as ws:
        ws.receive_json()
        frames = ask(ws, "m1", f"where is my order {PENDING}?")
    results = [f for f in frames if f["type"] == "tool_result"]
    assert results
    assert not any(r["ok"] for r in results)
    assert EMAIL not in frames[-1]["text"]
    assert status(client, PENDING) == "pending"
