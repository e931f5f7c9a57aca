"""The shop's tools as the model sees them: which are offered, and whose orders a call may read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.conversation.eventlog import EventLog
from app.conversation.hub import Hub
from app.conversation.shoptools import MAX_VERIFY_FAILURES, ShopToolbox
from app.llm.model import ToolCall
from app.orders.backend import Order
from app.orders.demo import demo_backend
from app.orders.tools import ORDER_TOOLS, WRITE_TOOLS, ShopTools
from app.settings import Settings
from app.shop.catalog import load_shop
from app.store.actions import ActionRecord, ActionStore
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
        ShopTools(demo_backend(store, shop), shop, FixedRecommender(), OrderStore(store)),
        orders=orders,
        actions=ActionStore(store),
    )


def hub(customer_id: str | None, conversation_id: str = "c" * 32) -> Hub:
    log = EventLog(None, RecordingBroadcaster(), lanes=1)  # type: ignore[arg-type]  # nothing is written here
    return Hub(
        conversation_id=conversation_id,
        customer_id=customer_id,
        journal=log.journal(conversation_id, 0),
        persisted=False,
    )


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(call_id="1", name=name, arguments=orjson.dumps(arguments).decode())


async def an_order(store: Store, customer_id: str, status: str) -> Order:
    orders = await demo_backend(store, load_shop()).find_customer_orders(customer_id)
    return next(o for o in orders if o.status == status)


async def test_every_tool_is_offered_with_verification_first(store: Store) -> None:
    offered = [spec.name for spec in toolbox(store).specs(hub("12347"))]
    assert offered[0] == "verify_customer"
    assert set(WRITE_TOOLS) | {"find_customer_orders", "get_order_details", "search_products"} <= set(offered)


async def test_a_change_is_proposed_and_nothing_changes(store: Store) -> None:
    pending = await an_order(store, "12347", "pending")
    outcome = await toolbox(store).run(
        hub("12347"), call("cancel_pending_order", order_id=pending.order_id, reason="changed my mind")
    )
    assert outcome.ok
    assert outcome.proposal is not None
    assert outcome.proposal.customer_id == "12347"
    assert outcome.proposal.summary.startswith(f"Cancel order {pending.order_id}")
    assert (await an_order(store, "12347", "pending")).order_id == pending.order_id


async def test_a_change_the_rules_refuse_is_not_proposed(store: Store) -> None:
    delivered = await an_order(store, "12347", "delivered")
    outcome = await toolbox(store).run(
        hub("12347"), call("cancel_pending_order", order_id=delivered.order_id, reason="x")
    )
    assert not outcome.ok
    assert outcome.proposal is None
    assert orjson.loads(outcome.content)["error"] == "not_pending"


async def test_someone_elses_order_is_not_found_and_not_proposed(store: Store) -> None:
    theirs = await an_order(store, "12348", "pending") if await _has(store, "12348", "pending") else None
    order_id = theirs.order_id if theirs is not None else "1234801"
    outcome = await toolbox(store).run(
        hub("12347"), call("cancel_pending_order", order_id=order_id, reason="x")
    )
    assert not outcome.ok
    assert outcome.proposal is None
    assert orjson.loads(outcome.content)["error"] == "not_found"


async def _has(store: Store, customer_id: str, status: str) -> bool:
    orders = await demo_backend(store, load_shop()).find_customer_orders(customer_id)
    return any(o.status == status for o in orders)


async def test_an_unverified_guest_is_asked_to_verify_before_a_change(store: Store) -> None:
    outcome = await toolbox(store).run(
        hub(None), call("cancel_pending_order", order_id="1234701", reason="x")
    )
    assert outcome.proposal is None
    assert orjson.loads(outcome.content)["error"] == "verification_required"


async def test_the_order_email_verifies_a_guest_and_opens_their_orders(store: Store) -> None:
    order = await an_order(store, "12347", "delivered")
    box, guest = toolbox(store), hub(None)
    verified = await box.run(
        guest, call("verify_customer", order_id=order.order_id, email_or_postcode=order.email.upper())
    )
    assert verified.ok
    assert await box.customer(guest) == "12347"
    listed = await box.run(guest, call("find_customer_orders"))
    assert order.order_id in listed.content


async def test_the_delivery_postcode_verifies_too(store: Store) -> None:
    order = (await demo_backend(store, load_shop()).find_customer_orders("12347"))[-1]
    box, guest = toolbox(store), hub(None)
    postcode = order.address.postcode.lower().replace(" ", "")
    outcome = await box.run(
        guest, call("verify_customer", order_id=order.order_id, email_or_postcode=postcode)
    )
    assert outcome.ok


async def test_a_wrong_proof_is_refused_and_the_fifth_locks_verification(store: Store) -> None:
    order = await an_order(store, "12347", "delivered")
    box, guest = toolbox(store), hub(None)
    refusals = [
        orjson.loads(
            (
                await box.run(
                    guest, call("verify_customer", order_id=order.order_id, email_or_postcode="x@example.com")
                )
            ).content
        )
        for _ in range(MAX_VERIFY_FAILURES)
    ]
    assert [r["error"] for r in refusals] == ["not_verified"] * (MAX_VERIFY_FAILURES - 1) + [
        "too_many_attempts"
    ]
    right = await box.run(
        guest, call("verify_customer", order_id=order.order_id, email_or_postcode=order.email)
    )
    assert orjson.loads(right.content)["error"] == "too_many_attempts"
    assert await box.customer(guest) is None


async def test_a_signed_customer_cannot_become_someone_else_by_proof(store: Store) -> None:
    other = (await demo_backend(store, load_shop()).find_customer_orders("12348"))[0]
    box, signed = toolbox(store), hub("12347")
    outcome = await box.run(
        signed, call("verify_customer", order_id=other.order_id, email_or_postcode=other.email)
    )
    assert not outcome.ok
    assert await box.customer(signed) == "12347"


async def test_an_approved_change_is_made_for_the_customer_it_was_proposed_for(store: Store) -> None:
    pending = await an_order(store, "12347", "pending")
    box = toolbox(store)
    action = _action(pending.order_id, "12347")
    outcome = await box.confirmed(hub("12347"), action)
    assert outcome.ok
    assert await _status(store, pending.order_id) == "cancelled"


async def test_an_approved_change_is_refused_when_the_customer_differs(store: Store) -> None:
    pending = await an_order(store, "12347", "pending")
    outcome = await toolbox(store).confirmed(hub("12348"), _action(pending.order_id, "12347"))
    assert not outcome.ok
    assert await _status(store, pending.order_id) == "pending"


def _action(order_id: str, customer_id: str) -> ActionRecord:
    now = datetime.now(UTC)
    return ActionRecord(
        action_id="a1",
        conversation_id="c" * 32,
        message_id="m1",
        call_id="1",
        tool="cancel_pending_order",
        arguments={"order_id": order_id, "reason": "changed my mind"},
        summary="Cancel",
        customer_id=customer_id,
        status="approved",
        created_at=now,
        expires_at=now + timedelta(minutes=5),
    )


async def _status(store: Store, order_id: str) -> str:
    order = await demo_backend(store, load_shop()).get_order(order_id)
    assert order is not None
    return order.status


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
