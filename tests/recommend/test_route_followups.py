"""Follow-up requests through the websocket: the pipeline passes the cards a conversation already showed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from app.settings import Settings
from app.web.application import create_app
from tests.wsutil import Frame, receive_until, send_message


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def cards(ws: WebSocketTestSession, message_id: str, text: str) -> list[Frame]:
    """The product cards of the answer to ``text``."""
    send_message(ws, message_id, text)
    frames: list[Frame] = []
    while not frames or not (frames[-1]["type"] == "done" and frames[-1]["message_id"] == message_id):
        frames.append(ws.receive_json())
    found: list[Frame] = next(
        f for f in frames if f["type"] == "recommendations" and f["message_id"] == message_id
    )["items"]
    return found


def test_cheaper_then_different_in_one_conversation(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        first = cards(ws, "m1", "recommend me something")
        cheaper = cards(ws, "m2", "Can you recommend something cheaper?")
        different = cards(ws, "m3", "something different")
    assert cheaper
    assert max(c["price"] for c in cheaper) < min(c["price"] for c in first)
    seen = [c["product_id"] for c in first + cheaper]
    assert different
    assert not {c["product_id"] for c in different} & set(seen)


def test_after_a_restart_the_conversation_remembers_its_cards(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        first = cards(ws, "m1", "recommend me something")
    resume = f"/ws/chat?conversation_id={ready['conversation_id']}&token={ready['token']}"
    # A new app on the same database: the conversation's cards come back from the stored answers.
    with TestClient(create_app(settings)) as client, client.websocket_connect(resume) as ws:
        receive_until(ws, "ready")
        cheaper = cards(ws, "m2", "Can you recommend something cheaper?")
    assert cheaper
    assert max(c["price"] for c in cheaper) < min(c["price"] for c in first)
