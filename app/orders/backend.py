"""The ``ShopBackend`` port: a shop's orders as plain values, changed only within the shop's rules.

Business refusals (a shipped order cannot be cancelled …) are typed outcomes, not exceptions: the tool layer
reports them to the model as results. ``StoredShopBackend`` keeps orders in the app's database; with a
``seed`` it derives a customer's orders the first time they are asked for (the demo shop's history).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from app.store.orders import OrderItemRecord, OrderRecord, OrderStore
from app.store.tables import aware

OrderStatus = Literal["pending", "processing", "shipped", "delivered", "cancelled", "return_requested"]
STATUSES: tuple[OrderStatus, ...] = (
    "pending",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "return_requested",
)
RefusalCode = Literal[
    "not_found",
    "not_pending",
    "not_delivered",
    "outside_return_window",
    "unknown_items",
    "already_returned",
    "changed",
]


@dataclass(frozen=True, slots=True)
class Address:
    """A delivery address."""

    name: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str = ""

    def as_dict(self) -> dict[str, str]:
        """The address as a JSON object."""
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postcode": self.postcode,
            "country": self.country,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Address:
        """The address of a JSON object made by ``as_dict`` (missing optional parts are empty)."""
        return cls(
            name=data.get("name", ""),
            line1=data.get("line1", ""),
            line2=data.get("line2", ""),
            city=data.get("city", ""),
            postcode=data.get("postcode", ""),
            country=data.get("country", ""),
        )


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One line of an order; ``returned_quantity`` of its ``quantity`` are being returned."""

    item_id: str
    product_id: str
    name: str
    quantity: int
    unit_price: float
    returned_quantity: int = 0


@dataclass(frozen=True, slots=True)
class Shipment:
    """Who carries a shipped order, and its tracking number."""

    carrier: str
    tracking_number: str


@dataclass(frozen=True, slots=True)
class Order:
    """A customer's order."""

    order_id: str
    customer_id: str
    status: OrderStatus
    placed_at: datetime
    items: tuple[OrderItem, ...]
    address: Address
    email: str
    currency: str
    shipment: Shipment | None = None
    delivered_at: datetime | None = None

    @property
    def total(self) -> float:
        """What the order cost, in its currency."""
        return round(sum(item.quantity * item.unit_price for item in self.items), 2)


@dataclass(frozen=True, slots=True)
class Changed:
    """The change was made; ``order`` is the order after it."""

    order: Order


@dataclass(frozen=True, slots=True)
class Refused:
    """The shop's rules refuse the change; ``message`` says why, for the model and the customer."""

    code: RefusalCode
    message: str


ChangeOutcome = Changed | Refused


class ShopBackend(Protocol):
    """A shop's orders: look-ups, the three changes a customer may ask for, and proof of ownership."""

    async def find_customer_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first (empty for an unknown customer)."""
        ...

    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""
        ...

    async def cancel_pending_order(self, order_id: str, reason: str) -> ChangeOutcome:
        """Cancel the order if it is still pending."""
        ...

    async def return_delivered_order_items(
        self, order_id: str, item_ids: Sequence[str], reason: str
    ) -> ChangeOutcome:
        """Request the return of these lines of a delivered order, within the return window."""
        ...

    async def modify_pending_order_address(self, order_id: str, address: Address) -> ChangeOutcome:
        """Change the delivery address while the order is pending."""
        ...

    async def verify(self, order_id: str, email_or_postcode: str) -> str | None:
        """The order's customer id when ``email_or_postcode`` is the order's email or delivery postcode."""
        ...


def normalise_email(text: str) -> str:
    """An email as compared: trimmed and lower-case."""
    return text.strip().lower()


def normalise_postcode(text: str) -> str:
    """A postcode as compared: upper-case without any spaces ("sw1a 1aa" is "SW1A1AA")."""
    return "".join(text.split()).upper()


def proves(order: Order, email_or_postcode: str) -> bool:
    """Whether the text is the order's email or its delivery postcode (case and spaces ignored)."""
    given = email_or_postcode.strip()
    if not given:
        return False
    if "@" in given:
        return normalise_email(given) == normalise_email(order.email)
    return normalise_postcode(given) == normalise_postcode(order.address.postcode) != ""


