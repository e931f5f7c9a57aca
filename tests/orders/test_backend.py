"""The shop's rules, enforced by the stored backend on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from app.orders.backend import Address, Changed, Refused, StoredShopBackend, to_record
from app.store.orders import OrderStore
from tests.orders.conftest import HOME, order

NEW_HOME = Address("Ann Example", "7 Mill Road", "York", "YO1 7AB", "United Kingdom", line2="Flat 2")


async def test_pending_order_is_cancelled_with_its_reason(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "pending"))])
    outcome = await backend.cancel_pending_order("o1", "ordered by mistake")
    assert isinstance(outcome, Changed)
    assert outcome.order.status == "cancelled"
    stored = await orders.get("o1")
    assert stored is not None
    assert (stored.status, stored.cancel_reason) == ("cancelled", "ordered by mistake")


async def test_only_pending_orders_can_be_cancelled(orders: OrderStore, backend: StoredShopBackend) -> None:
    for status in ("processing", "shipped", "delivered", "cancelled", "return_requested"):
        await orders.add([to_record(order(f"o-{status}", status))])
        outcome = await backend.cancel_pending_order(f"o-{status}", "changed my mind")
        assert isinstance(outcome, Refused), status
        assert outcome.code == "not_pending"
        stored = await orders.get(f"o-{status}")
        assert stored is not None
        assert stored.status == status


async def test_cancelling_a_missing_order_is_not_found(backend: StoredShopBackend) -> None:
    assert await backend.cancel_pending_order("nope", "x") == Refused("not_found", "No order nope was found.")


async def test_an_order_is_cancelled_once_when_asked_twice_at_once(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "pending"))])
    outcomes = await asyncio.gather(
        backend.cancel_pending_order("o1", "one"), backend.cancel_pending_order("o1", "two")
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Changed", "Refused"]


async def test_pending_order_gets_the_new_address(orders: OrderStore, backend: StoredShopBackend) -> None:
    await orders.add([to_record(order("o1", "pending"))])
    outcome = await backend.modify_pending_order_address("o1", NEW_HOME)
    assert isinstance(outcome, Changed)
    assert outcome.order.address == NEW_HOME
    found = await backend.get_order("o1")
    assert found is not None
    assert found.address == NEW_HOME


async def test_address_of_an_order_past_pending_is_refused(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    for status in ("processing", "shipped", "delivered", "cancelled"):
        await orders.add([to_record(order(f"o-{status}", status))])
        outcome = await backend.modify_pending_order_address(f"o-{status}", NEW_HOME)
        assert isinstance(outcome, Refused), status
        assert outcome.code == "not_pending"
        found = await backend.get_order(f"o-{status}")
        assert found is not None
        assert found.address == HOME


async def test_delivered_items_are_returned_within_the_window(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=29))])
    outcome = await backend.return_delivered_order_items("o1", ["A"], "too small")
    assert isinstance(outcome, Changed)
    assert outcome.order.status == "return_requested"
    assert [(i.item_id, i.returned_quantity) for i in outcome.order.items] == [("A", 2), ("B", 0)]
    stored = await orders.get("o1")
    assert stored is not None
    assert stored.return_reason == "too small"


async def test_the_rest_of_an_order_can_be_returned_later(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "return_requested", delivered_days_ago=3, returned=2))])
    outcome = await backend.return_delivered_order_items("o1", ["B"], "broken")
    assert isinstance(outcome, Changed)
    assert [i.returned_quantity for i in outcome.order.items] == [2, 1]


async def test_items_of_an_undelivered_order_are_not_returned(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    for status in ("pending", "processing", "shipped", "cancelled"):
        await orders.add([to_record(order(f"o-{status}", status))])
        outcome = await backend.return_delivered_order_items(f"o-{status}", ["A"], "x")
        assert isinstance(outcome, Refused), status
        assert outcome.code == "not_delivered"


async def test_return_after_the_window_is_refused(orders: OrderStore, backend: StoredShopBackend) -> None:
    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=31))])
    outcome = await backend.return_delivered_order_items("o1", ["A"], "x")
    assert isinstance(outcome, Refused)
    assert outcome.code == "outside_return_window"
    assert "30 days after delivery" in outcome.message
    stored = await orders.get("o1")
    assert stored is not None
    assert stored.status == "delivered"


async def test_return_window_comes_from_the_backend_setting(orders: OrderStore) -> None:
    from tests.orders.conftest import NOW

    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=10))])
    strict = StoredShopBackend(orders, return_window_days=7, clock=lambda: NOW)
    outcome = await strict.return_delivered_order_items("o1", ["A"], "x")
    assert isinstance(outcome, Refused)
    assert outcome.code == "outside_return_window"


async def test_items_of_another_order_are_refused(orders: OrderStore, backend: StoredShopBackend) -> None:
    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=1))])
    outcome = await backend.return_delivered_order_items("o1", ["A", "Z"], "x")
    assert isinstance(outcome, Refused)
    assert outcome.code == "unknown_items"
    assert "no item Z" in outcome.message
    stored = await orders.get("o1")
    assert stored is not None
    assert [i.returned_quantity for i in stored.items] == [0, 0]


async def test_an_item_is_not_returned_twice(orders: OrderStore, backend: StoredShopBackend) -> None:
    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=1))])
    assert isinstance(await backend.return_delivered_order_items("o1", ["A"], "x"), Changed)
    again = await backend.return_delivered_order_items("o1", ["A", "B"], "x")
    assert isinstance(again, Refused)
    assert again.code == "already_returned"
    stored = await orders.get("o1")
    assert stored is not None
    assert [i.returned_quantity for i in stored.items] == [2, 0]


async def test_concurrent_returns_of_one_item_return_it_once(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "delivered", delivered_days_ago=1))])
    outcomes = await asyncio.gather(
        backend.return_delivered_order_items("o1", ["A"], "x"),
        backend.return_delivered_order_items("o1", ["A"], "y"),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Changed", "Refused"]


async def test_verify_by_email_or_postcode_ignores_case_and_spaces(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "shipped"))])
    for proof in ("ann@example.com", "  ANN@EXAMPLE.COM ", "sw1a1aa", " Sw1A  1aA "):
        assert await backend.verify("o1", proof) == "c1", proof


async def test_verify_refuses_wrong_proofs_and_missing_orders(
    orders: OrderStore, backend: StoredShopBackend
) -> None:
    await orders.add([to_record(order("o1", "shipped"))])
    for order_id, proof in (("o1", "bob@example.com"), ("o1", "SW1A 1AB"), ("o1", " "), ("o2", "SW1A 1AA")):
        assert await backend.verify(order_id, proof) is None, (order_id, proof)


async def test_orders_survive_reopening_the_store(database_url: str) -> None:
    from app.store.store import Store
    from tests.orders.conftest import NOW

    first = Store.from_url(database_url)
    try:
        await OrderStore(first).add([to_record(order("o1", "pending"))])
        backend = StoredShopBackend(OrderStore(first), clock=lambda: NOW)
        assert isinstance(await backend.cancel_pending_order("o1", "x"), Changed)
    finally:
        await first.close()
    second = Store.from_url(database_url)
    try:
        found = await StoredShopBackend(OrderStore(second), clock=lambda: NOW).get_order("o1")
    finally:
        await second.close()
    assert found is not None
    assert found.status == "cancelled"


async def test_orders_come_back_exactly_as_stored(orders: OrderStore, backend: StoredShopBackend) -> None:
    original = order("o1", "delivered", delivered_days_ago=2)
    await orders.add([to_record(original)])
    assert await backend.get_order("o1") == original
    assert await backend.find_customer_orders("c1") == [original]
    assert await backend.find_customer_orders("c2") == []
