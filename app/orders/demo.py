"""The demo shop's order history, derived from its customers' real purchase history.

A customer's purchases grouped by purchase date are their orders (dates, products, quantities per invoice and
catalogue prices as in ``purchases.csv``). The calendar is moved so that the customer's newest order is recent
(``today`` is an input); statuses, carriers, tracking numbers, email and postcode come from hashes of the
customer id, never from random state: the same shop, customer and day always give the same orders.

Order ids are the customer id followed by two digits (the order's number among the kept ones, oldest first),
so an order id alone says whose history to derive: e.g. ``1234703`` is customer 12347's third.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from app.orders.backend import Address, Order, OrderItem, OrderStatus, Shipment, StoredShopBackend
from app.shop.catalog import Purchase, Shop
from app.store.orders import OrderStore
from app.store.store import Store

MAX_ORDERS = 6
"""Only a customer's newest orders are kept: enough for every status, small enough to seed on first use."""
MAX_LINES = 12
"""Lines kept per order: the ones bought in the largest quantities."""

# The newest order's status, and how many days before ``today`` it was placed.
_NEWEST: tuple[tuple[OrderStatus, int], ...] = (
    ("pending", 0),
    ("processing", 1),
    ("shipped", 3),
    ("delivered", 8),
    ("cancelled", 2),
    ("return_requested", 12),
)
_DELIVERY_DAYS = 3
_CARRIERS = (("Royal Mail", "RM", "GB"), ("DPD", "15", ""), ("Evri", "H0", ""))
_STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Victoria Road")
_TOWNS = (
    ("London", "SW1A"),
    ("Manchester", "M1"),
    ("Bristol", "BS1"),
    ("Leeds", "LS1"),
    ("Edinburgh", "EH1"),
    ("Norwich", "NR2"),
    ("Cardiff", "CF10"),
    ("York", "YO1"),
)
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters UK postcodes use in their last two places


def _hash(customer_id: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{customer_id}:{salt}".encode()).digest()[:8], "big")


def order_id(customer_id: str, number: int) -> str:
    """The id of the customer's ``number``-th order (1 = oldest)."""
    return f"{customer_id}{number:02d}"


def owner_of(shop: Shop, order_id_: str) -> str | None:
    """The demo customer an order id belongs to, or None when it cannot be a demo order."""
    if len(order_id_) < 3 or not order_id_[-2:].isdigit():
        return None
    customer_id = order_id_[:-2]
    return customer_id if shop.has_customer(customer_id) else None


def contact(customer_id: str) -> tuple[str, Address]:
    """The customer's email and delivery address (what proves an order is theirs)."""
    h = _hash(customer_id, "address")
    town, outward = _TOWNS[h % len(_TOWNS)]
    street = _STREETS[(h >> 8) % len(_STREETS)]
    postcode = f"{outward} {(h >> 16) % 10}{_LETTERS[(h >> 20) % len(_LETTERS)]}{_LETTERS[(h >> 28) % len(_LETTERS)]}"
    address = Address(
        name=f"Customer {customer_id}",
        line1=f"{(h >> 36) % 200 + 1} {street}",
        city=town,
        postcode=postcode,
        country="United Kingdom",
    )
    return f"customer{customer_id}@example.com", address


def demo_orders(shop: Shop, customer_id: str, today: date) -> list[Order]:
    """The customer's orders, newest first (empty for a customer without purchases)."""
    by_date: dict[date, list[Purchase]] = defaultdict(list)
    for purchase in shop.customer_purchases(customer_id):
        product = shop.products.get(purchase.product_id)
        if product is not None and product.is_product:
            by_date[purchase.last_purchase].append(purchase)
    if not by_date:
        return []
    dates = sorted(by_date)
    newest_status, days_ago = _NEWEST[_hash(customer_id, "newest") % len(_NEWEST)]
    newest_placed = today - timedelta(days=days_ago)
    email, address = contact(customer_id)
    orders: list[Order] = []
    for number, bought_on in enumerate(dates[-MAX_ORDERS:], start=1):
        placed_day = newest_placed - (dates[-1] - bought_on)
        status = newest_status if bought_on == dates[-1] else _older_status(customer_id, number)
        orders.append(
            _order(shop, customer_id, number, status, placed_day, by_date[bought_on], email, address, today)
        )
    return orders[::-1]


def _older_status(customer_id: str, number: int) -> OrderStatus:
    roll = _hash(customer_id, f"status:{number}") % 8
    return "cancelled" if roll == 0 else "return_requested" if roll == 1 else "delivered"


def _order(
    shop: Shop,
    customer_id: str,
    number: int,
    status: OrderStatus,
    placed_day: date,
    purchases: list[Purchase],
    email: str,
    address: Address,
    today: date,
) -> Order:
    h = _hash(customer_id, f"order:{number}")
    placed_at = datetime.combine(placed_day, time(9 + h % 9, (h >> 8) % 60), tzinfo=UTC)
    lines = sorted(purchases, key=lambda p: (-p.quantity // max(p.n_invoices, 1), p.product_id))[:MAX_LINES]
    items = []
    for index, purchase in enumerate(sorted(lines, key=lambda p: p.product_id)):
        product = shop.products[purchase.product_id]
        quantity = max(1, purchase.quantity // max(purchase.n_invoices, 1))
        # A return requested: the first line is on its way back.
        returned = quantity if status == "return_requested" and index == 0 else 0
        items.append(
            OrderItem(
                item_id=purchase.product_id,
                product_id=purchase.product_id,
                name=product.name,
                quantity=quantity,
                unit_price=product.price,
                returned_quantity=returned,
            )
        )
    shipment = None
    delivered_at = None
    if status in ("shipped", "delivered", "return_requested"):
        carrier, prefix, suffix = _CARRIERS[(h >> 16) % len(_CARRIERS)]
        shipment = Shipment(carrier, f"{prefix}{(h >> 20) % 10**9:09d}{suffix}")
    if status in ("delivered", "return_requested"):
        delivered_at = min(
            placed_at + timedelta(days=_DELIVERY_DAYS), datetime.combine(today, time(8), tzinfo=UTC)
        )
    return Order(
        order_id=order_id(customer_id, number),
        customer_id=customer_id,
        status=status,
        placed_at=placed_at,
        items=tuple(items),
        address=address,
        email=email,
        currency=shop.currency,
        shipment=shipment,
        delivered_at=delivered_at,
    )


def demo_backend(
    store: Store, shop: Shop, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> StoredShopBackend:
    """The demo shop's backend: orders in ``store``, each customer's history derived when first looked up."""
    return StoredShopBackend(
        OrderStore(store),
        return_window_days=shop.return_window_days,
        seed=lambda customer_id: demo_orders(shop, customer_id, clock().date()),
        owner_of=lambda order_id_: owner_of(shop, order_id_),
        clock=clock,
    )
