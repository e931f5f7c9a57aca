"""``HttpShopBackend`` against a real local HTTP server that answers like WooCommerce and Shopify, through the
example files of docs/shop-backend.md."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.errors import ShopBackendError
from app.orders.backend import Address, Changed, Refused
from app.orders.http import HttpShopBackend, load_http_backend
from tests.orders.fakeshop import BODY_SECRET, ENV, SECRET, WOO, FakeShop, running, shopify_order, woo_order

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NEW_HOME = Address("Ann Marie Example", "7 Mill Road", "York", "YO1 7AB", "GB", line2="Flat 2")


@pytest.fixture
async def shop() -> AsyncIterator[FakeShop]:
    """A shop with orders of customer 7 (pending, processing, delivered 5 and 44 days ago), 8's and a guest's."""
    fake = FakeShop()
    fake.woo = {
        "101": woo_order(101, "pending"),
        "102": woo_order(102, "processing"),
        "103": woo_order(103, "completed", completed="2026-03-05T12:00:00"),
        "104": woo_order(104, "completed", completed="2026-01-25T12:00:00"),
        "201": woo_order(201, "pending", customer_id=8),
        "301": woo_order(301, "pending", customer_id=0),
    }
    fake.shopify = {
        450789469: shopify_order(1001, 450789469),
        450789470: shopify_order(1002, 450789470, fulfilled=True),
    }
    async with running(fake):
        yield fake


async def _backend(path: Path) -> HttpShopBackend:
    return load_http_backend(path, return_window_days=30, environ=ENV, clock=lambda: NOW)


@pytest.fixture
async def woo(shop: FakeShop, tmp_path: Path) -> AsyncIterator[HttpShopBackend]:
    """The WooCommerce example file's backend, on the fake shop."""
    backend = await _backend(shop.config(tmp_path, "woocommerce"))
    yield backend
    await backend.close()


@pytest.fixture
async def shopify(shop: FakeShop, tmp_path: Path) -> AsyncIterator[HttpShopBackend]:
    """The Shopify example file's backend, on the fake shop."""
    backend = await _backend(shop.config(tmp_path, "shopify"))
    yield backend
    await backend.close()


def _writes(shop: FakeShop) -> list[str]:
    return [f"{s.method} {s.path}" for s in shop.seen if s.method != "GET"]


async def test_an_order_is_read_through_the_mapping(woo: HttpShopBackend) -> None:
    order = await woo.get_order("103")
    assert order is not None
    assert (order.order_id, order.customer_id, order.status, order.currency) == (
        "103",
        "7",
        "delivered",
        "GBP",
    )
    assert order.placed_at == datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
    assert order.delivered_at == datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert order.email == "ann@example.com"
    assert order.address == Address("Ann Example", "1 High Street", "London", "SW1A 1AA", "GB")
    assert [(i.item_id, i.product_id, i.quantity, i.unit_price) for i in order.items] == [
        ("11", "22138", 2, 3.5),
        ("12", "23166", 1, 10.0),
    ]


async def test_requests_carry_the_secret_header_from_the_environment(
    woo: HttpShopBackend, shop: FakeShop
) -> None:
    await woo.get_order("101")
    assert shop.seen[-1].headers["Authorization"] == f"Basic {SECRET}"
    assert shop.seen[-1].path == f"{WOO}/orders/101"


async def test_an_order_the_file_cannot_read_is_left_out_of_the_list(
    woo: HttpShopBackend, shop: FakeShop, caplog: pytest.LogCaptureFixture
) -> None:
    shop.woo["105"] = woo_order(105, "checkout-draft")  # a status the example maps to nothing
    orders = await woo.find_customer_orders("7")
    assert [o.order_id for o in orders] == ["104", "103", "102", "101"]
    assert "order.status" in caplog.text


async def test_a_list_of_orders_none_of_which_can_be_read_raises(
    woo: HttpShopBackend, shop: FakeShop
) -> None:
    for order in shop.woo.values():
        order["status"] = "checkout-draft"
    with pytest.raises(ShopBackendError, match="no rule applies"):
        await woo.find_customer_orders("7")


async def test_placeholders_are_url_encoded(woo: HttpShopBackend, shop: FakeShop) -> None:
    assert await woo.get_order("1/../2?x=1") is None
    assert shop.seen[-1].path == f"{WOO}/orders/1%2F..%2F2%3Fx%3D1"


async def test_a_missing_order_is_none(woo: HttpShopBackend) -> None:
    assert await woo.get_order("999") is None


async def test_customer_orders_are_newest_first_and_only_theirs(woo: HttpShopBackend, shop: FakeShop) -> None:
    shop.ignore_customer_filter = True  # a shop that answers every order must not leak them
    orders = await woo.find_customer_orders("7")
    assert [o.order_id for o in orders] == ["104", "103", "102", "101"]
    assert shop.seen[-1].path.startswith(f"{WOO}/orders?customer=7&")


