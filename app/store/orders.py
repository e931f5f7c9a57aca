"""Orders, their lines and handoff requests in the app's database, read and written as plain records.

Changes are compare-and-set statements (``… WHERE status = 'pending'``): two tabs cancelling one order at once
change it once, and the loser is told the order changed, whatever the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.store import Store
from app.store.tables import HandoffRow, OrderItemRow, OrderRow, utcnow

ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
ORDER_ITEMS: Table = OrderItemRow.__table__  # type: ignore[assignment]
HANDOFFS: Table = HandoffRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OrderItemRecord:
    """A stored order line; prices in minor units."""

    item_id: str
    product_id: str
    name: str
    quantity: int
    unit_price_minor: int
    returned_quantity: int = 0


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A stored order with its lines; ``address`` is a JSON object (name, line1, line2, city, postcode, country)."""

    order_id: str
    customer_id: str
    status: str
    placed_at: datetime
    delivered_at: datetime | None
    currency: str
    email: str
    address: dict[str, str]
    carrier: str | None
    tracking_number: str | None
    items: tuple[OrderItemRecord, ...]
    cancel_reason: str | None = None
    return_reason: str | None = None


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    """A stored request to pass a conversation to a person."""

    id: int
    conversation_id: str | None
    customer_id: str | None
    summary: str
    status: str
    created_at: datetime


class _ChangedError(Exception):
    """The order changed since it was read: roll the transaction back."""


