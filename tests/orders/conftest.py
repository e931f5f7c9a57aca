"""A small shop, a clock and a store on SQLite and (when configured) PostgreSQL for the order tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.orders.backend import Address, Order, OrderItem, Shipment, StoredShopBackend
from app.orders.demo import demo_backend
from app.shop.catalog import Product, Purchase, Shop
from app.store.migrate import upgrade
from app.store.orders import OrderStore
from app.store.store import Store
from tests.conftest import reset_database, sqlite_url

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOME = Address("Ann Example", "1 High Street", "London", "SW1A 1AA", "United Kingdom")


def small_shop(return_window_days: int = 30) -> Shop:
    """Three products, postage, and two customers with a few purchase dates each."""
    products = {
        "22138": Product("22138", "Baking Set 9 Piece Retrospot", 4.95, 10),
        "23166": Product("23166", "Medium Ceramic Top Storage Jar", 1.25, 8),
        "85123A": Product("85123A", "White Hanging Heart T-Light Holder", 2.55, 30),
        "POST": Product("POST", "Postage", 18.0, 5, kind="non-product"),
    }
    purchases = [
        Purchase("12347", "22138", 2, 12, date(2011, 4, 7)),
        Purchase("12347", "23166", 1, 24, date(2011, 4, 7)),
        Purchase("12347", "85123A", 3, 9, date(2011, 6, 9)),
        Purchase("12347", "POST", 1, 1, date(2011, 6, 9)),
        Purchase("12348", "85123A", 1, 4, date(2011, 1, 2)),
        Purchase("12349", "POST", 1, 1, date(2011, 1, 2)),
    ]
    return Shop(
        name="Test shop",
        currency="GBP",
        currency_symbol="£",
        description="",
        support_hours="",
        support_email="",
        policies={},
        faq=[],
        products=products,
        purchases=purchases,
        return_window_days=return_window_days,
    )


def order(
    order_id: str,
    status: str,
    *,
    customer_id: str = "c1",
    delivered_days_ago: int | None = None,
    returned: int = 0,
) -> Order:
    """An order of ``customer_id`` with two lines: A (qty 2, £3.50) and B (qty 1, £10)."""
    delivered = NOW.replace(hour=8) if delivered_days_ago is None else None
    if delivered_days_ago is not None:
        from datetime import timedelta

        delivered = NOW - timedelta(days=delivered_days_ago)
    shipped = status in ("shipped", "delivered", "return_requested")
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        status=status,  # type: ignore[arg-type]
        placed_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        items=(
            OrderItem("A", "22138", "Baking Set", 2, 3.5, returned_quantity=returned),
            OrderItem("B", "23166", "Storage Jar", 1, 10.0),
        ),
        address=HOME,
        email="Ann@Example.com",
        currency="GBP",
        shipment=Shipment("DPD", "15000000001") if shipped else None,
        delivered_at=delivered if status in ("delivered", "return_requested") else None,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An upgraded, empty database."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "orders.db")
    else:
        url = request.getfixturevalue("postgres_url")
        await reset_database(url)
    await upgrade(url)
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store on the test database."""
    store = Store.from_url(database_url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def orders(store: Store) -> OrderStore:
    """The order tables of the test store."""
    return OrderStore(store)


@pytest.fixture
def backend(orders: OrderStore) -> StoredShopBackend:
    """A backend over the test store, a 30-day return window and a fixed clock."""
    return StoredShopBackend(orders, return_window_days=30, clock=lambda: NOW)


@pytest.fixture
def demo(store: Store) -> StoredShopBackend:
    """The demo backend over the small shop, with a fixed clock."""
    return demo_backend(store, small_shop(), clock=lambda: NOW)
