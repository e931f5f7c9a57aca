"""The order policy against the real order tools and the demo shop's orders: the results it reads are the
tools' own (customer 12347, whose newest order is pending and whose older ones are delivered)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.llm.actions import Contact, Say, decide
from app.llm.model import ChatRequest, ToolCall, ToolSpec
from app.llm.tokens import ChatMessage
from app.orders.demo import demo_backend
from app.orders.tools import TOOLS, WRITE_TOOLS, ShopTools
from app.shop.catalog import load_shop
from app.store.migrate import upgrade
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.fakes import FixedRecommender

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CONTACT = Contact("help@example.com", "Mon–Fri 9–17")
SPECS = tuple(ToolSpec(t.name, t.description, t.parameters) for t in TOOLS)


class NoHandoffs:
    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        raise AssertionError("no handoff expected")


@pytest.fixture
async def tools(tmp_path: Path) -> AsyncIterator[ShopTools]:
    url = sqlite_url(tmp_path / "orders.db")
    await upgrade(url)
    store = Store.from_url(url)
    shop = load_shop()
    try:
        yield ShopTools(demo_backend(store, shop, clock=lambda: NOW), shop, FixedRecommender(), NoHandoffs())
    finally:
        await store.close()


class Conversation:
    """Customer 12347, verified; a write waits for ``confirm`` as the server makes it wait."""

    def __init__(self, tools: ShopTools) -> None:
        self.tools = tools
        self.history: list[ChatMessage] = []
        self.calls: list[ToolCall] = []
        self.pending: ToolCall | None = None

    async def run(self, call: ToolCall) -> dict[str, Any]:
        result = await self.tools.dispatch(
            call.name, json.loads(call.arguments), customer_id="12347", verified=True
        )
        return result.content

    async def send(self, text: str) -> str:
        tail: list[ChatMessage] = []
        for _ in range(6):
            decision = decide(self._request(text, tail), CONTACT)
            assert decision is not None
            if isinstance(decision, Say):
                self.history += [
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": decision.text},
                ]
                return decision.text
            for call in decision.calls:
                self.calls.append(call)
                if call.name in WRITE_TOOLS:
                    self.pending = call
                    content: dict[str, Any] = {"status": "awaiting_confirmation", "action_id": "a1"}
                else:
                    content = await self.run(call)
                tail += _round(call, content)
        raise AssertionError("no answer")

    async def confirm(self) -> str:
        assert self.pending is not None
        tail = _round(self.pending, await self.run(self.pending))
        decision = decide(self._request("Yes, go ahead.", tail), CONTACT)
        assert isinstance(decision, Say)
        return decision.text

    def _request(self, text: str, tail: list[ChatMessage]) -> ChatRequest:
        messages: list[ChatMessage] = [*self.history, {"role": "user", "content": text}, *tail]
        return ChatRequest(messages=messages, route="chat", query=text, tools=SPECS)


def _round(call: ToolCall, content: dict[str, Any]) -> list[ChatMessage]:
    return [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.call_id, "content": json.dumps(content)},
    ]


async def test_where_is_my_last_order_reads_the_real_order(tools: ShopTools) -> None:
    answer = await Conversation(tools).send("where is my last order?")
    assert answer.startswith("Your order **1234706**, placed on 7 December 2026, is pending")


async def test_cancel_my_last_order_is_made_once_confirmed(tools: ShopTools) -> None:
    chat = Conversation(tools)
    question = await chat.send("Please cancel my last order because I ordered it twice")
    assert "shall I cancel order 1234706?" in question
    assert json.loads(chat.calls[-1].arguments) == {"order_id": "1234706", "reason": "I ordered it twice"}
    assert await chat.confirm() == "Done: order 1234706 is cancelled."


async def test_a_return_outside_the_window_is_refused_with_the_shops_reason(tools: ShopTools) -> None:
    chat = Conversation(tools)
    question = await chat.send("I want to return the milk jug from order 1234704")
    assert "**Regency Milk Jug Pink**" in question
    answer = await chat.confirm()
    assert answer.startswith("I'm sorry, I couldn't request that return: Order 1234704 was delivered on")


async def test_a_new_address_is_made_once_confirmed(tools: ShopTools) -> None:
    chat = Conversation(tools)
    await chat.send("Lieferadresse von 1234706 ändern zu 5 Mill Road, York, YO1 7HH")
    answer = await chat.confirm()
    assert (
        answer
        == "Erledigt: Die Bestellung 1234706 wird jetzt an Customer 12347, 5 Mill Road, York, YO1 7HH, United Kingdom geliefert."
    )
