"""Who answers each conversation, read back for the hub (on open) and the operators' inbox (the queue).

Owners are written through the event log (``OwnerChanged`` in ``Store.write``), in the transaction of the
``handoff`` event that announces the change; this module only reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select

from app.store.records import OwnerRecord
from app.store.store import CONVERSATIONS, OWNERS, Store
from app.store.tables import OperatorRow, aware

OPERATORS: Table = OperatorRow.__table__  # type: ignore[assignment]

QUEUE_LIMIT = 200
"""Conversations the inbox lists at most (waiting ones first)."""


def _record(row: Any) -> OwnerRecord:
    return OwnerRecord(
        conversation_id=row.conversation_id,
        state=row.state,
        operator_id=row.operator_id,
        operator_name=row.name,
        reason=row.reason,
        source=row.source,
        since=aware(row.since) if row.since is not None else None,
        ticket_email=row.ticket_email,
        updated_at=aware(row.updated_at),
        customer_id=row.customer_id,
    )


class OwnerStore:
    """Reads of ``conversation_owners`` on a ``Store``'s engine."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _select(self) -> Any:
        return (
            select(OWNERS, OPERATORS.c.name, CONVERSATIONS.c.customer_id)
            .join(OPERATORS, OPERATORS.c.id == OWNERS.c.operator_id, isouter=True)
            .join(CONVERSATIONS, CONVERSATIONS.c.id == OWNERS.c.conversation_id)
        )

    async def get(self, conversation_id: str) -> OwnerRecord | None:
        """The conversation's owner row (None: the assistant has always answered it)."""
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(self._select().where(OWNERS.c.conversation_id == conversation_id))
            ).first()
        return _record(row) if row is not None else None

    async def queue(self) -> list[OwnerRecord]:
        """Conversations waiting for a person (longest waiting first), then those a person holds, then
        tickets (a customer left an email while nobody was there)."""
        order = {"waiting": 0, "human": 1}
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                self._select()
                .where(
                    OWNERS.c.state.in_(("waiting", "human")) | OWNERS.c.ticket_email.is_not(None),
                )
                .order_by(OWNERS.c.since, OWNERS.c.updated_at)
                .limit(QUEUE_LIMIT)
            )
            found = [_record(row) for row in rows]
        return sorted(found, key=lambda r: order.get(r.state, 2))

    async def count_waiting(self) -> int:
        """Conversations waiting for a person now."""
        async with self._store.engine.connect() as conn:
            found = await conn.scalar(
                select(func.count()).select_from(OWNERS).where(OWNERS.c.state == "waiting")
            )
        return int(found or 0)