def _order(record: OrderRecord) -> Order:
    shipment = (
        Shipment(record.carrier, record.tracking_number)
        if record.carrier is not None and record.tracking_number is not None
        else None
    )
    return Order(
        order_id=record.order_id,
        customer_id=record.customer_id,
        status=record.status,  # type: ignore[arg-type]  # only this module writes statuses
        placed_at=aware(record.placed_at),
        items=tuple(
            OrderItem(
                item_id=i.item_id,
                product_id=i.product_id,
                name=i.name,
                quantity=i.quantity,
                unit_price=i.unit_price_minor / 100,
                returned_quantity=i.returned_quantity,
            )
            for i in record.items
        ),
        address=Address.from_dict(record.address),
        email=record.email,
        currency=record.currency,
        shipment=shipment,
        delivered_at=aware(record.delivered_at) if record.delivered_at is not None else None,
    )


def to_record(order: Order) -> OrderRecord:
    """The record that stores ``order``."""
    return OrderRecord(
        order_id=order.order_id,
        customer_id=order.customer_id,
        status=order.status,
        placed_at=order.placed_at,
        delivered_at=order.delivered_at,
        currency=order.currency,
        email=order.email,
        address=order.address.as_dict(),
        carrier=order.shipment.carrier if order.shipment else None,
        tracking_number=order.shipment.tracking_number if order.shipment else None,
        items=tuple(
            OrderItemRecord(
                item_id=i.item_id,
                product_id=i.product_id,
                name=i.name,
                quantity=i.quantity,
                unit_price_minor=round(i.unit_price * 100),
                returned_quantity=i.returned_quantity,
            )
            for i in order.items
        ),
    )


Seed = Callable[[str], Sequence[Order]]
"""A customer's orders to store the first time the customer is looked up (empty: nothing to seed)."""
OwnerOf = Callable[[str], str | None]
"""Which customer an order id belongs to, before anything is stored (the demo's ids say it)."""


def _not_found(order_id: str) -> Refused:
    return Refused("not_found", f"No order {order_id} was found.")


