"""The ``recommend`` route end to end with the shipped collaborative-filtering recommender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.shop.catalog import load_shop
from app.web.application import create_app
from tests.wsutil import Frame, receive_until, send_message


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # Demo mode: these tests name customers without signatures.
    with TestClient(create_app(settings.model_copy(update={"demo_mode": True}))) as c:
        yield c


def ask(client: TestClient, text: str, customer_id: str | None = None) -> list[Frame]:
    query = f"?customer_id={customer_id}" if customer_id else ""
    with client.websocket_connect(f"/ws/chat{query}") as ws:
        ws.receive_json()
        send_message(ws, "m1", text)
        return receive_until(ws, "done")


def cards(frames: list[Frame]) -> list[Frame]:
    return next(f for f in frames if f["type"] == "recommendations")["items"]  # type: ignore[no-any-return]


def test_known_customer_gets_unbought_items_with_reasons(client: TestClient) -> None:
    frames = ask(client, "recommend me something", "12347")
    items = cards(frames)
    bought = {p.product_id for p in load_shop().customer_purchases("12347")}
    assert items
    assert not {i["product_id"] for i in items} & bought
    assert all(i["reason"] for i in items)
    assert frames[-1]["route"] == "recommend"
    assert items[0]["name"] in frames[-1]["text"]


def test_price_cap_in_the_message_is_honoured(client: TestClient) -> None:
    items = cards(ask(client, "recommend a gift under £5", "12347"))
    assert items
    assert all(i["price"] <= 5 for i in items)


def test_anonymous_visitor_gets_suggestions_too(client: TestClient) -> None:
    items = cards(ask(client, "what should I buy?"))
    assert len(items) >= 3


def test_a_question_about_one_item_gets_words_and_done_names_its_intent(client: TestClient) -> None:
    frames = ask(client, "what brand are they?")
    assert not [f for f in frames if f["type"] == "recommendations"]
    assert (frames[-1]["route"], frames[-1]["intent"]) == ("chat", "product_question")


def test_done_of_a_recommend_answer_names_the_recommend_intent(client: TestClient) -> None:
    assert ask(client, "suggest a gift for my mum")[-1]["intent"] == "recommend"