async def test_a_pending_order_is_cancelled_through_the_shop(woo: HttpShopBackend, shop: FakeShop) -> None:
    outcome = await woo.cancel_pending_order("101", "ordered twice")
    assert isinstance(outcome, Changed)
    assert outcome.order.status == "cancelled"
    put = next(s for s in shop.seen if s.method == "PUT")
    assert (put.path, put.body) == (f"{WOO}/orders/101", {"status": "cancelled"})


async def test_cancelling_past_pending_is_refused_before_any_write(
    woo: HttpShopBackend, shop: FakeShop
) -> None:
    outcome = await woo.cancel_pending_order("102", "changed my mind")
    assert outcome == Refused(
        "not_pending", "Order 102 is being prepared: only pending orders can be cancelled."
    )
    assert _writes(shop) == []


async def test_cancelling_a_missing_order_is_not_found(woo: HttpShopBackend) -> None:
    assert await woo.cancel_pending_order("999", "x") == Refused("not_found", "No order 999 was found.")


async def test_a_pending_order_gets_the_new_address(woo: HttpShopBackend, shop: FakeShop) -> None:
    outcome = await woo.modify_pending_order_address("101", NEW_HOME)
    assert isinstance(outcome, Changed)
    assert outcome.order.address == NEW_HOME
    put = next(s for s in shop.seen if s.method == "PUT")
    assert put.body == {
        "shipping": {
            "first_name": "Ann",
            "last_name": "Marie Example",
            "address_1": "7 Mill Road",
            "address_2": "Flat 2",
            "city": "York",
            "postcode": "YO1 7AB",
            "country": "GB",
        }
    }


async def test_the_address_past_pending_is_refused_before_any_write(
    woo: HttpShopBackend, shop: FakeShop
) -> None:
    outcome = await woo.modify_pending_order_address("103", NEW_HOME)
    assert isinstance(outcome, Refused)
    assert outcome.code == "not_pending"
    assert _writes(shop) == []


async def test_a_return_within_the_window_is_sent_as_a_note(woo: HttpShopBackend, shop: FakeShop) -> None:
    outcome = await woo.return_delivered_order_items("103", ["11"], "too small")
    assert isinstance(outcome, Changed)
    assert shop.notes["103"] == ["Return requested by the customer in chat. Lines: 11. Reason: too small"]


@pytest.mark.parametrize(
    ("order_id", "items", "code"),
    [
        ("101", ["11"], "not_delivered"),
        ("104", ["11"], "outside_return_window"),
        ("103", ["99"], "unknown_items"),
    ],
)
async def test_returns_against_the_rules_are_refused_before_any_write(
    woo: HttpShopBackend, shop: FakeShop, order_id: str, items: list[str], code: str
) -> None:
    outcome = await woo.return_delivered_order_items(order_id, items, "reason")
    assert isinstance(outcome, Refused)
    assert outcome.code == code
    assert _writes(shop) == []


async def test_the_window_message_names_the_last_day(woo: HttpShopBackend) -> None:
    outcome = await woo.return_delivered_order_items("104", ["11"], "reason")
    assert outcome == Refused(
        "outside_return_window",
        "Order 104 was delivered on 25 January 2026: returns are accepted for 30 days after delivery, "
        "until 24 February 2026.",
    )


async def test_a_conflict_from_an_order_that_moved_on_is_changed(
    woo: HttpShopBackend, shop: FakeShop
) -> None:
    shop.conflict = True
    outcome = await woo.cancel_pending_order("101", "x")
    assert outcome == Refused("changed", "Order 101 changed meanwhile; look it up again before changing it.")


async def test_the_email_or_postcode_proves_the_order(woo: HttpShopBackend) -> None:
    assert await woo.verify("101", "ANN@example.com ") == "7"
    assert await woo.verify("101", "sw1a1aa") == "7"
    assert await woo.verify("101", "someone@example.com") is None
    assert await woo.verify("999", "ann@example.com") is None


async def test_a_guests_order_cannot_be_claimed(woo: HttpShopBackend) -> None:
    order = await woo.get_order("301")
    assert order is not None
    assert order.customer_id == ""
    assert await woo.verify("301", "ann@example.com") is None


async def test_a_server_error_raises_without_the_shops_words(woo: HttpShopBackend) -> None:
    with pytest.raises(ShopBackendError, match="HTTP 500") as caught:
        await woo.get_order("boom")
    assert BODY_SECRET not in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_a_slow_shop_times_out(shop: FakeShop, tmp_path: Path) -> None:
    backend = await _backend(shop.config(tmp_path, "woocommerce", timeout_s=0.3))
    try:
        with pytest.raises(ShopBackendError, match=r"no answer within 0\.3 s"):
            await backend.get_order("slow")
    finally:
        await backend.close()


