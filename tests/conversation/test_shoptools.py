"""The shop's tools as the model sees them: which are offered, and whose orders a call may read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.conversation.eventlog import EventLog
from app.conversation.hub import Hub
from app.conversation.shoptools import ShopToolbox
from app.llm.model import ToolCall
from app.orders.demo import demo_backend
from app.orders.tools import ORDER_TOOLS, WRITE_TOOLS, ShopTools
from app.settings import Settings
from app.shop.catalog import load_shop
from app.store.migrate import upgrade
from app.store.orders import OrderStore
from app.store.store import Store
from app.web.application import create_app
from tests.conftest import sqlite_url
from tests.fakes import FixedRecommender, RecordingBroadcaster


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.from_url(sqlite_url(tmp_path / "tools.db"))
    await upgrade(store.engine)
    yield store
    await store.close()


def toolbox(store: Store, *, orders: bool = True) -> ShopToolbox:
    shop = load_shop()
    return ShopToolbox(
        ShopTools(demo_backend(store, shop), shop, FixedRecommender(), OrderStore(store)), orders=orders
    )


def hub(customer_id: str | None) -> Hub:
    log = EventLog(None, RecordingBroadcaster(), lanes=1)  # type: ignore[arg-type]  # nothing is written here
    return Hub(
        conversation_id="c" * 32, customer_id=customer_id, journal=log.journal("c" * 32, 0), persisted=False
    )


async def test_no_tool_that_changes_an_order_is_offered(store: Store) -> None:
    offered = {spec.name for spec in toolbox(store).specs(hub("12347"))}
    assert offered.isdisjoint(WRITE_TOOLS)
    assert {"find_customer_orders", "get_order_details", "search_products"} <= offered


async def test_a_shop_without_an_order_backend_offers_no_order_tools(store: Store) -> None:
    offered = {spec.name for spec in toolbox(store, orders=False).specs(hub("12347"))}
    assert offered.isdisjoint(ORDER_TOOLS)
    assert "search_products" in offered


async def test_a_verified_customer_reads_their_own_orders(store: Store) -> None:
    outcome = await toolbox(store).run(
        hub("12347"), ToolCall(call_id="1", name="find_customer_orders", arguments="")
    )
    assert outcome.ok
    orders = orjson.loads(outcome.content)
    assert orders  # the demo history of customer 12347
    assert "12347" in outcome.content


async def test_a_guest_gets_no_orders(store: Store) -> None:
    outcome = await toolbox(store).run(
        hub(None), ToolCall(call_id="1", name="find_customer_orders", arguments="{}")
    )
    assert not outcome.ok
    assert "verification" in outcome.content


def test_the_openai_backend_gets_the_shop_tools(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"llm_backend": "openai", "openai_base_url": "http://127.0.0.1:9/v1"}
    )
    with TestClient(create_app(configured)) as client:
        tools = client.app.state.chat.pipeline.tools  # type: ignore[attr-defined]
    assert isinstance(tools, ShopToolbox)


def test_tools_can_be_turned_off(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"llm_backend": "openai", "openai_base_url": "http://127.0.0.1:9/v1", "llm_tools": False}
    )
    with TestClient(create_app(configured)) as client:
        tools = client.app.state.chat.pipeline.tools  # type: ignore[attr-defined]
    assert tools.specs(hub(None)) == []