class ShopRules:
    """The shop's rules for the three changes, checked in code before any change is asked for or made.

    Each check returns None when the change is allowed, else the ``Refused`` that says why.
    """

    def __init__(
        self, return_window_days: int = 30, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.window = timedelta(days=return_window_days)
        self._clock = clock

    def cancel(self, order: Order) -> Refused | None:
        """Only a pending order can be cancelled."""
        if order.status == "pending":
            return None
        return Refused(
            "not_pending",
            f"Order {order.order_id} is {_status_text(order.status)}: only pending orders can be cancelled.",
        )

    def readdress(self, order: Order) -> Refused | None:
        """Only a pending order can get a new delivery address."""
        if order.status == "pending":
            return None
        return Refused(
            "not_pending",
            f"Order {order.order_id} is {_status_text(order.status)}: the address can only be changed while "
            "the order is pending.",
        )

    def give_back(self, order: Order, item_ids: Sequence[str]) -> Refused | None:
        """Only delivered lines, within the return window, each at most once."""
        order_id = order.order_id
        if order.status not in ("delivered", "return_requested") or order.delivered_at is None:
            return Refused(
                "not_delivered",
                f"Order {order_id} is {_status_text(order.status)}: only delivered items can be returned.",
            )
        last_day = order.delivered_at + self.window
        if self._clock() > last_day:
            return Refused(
                "outside_return_window",
                f"Order {order_id} was delivered on {order.delivered_at:%d %B %Y}: returns are accepted for "
                f"{self.window.days} days after delivery, until {last_day:%d %B %Y}.",
            )
        lines = {item.item_id: item for item in order.items}
        unknown = [item_id for item_id in item_ids if item_id not in lines]
        if unknown:
            return Refused(
                "unknown_items",
                f"Order {order_id} has no item {', '.join(unknown)}; its items are {', '.join(lines)}.",
            )
        done = [
            item_id for item_id in item_ids if lines[item_id].returned_quantity >= lines[item_id].quantity
        ]
        if done:
            return Refused(
                "already_returned", f"Item {', '.join(done)} of order {order_id} is already being returned."
            )
        return None

    def refusal(self, tool: str, order: Order, arguments: dict[str, Any]) -> Refused | None:
        """The check of the write tool ``tool`` (its validated arguments) against the order."""
        if tool == "cancel_pending_order":
            return self.cancel(order)
        if tool == "modify_pending_order_address":
            return self.readdress(order)
        return self.give_back(order, [str(i).strip() for i in arguments.get("item_ids", [])])


class StoredShopBackend:
    """A ``ShopBackend`` over the app's database; with ``seed``, a customer's orders are stored on first use."""

    def __init__(
        self,
        orders: OrderStore,
        *,
        return_window_days: int = 30,
        seed: Seed | None = None,
        owner_of: OwnerOf | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._orders = orders
        self.rules = ShopRules(return_window_days, clock)
        self._seed = seed
        self._owner_of = owner_of
        self._seeded: set[str] = set()

    async def _ensure(self, customer_id: str | None) -> None:
        # Seeding is lazy and per customer: start-up costs nothing, and the first look-up stores a few orders.
        if self._seed is None or customer_id is None or customer_id in self._seeded:
            return
        if not await self._orders.has_customer(customer_id):
            await self._orders.add([to_record(order) for order in self._seed(customer_id)])
        self._seeded.add(customer_id)

    async def find_customer_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first."""
        await self._ensure(customer_id)
        return [_order(record) for record in await self._orders.for_customer(customer_id)]

    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""
        if self._owner_of is not None:
            await self._ensure(self._owner_of(order_id))
        record = await self._orders.get(order_id)
        return _order(record) if record is not None else None

    async def cancel_pending_order(self, order_id: str, reason: str) -> ChangeOutcome:
        """Cancel a pending order; any other status is refused with what it is."""
        order = await self.get_order(order_id)
        if order is None:
            return _not_found(order_id)
        refused = self.rules.cancel(order)
        if refused is not None:
            return refused
        if not await self._orders.set_status(
            order_id, expected="pending", status="cancelled", cancel_reason=reason
        ):
            return _changed(order_id)
        return await self._changed(order_id)

    async def return_delivered_order_items(
        self, order_id: str, item_ids: Sequence[str], reason: str
    ) -> ChangeOutcome:
        """Return whole lines of a delivered order within the window; each line at most once."""
        order = await self.get_order(order_id)
        if order is None:
            return _not_found(order_id)
        refused = self.rules.give_back(order, item_ids)
        if refused is not None:
            return refused
        if not await self._orders.request_return(
            order_id, list(item_ids), expected=("delivered", "return_requested"), reason=reason
        ):
            return _changed(order_id)
        return await self._changed(order_id)

    async def modify_pending_order_address(self, order_id: str, address: Address) -> ChangeOutcome:
        """Change the delivery address of a pending order."""
        order = await self.get_order(order_id)
        if order is None:
            return _not_found(order_id)
        refused = self.rules.readdress(order)
        if refused is not None:
            return refused
        if not await self._orders.set_address(order_id, expected="pending", address=address.as_dict()):
            return _changed(order_id)
        return await self._changed(order_id)

    async def verify(self, order_id: str, email_or_postcode: str) -> str | None:
        """The order's customer when the proof matches the order's email or postcode, else None."""
        order = await self.get_order(order_id)
        if order is None or not proves(order, email_or_postcode):
            return None
        return order.customer_id

    async def _changed(self, order_id: str) -> ChangeOutcome:
        order = await self.get_order(order_id)
        return Changed(order) if order is not None else _not_found(order_id)


def _changed(order_id: str) -> Refused:
    return Refused("changed", f"Order {order_id} changed meanwhile; look it up again before changing it.")


def _status_text(status: str) -> str:
    return {
        "pending": "pending",
        "processing": "being prepared",
        "shipped": "already shipped",
        "delivered": "delivered",
        "cancelled": "cancelled",
        "return_requested": "being returned",
    }.get(status, status)