async def test_an_answer_over_the_cap_is_not_read_whole(woo: HttpShopBackend) -> None:
    with pytest.raises(ShopBackendError, match="more than max_response_bytes"):
        await woo.get_order("big")


async def test_a_redirect_is_not_followed(woo: HttpShopBackend, shop: FakeShop) -> None:
    with pytest.raises(ShopBackendError, match="redirect"):
        await woo.get_order("redirect")
    assert [s.path for s in shop.seen] == [f"{WOO}/orders/redirect"]


async def test_an_answer_that_is_not_json_raises(woo: HttpShopBackend) -> None:
    with pytest.raises(ShopBackendError, match="not JSON"):
        await woo.get_order("notjson")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_address_is_refused_before_connecting(
    shop: FakeShop, tmp_path: Path, host: str
) -> None:
    path = shop.config(tmp_path, "woocommerce", allow_private=False)
    path.write_text(path.read_text().replace(shop.base, f"https://{host}:{shop.port}"))
    backend = await _backend(path)
    try:
        with pytest.raises(ShopBackendError, match="non-public address"):
            await backend.get_order("101")
    finally:
        await backend.close()
    assert shop.seen == []


async def test_an_unreachable_shop_raises(shop: FakeShop, tmp_path: Path) -> None:
    path = shop.config(tmp_path, "woocommerce")
    path.write_text(path.read_text().replace(f":{shop.port}/", ":1/"))
    backend = await _backend(path)
    try:
        with pytest.raises(ShopBackendError, match="could not be reached"):
            await backend.get_order("101")
    finally:
        await backend.close()


async def test_the_secret_is_in_no_error_and_no_log(
    shopify: HttpShopBackend, shop: FakeShop, caplog: pytest.LogCaptureFixture
) -> None:
    # A shop that echoes the credential in its error must not get it into our message or log.
    shop.graphql_errors = [{"field": ["id"], "message": f"token {SECRET} may not tag this order"}]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ShopBackendError, match="reported an error") as caught:
        await shopify.return_delivered_order_items("1002", ["466157049"], "broken")
    assert "may not tag" in caplog.text  # the shop's words are logged, for the team …
    assert SECRET not in caplog.text  # … without the secret
    assert SECRET not in str(caught.value)
    assert SECRET not in (caught.value.detail or "")


async def test_shopify_orders_are_found_by_number_and_changed_by_id(
    shopify: HttpShopBackend, shop: FakeShop
) -> None:
    order = await shopify.get_order("#1001")
    assert order is not None
    assert (order.order_id, order.customer_id, order.status, order.currency) == (
        "1001",
        "207119551",
        "pending",
        "USD",
    )
    assert order.address.name == "Bob Norman"
    assert order.items[0].unit_price == 199.0
    outcome = await shopify.cancel_pending_order("1001", "ordered twice")
    assert isinstance(outcome, Changed)
    assert outcome.order.status == "cancelled"
    assert _writes(shop) == ["POST /admin/api/2024-10/orders/450789469/cancel.json"]


async def test_shopify_customer_orders_come_newest_first(shopify: HttpShopBackend, shop: FakeShop) -> None:
    shop.shopify[450789470]["created_at"] = "2026-03-02T11:00:00-05:00"
    orders = await shopify.find_customer_orders("207119551")
    assert [o.order_id for o in orders] == ["1002", "1001"]
    assert shop.seen[-1].path == "/admin/api/2024-10/customers/207119551/orders.json?status=any&limit=50"


async def test_shopify_search_answers_only_the_exact_number(shopify: HttpShopBackend) -> None:
    assert await shopify.get_order("100") is None


async def test_shopify_delivered_order_has_its_tracking_and_return_tag(
    shopify: HttpShopBackend, shop: FakeShop
) -> None:
    order = await shopify.get_order("1002")
    assert order is not None
    assert order.status == "delivered"
    assert order.shipment is not None
    assert (order.shipment.carrier, order.shipment.tracking_number) == ("DPD", "15000000001")
    outcome = await shopify.return_delivered_order_items("1002", ["466157049"], "broken")
    assert isinstance(outcome, Changed)
    assert outcome.order.status == "return_requested"
    graphql = next(s for s in shop.seen if s.method == "POST")
    assert graphql.body["variables"] == {"id": "gid://shopify/Order/450789470", "tags": ["return-requested"]}


async def test_shopify_address_change_sends_the_order_id_as_a_number(
    shopify: HttpShopBackend, shop: FakeShop
) -> None:
    outcome = await shopify.modify_pending_order_address("1001", NEW_HOME)
    assert isinstance(outcome, Changed)
    assert outcome.order.address.postcode == "YO1 7AB"
    put = next(s for s in shop.seen if s.method == "PUT")
    assert put.body["order"]["id"] == 450789469
    assert put.body["order"]["shipping_address"]["zip"] == "YO1 7AB"