class OrderStore:
    """Order and handoff reads and writes on a ``Store``'s engine; each method is one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine

    # ---- reads ---------------------------------------------------------------------------------------

    async def get(self, order_id: str) -> OrderRecord | None:
        """The order, or None."""
        async with self._engine.connect() as conn:
            found = await self._orders(conn, ORDERS.c.order_id == order_id)
        return found[0] if found else None

    async def for_customer(self, customer_id: str) -> list[OrderRecord]:
        """The customer's orders, newest first."""
        async with self._engine.connect() as conn:
            return await self._orders(conn, ORDERS.c.customer_id == customer_id)

    async def has_customer(self, customer_id: str) -> bool:
        """Whether any order of the customer is stored."""
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(ORDERS).where(ORDERS.c.customer_id == customer_id)
            )
        return bool(count)

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]:
        """Handoff requests, oldest first; only those of ``conversation_id`` when given."""
        query = select(HANDOFFS).order_by(HANDOFFS.c.id)
        if conversation_id is not None:
            query = query.where(HANDOFFS.c.conversation_id == conversation_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [
                HandoffRecord(
                    id=row.id,
                    conversation_id=row.conversation_id,
                    customer_id=row.customer_id,
                    summary=row.summary,
                    status=row.status,
                    created_at=row.created_at,
                )
                for row in rows
            ]

    async def _orders(self, conn: AsyncConnection, where: Any) -> list[OrderRecord]:
        rows = (
            await conn.execute(
                select(ORDERS).where(where).order_by(ORDERS.c.placed_at.desc(), ORDERS.c.order_id)
            )
        ).all()
        if not rows:
            return []
        ids = [row.order_id for row in rows]
        lines: dict[str, list[OrderItemRecord]] = {order_id: [] for order_id in ids}
        for item in await conn.execute(
            select(ORDER_ITEMS).where(ORDER_ITEMS.c.order_id.in_(ids)).order_by(ORDER_ITEMS.c.item_id)
        ):
            lines[item.order_id].append(
                OrderItemRecord(
                    item_id=item.item_id,
                    product_id=item.product_id,
                    name=item.name,
                    quantity=item.quantity,
                    unit_price_minor=item.unit_price_minor,
                    returned_quantity=item.returned_quantity,
                )
            )
        return [
            OrderRecord(
                order_id=row.order_id,
                customer_id=row.customer_id,
                status=row.status,
                placed_at=row.placed_at,
                delivered_at=row.delivered_at,
                currency=row.currency,
                email=row.email,
                address=dict(row.address),
                carrier=row.carrier,
                tracking_number=row.tracking_number,
                items=tuple(lines[row.order_id]),
                cancel_reason=row.cancel_reason,
                return_reason=row.return_reason,
            )
            for row in rows
        ]

    # ---- writes --------------------------------------------------------------------------------------

    async def add(self, orders: Sequence[OrderRecord]) -> None:
        """Store orders that are not stored yet; an order already there (another process seeded it) is kept."""
        if not orders:
            return
        now = utcnow()
        order_rows = [
            {
                "order_id": o.order_id,
                "customer_id": o.customer_id,
                "status": o.status,
                "placed_at": o.placed_at,
                "delivered_at": o.delivered_at,
                "updated_at": now,
                "currency": o.currency,
                "email": o.email,
                "address": o.address,
                "carrier": o.carrier,
                "tracking_number": o.tracking_number,
                "cancel_reason": o.cancel_reason,
                "return_reason": o.return_reason,
            }
            for o in orders
        ]
        item_rows = [
            {
                "order_id": o.order_id,
                "item_id": i.item_id,
                "product_id": i.product_id,
                "name": i.name,
                "quantity": i.quantity,
                "unit_price_minor": i.unit_price_minor,
                "returned_quantity": i.returned_quantity,
            }
            for o in orders
            for i in o.items
        ]
        async with self._engine.begin() as conn:
            await conn.execute(self._insert(ORDERS).on_conflict_do_nothing(), order_rows)
            if item_rows:
                await conn.execute(self._insert(ORDER_ITEMS).on_conflict_do_nothing(), item_rows)

    async def set_status(
        self, order_id: str, *, expected: str, status: str, cancel_reason: str | None = None
    ) -> bool:
        """Move the order from ``expected`` to ``status``; False (nothing changed) when it was not ``expected``."""
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if cancel_reason is not None:
            values["cancel_reason"] = cancel_reason
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(ORDERS)
                .where(ORDERS.c.order_id == order_id, ORDERS.c.status == expected)
                .values(**values)
            )
        return bool(result.rowcount)

    async def set_address(self, order_id: str, *, expected: str, address: dict[str, str]) -> bool:
        """Replace the delivery address while the order is ``expected``; False when it no longer is."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(ORDERS)
                .where(ORDERS.c.order_id == order_id, ORDERS.c.status == expected)
                .values(address=address, updated_at=utcnow())
            )
        return bool(result.rowcount)

    async def request_return(
        self, order_id: str, item_ids: Sequence[str], *, expected: Sequence[str], reason: str
    ) -> bool:
        """Return the rest of each line and mark the order ``return_requested``, all or nothing.

        False (nothing changed) when the order left the ``expected`` statuses or a line was returned meanwhile.
        """
        try:
            async with self._engine.begin() as conn:
                await self._return_items(conn, order_id, item_ids, expected, reason)
        except _ChangedError:
            return False
        return True

    @staticmethod
    async def _return_items(
        conn: AsyncConnection, order_id: str, item_ids: Sequence[str], expected: Sequence[str], reason: str
    ) -> None:
        moved = await conn.execute(
            update(ORDERS)
            .where(ORDERS.c.order_id == order_id, ORDERS.c.status.in_(list(expected)))
            .values(status="return_requested", return_reason=reason, updated_at=utcnow())
        )
        if not moved.rowcount:
            raise _ChangedError
        returned = await conn.execute(
            update(ORDER_ITEMS)
            .where(
                ORDER_ITEMS.c.order_id == order_id,
                ORDER_ITEMS.c.item_id.in_(list(item_ids)),
                ORDER_ITEMS.c.returned_quantity < ORDER_ITEMS.c.quantity,
            )
            .values(returned_quantity=ORDER_ITEMS.c.quantity)
        )
        if returned.rowcount != len(set(item_ids)):
            raise _ChangedError  # rolls the status change back too

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """Record a handoff request; returns its id."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                HANDOFFS.insert().values(
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    summary=summary,
                    status="open",
                    created_at=utcnow(),
                )
            )
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def _insert(self, table: Table) -> Any:
        # INSERT … ON CONFLICT DO NOTHING is spelled the same on both, but only the dialects' insert() has it.
        if self._store.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
