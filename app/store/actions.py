"""Actions waiting for the customer's confirmation, and the identity a conversation proved, as plain records.

A decision is one compare-and-set statement (``… WHERE status = 'pending' AND expires_at > now``): a confirmation
sent twice, from two tabs or through two processes is decided once, and the others are told it was already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.store.store import Store
from app.store.tables import ActionRow, VerificationRow, aware, utcnow

ACTIONS: Table = ActionRow.__table__  # type: ignore[assignment]
VERIFICATIONS: Table = VerificationRow.__table__  # type: ignore[assignment]

ActionStatus = Literal["pending", "approved", "declined", "expired", "superseded"]


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """A stored change waiting for the customer (``pending``) or decided."""

    action_id: str
    conversation_id: str
    message_id: str
    call_id: str
    tool: str
    arguments: dict[str, Any]
    summary: str
    customer_id: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the confirmation can no longer be given."""
        return aware(self.expires_at) <= now


@dataclass(frozen=True, slots=True)
class Verification:
    """Whom the conversation's customer proved to be (None: nobody yet) and how many proofs failed."""

    customer_id: str | None
    failures: int


def _record(row: Any) -> ActionRecord:
    return ActionRecord(
        action_id=row.action_id,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
        call_id=row.call_id,
        tool=row.tool,
        arguments=dict(row.arguments),
        summary=row.summary,
        customer_id=row.customer_id,
        status=row.status,
        created_at=aware(row.created_at),
        expires_at=aware(row.expires_at),
        decided_at=aware(row.decided_at) if row.decided_at is not None else None,
    )


class ActionStore:
    """Reads and writes of actions and verifications on a ``Store``'s engine; each method is one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine

    async def propose(self, action: ActionRecord) -> None:
        """Store a pending action; any other action still pending in its conversation is superseded."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(ACTIONS)
                .where(
                    ACTIONS.c.conversation_id == action.conversation_id,
                    ACTIONS.c.status == "pending",
                )
                .values(status="superseded", decided_at=utcnow())
            )
            await conn.execute(
                ACTIONS.insert().values(
                    action_id=action.action_id,
                    conversation_id=action.conversation_id,
                    message_id=action.message_id,
                    call_id=action.call_id,
                    tool=action.tool,
                    arguments=action.arguments,
                    summary=action.summary,
                    customer_id=action.customer_id,
                    status="pending",
                    created_at=action.created_at,
                    expires_at=action.expires_at,
                )
            )

    async def get(self, action_id: str) -> ActionRecord | None:
        """The action, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(ACTIONS).where(ACTIONS.c.action_id == action_id))).first()
        return _record(row) if row is not None else None

    async def pending(self, conversation_id: str) -> ActionRecord | None:
        """The conversation's action still waiting for the customer (it may have expired), or None."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(ACTIONS)
                    .where(ACTIONS.c.conversation_id == conversation_id, ACTIONS.c.status == "pending")
                    .order_by(ACTIONS.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        return _record(row) if row is not None else None

    async def decide(self, action_id: str, *, approve: bool, now: datetime | None = None) -> bool:
        """Approve or decline a pending, unexpired action; False when it was decided already or has expired."""
        now = now or utcnow()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(ACTIONS)
                .where(
                    ACTIONS.c.action_id == action_id,
                    ACTIONS.c.status == "pending",
                    ACTIONS.c.expires_at > now,
                )
                .values(status="approved" if approve else "declined", decided_at=now)
            )
        return bool(result.rowcount)

    async def expire(self, action_id: str) -> None:
        """Mark a pending action that ran out of time as expired (nothing else changes)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(ACTIONS)
                .where(ACTIONS.c.action_id == action_id, ACTIONS.c.status == "pending")
                .values(status="expired", decided_at=utcnow())
            )

    async def verification(self, conversation_id: str) -> Verification:
        """Whom the conversation proved to be, and its failed proofs."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(VERIFICATIONS).where(VERIFICATIONS.c.conversation_id == conversation_id)
                )
            ).first()
        return Verification(row.customer_id, row.failures) if row is not None else Verification(None, 0)

    async def verified(self, conversation_id: str, customer_id: str) -> None:
        """Record that the conversation's customer proved to be ``customer_id``."""
        await self._upsert(conversation_id, {"customer_id": customer_id})

    async def failed(self, conversation_id: str) -> int:
        """Count one failed proof; returns the failures so far."""
        async with self._engine.begin() as conn:
            insert = self._insert().values(
                conversation_id=conversation_id, customer_id=None, failures=1, updated_at=utcnow()
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[VERIFICATIONS.c.conversation_id],
                    set_={"failures": VERIFICATIONS.c.failures + 1, "updated_at": utcnow()},
                )
            )
            count = await conn.scalar(
                select(VERIFICATIONS.c.failures).where(VERIFICATIONS.c.conversation_id == conversation_id)
            )
        return int(count or 0)

    async def _upsert(self, conversation_id: str, values: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            insert = self._insert().values(
                conversation_id=conversation_id, failures=0, updated_at=utcnow(), **values
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[VERIFICATIONS.c.conversation_id],
                    set_={**values, "updated_at": utcnow()},
                )
            )

    def _insert(self) -> Any:
        if self._store.dialect == "postgresql":
            return postgresql.insert(VERIFICATIONS)
        return sqlite.insert(VERIFICATIONS)
