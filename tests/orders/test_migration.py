"""Revision 0003 adds the order and handoff tables to a database at 0002, keeping its conversations."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from app.orders.backend import Changed, to_record
from app.orders.demo import demo_backend
from app.store.migrate import current, upgrade
from app.store.orders import OrderStore
from app.store.store import Store
from tests.orders.conftest import NOW, order, small_shop
from tests.store.test_migrations import CONV, alembic, empty_url, old_url, on_connection

__all__ = ["empty_url", "old_url"]  # fixtures, imported to be used here


async def test_a_database_at_0002_upgrades_to_0003_and_keeps_its_events(old_url: str) -> None:
    # As the previous release left it: 0.1's tables adopted as 0001, then upgraded to 0002.
    await on_connection(old_url, alembic(lambda config: command.stamp(config, "0001")))
    await on_connection(old_url, alembic(lambda config: command.upgrade(config, "0002")))
    assert await current(old_url) == "0002"
    assert await upgrade(old_url) == ["0003", "0004", "0005", "0006"]
    tables = await on_connection(old_url, lambda conn: set(inspect(conn).get_table_names()))
    assert {"orders", "order_items", "handoffs", "events"} <= tables
    store = Store.from_url(old_url)
    try:
        assert len(await store.payloads_after(CONV, 0)) == 8
        orders = OrderStore(store)
        await orders.add([to_record(order("o1", "pending"))])
        assert await orders.get("o1") is not None
        found = await demo_backend(store, small_shop(), clock=lambda: NOW).find_customer_orders("12347")
        assert len(found) == 2
    finally:
        await store.close()


async def test_downgrade_to_0002_drops_only_the_order_tables(old_url: str) -> None:
    await upgrade(old_url)
    await on_connection(old_url, alembic(lambda config: command.downgrade(config, "0002")))
    tables = await on_connection(old_url, lambda conn: set(inspect(conn).get_table_names()))
    assert tables == {"conversations", "messages", "events", "alembic_version"}
    count = await on_connection(
        old_url, lambda conn: conn.execute(text("SELECT count(*) FROM events")).scalar()
    )
    assert count == 8


async def test_a_cancellation_is_kept_across_an_upgrade_run_again(empty_url: str) -> None:
    await upgrade(empty_url)
    store = Store.from_url(empty_url)
    try:
        await OrderStore(store).add([to_record(order("o1", "pending"))])
        backend = demo_backend(store, small_shop(), clock=lambda: NOW)
        assert isinstance(await backend.cancel_pending_order("o1", "x"), Changed)
    finally:
        await store.close()
    assert await upgrade(empty_url) == []
    store = Store.from_url(empty_url)
    try:
        stored = await OrderStore(store).get("o1")
    finally:
        await store.close()
    assert stored is not None
    assert stored.status == "cancelled"
