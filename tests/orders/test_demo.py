"""The demo order history: derived from purchases, deterministic, spread over every status, seeded on use."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from app.orders.backend import STATUSES, StoredShopBackend
from app.orders.demo import MAX_ORDERS, contact, demo_backend, demo_orders, owner_of
from app.shop.catalog import Product, Purchase, Shop
from app.store.orders import OrderStore
from app.store.store import Store
from tests.orders.conftest import NOW, small_shop

TODAY = NOW.date()


def many_customers(n: int = 400) -> Shop:
    """``n`` customers with eight purchase dates each, a month apart."""
    shop = small_shop()
    purchases = [
        Purchase(f"c{c}", product_id, 2, 6 + c % 5, date(2011, 1, 3) + timedelta(days=30 * k + c % 7))
        for c in range(n)
        for k in range(8)
        for product_id in (("22138", "23166") if k % 2 else ("85123A",))
    ]
    products: dict[str, Product] = dict(shop.products)
    return Shop(
        name=shop.name,
        currency=shop.currency,
        currency_symbol=shop.currency_symbol,
        description="",
        support_hours="",
        support_email="",
        policies={},
        faq=[],
        products=products,
        purchases=purchases,
    )


def test_orders_are_the_purchases_grouped_by_date() -> None:
    orders = demo_orders(small_shop(), "12347", TODAY)
    assert [o.order_id for o in orders] == ["1234702", "1234701"]
    newest, oldest = orders
    # Postage is not goods: it is not an order line.
    assert [(i.item_id, i.quantity, i.unit_price) for i in newest.items] == [("85123A", 3, 2.55)]
    assert [(i.item_id, i.quantity, i.unit_price) for i in oldest.items] == [
        ("22138", 6, 4.95),
        ("23166", 24, 1.25),
    ]
    # The real spacing of the two purchase dates is kept.
    assert (newest.placed_at.date() - oldest.placed_at.date()).days == (
        date(2011, 6, 9) - date(2011, 4, 7)
    ).days
    assert newest.placed_at.date() <= TODAY


def test_same_input_gives_the_same_orders() -> None:
    assert demo_orders(small_shop(), "12347", TODAY) == demo_orders(small_shop(), "12347", TODAY)
    shop = many_customers(50)
    assert [demo_orders(shop, f"c{c}", TODAY) for c in range(50)] == [
        demo_orders(shop, f"c{c}", TODAY) for c in range(50)
    ]


def test_a_customer_without_goods_has_no_orders() -> None:
    assert demo_orders(small_shop(), "12349", TODAY) == []
    assert demo_orders(small_shop(), "nobody", TODAY) == []


def test_statuses_are_spread_over_every_status() -> None:
    shop = many_customers()
    orders = [o for c in range(400) for o in demo_orders(shop, f"c{c}", TODAY)]
    counts = Counter(o.status for o in orders)
    assert set(counts) == set(STATUSES)
    for status in ("pending", "processing", "shipped", "cancelled", "return_requested"):
        assert counts[status] >= 30, counts
    assert all(len(demo_orders(shop, f"c{c}", TODAY)) == MAX_ORDERS for c in range(5))


def test_statuses_carry_what_they_imply() -> None:
    shop = many_customers()
    for o in (o for c in range(400) for o in demo_orders(shop, f"c{c}", TODAY)):
        shipped = o.status in ("shipped", "delivered", "return_requested")
        assert (o.shipment is not None) == shipped, o
        assert (o.delivered_at is not None) == (o.status in ("delivered", "return_requested")), o
        assert any(i.returned_quantity for i in o.items) == (o.status == "return_requested"), o
        if o.shipment is not None:
            assert o.shipment.carrier in ("Royal Mail", "DPD", "Evri")
            assert o.shipment.tracking_number


def test_some_delivered_orders_are_returnable_and_some_are_not() -> None:
    shop = many_customers()
    delivered = [o for c in range(400) for o in demo_orders(shop, f"c{c}", TODAY) if o.status == "delivered"]
    ages = [(NOW - o.delivered_at).days for o in delivered if o.delivered_at is not None]
    assert any(age <= 30 for age in ages)
    assert any(age > 30 for age in ages)


def test_each_customer_has_an_email_and_a_uk_postcode() -> None:
    email, address = contact("12347")
    assert email == "customer12347@example.com"
    assert address.country == "United Kingdom"
    assert len(address.postcode.split()) == 2
    assert contact("12347") == contact("12347") != contact("12348")
    assert {o.email for o in demo_orders(small_shop(), "12347", TODAY)} == {email}


def test_an_order_id_names_its_customer() -> None:
    shop = small_shop()
    assert owner_of(shop, "1234701") == "12347"
    assert owner_of(shop, "9999901") is None
    assert owner_of(shop, "12") is None
    assert owner_of(shop, "12347xx") is None


async def test_a_customer_s_orders_are_stored_on_first_look_up(
    demo: StoredShopBackend, orders: OrderStore
) -> None:
    assert not await orders.has_customer("12347")
    found = await demo.find_customer_orders("12347")
    assert found == demo_orders(small_shop(), "12347", TODAY)
    assert await orders.has_customer("12347")
    assert not await orders.has_customer("12348")


async def test_an_order_id_alone_seeds_its_customer(demo: StoredShopBackend) -> None:
    found = await demo.get_order("1234801")
    assert found is not None
    assert found.customer_id == "12348"
    email, address = contact("12348")
    assert await demo.verify("1234801", email.upper()) == "12348"
    assert await demo.verify("1234801", address.postcode.lower().replace(" ", "")) == "12348"
    assert await demo.verify("1234801", "someone@example.com") is None


async def test_a_change_to_a_demo_order_survives_a_restart(database_url: str) -> None:
    first = Store.from_url(database_url)
    try:
        orders = await demo_backend(first, small_shop(), clock=lambda: NOW).find_customer_orders("12347")
        newest = orders[0]
        assert await OrderStore(first).set_status(newest.order_id, expected=newest.status, status="cancelled")
    finally:
        await first.close()
    second = Store.from_url(database_url)
    try:
        again = await demo_backend(second, small_shop(), clock=lambda: NOW).get_order(newest.order_id)
    finally:
        await second.close()
    assert again is not None
    assert again.status == "cancelled"
