"""Every read and write the chat server makes, returning plain records.

Writes arrive as batches of plain values (``app.store.records.Write``) and are applied in one transaction, so
the conversation layer can group-commit the events of many conversations at once. Within this process writes
are serialised: SQLite has one writer, and taking turns here beats racing for its lock. On SQLite a batch
is written by one thread with the standard-library driver, in one hop from the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Executable, Insert, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from app.events import EVENT, Accepted, StoredEvent
from app.store.engine import SyncWriter, create_engine
from app.store.records import (
    AnswerStarted,
    ConversationRecord,
    MessageRecord,
    NewConversation,
    NewEvent,
    NewOperatorMessage,
    NewUserMessage,
    OwnerChanged,
    StoredPayload,
    Write,
)
from app.store.tables import Conversation, ConversationOwnerRow, EventRow, Message, utcnow

CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
OWNERS: Table = ConversationOwnerRow.__table__  # type: ignore[assignment]

_FINISH = (
    update(MESSAGES)
    .where(
        MESSAGES.c.conversation_id == bindparam("c_id"),
        MESSAGES.c.client_id == bindparam("m_id"),
        MESSAGES.c.role == "assistant",
    )
    .values(
        text=bindparam("text"),
        status=bindparam("status"),
        route=bindparam("route"),
        prompt_tokens=bindparam("prompt_tokens"),
        completion_tokens=bindparam("completion_tokens"),
        error_code=bindparam("error_code"),
        recommendations=bindparam("recommendations"),
        completed_at=bindparam("completed_at"),
    )
)
_OWNER_COLUMNS = ("state", "operator_id", "reason", "source", "since", "ticket_email", "updated_at")
_LAST_SEQ = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("c_id"))
    .values(last_seq=bindparam("seq"), updated_at=bindparam("now"))
)


def _message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        client_id=row.client_id,
        role=row.role,
        text=row.text,
        status=row.status,
        route=row.route,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        error_code=row.error_code,
        recommendations=row.recommendations,
        feedback_rating=row.feedback_rating,
        feedback_comment=row.feedback_comment,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class Store:
    """The chat server's persistence; each method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()
        self._sync_writer: SyncWriter | None = None
        self._writer_thread: ThreadPoolExecutor | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._sync_writer = SyncWriter(engine.url.set(drivername="sqlite+pysqlite"))
            self._writer_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="shopchat-sqlite-writer"
            )
        # Built once: a fresh INSERT … ON CONFLICT per batch costs the event loop about half a millisecond (its
        # ``excluded`` alias copies every column) and the writer a new compile-cache key.
        self._new_conversations = self._insert(CONVERSATIONS).on_conflict_do_nothing()
        started = self._insert(MESSAGES)
        self._answers_started = started.on_conflict_do_update(
            index_elements=["conversation_id", "role", "client_id"],
            set_={"text": "", "status": "streaming", "route": started.excluded.route},
        )
        owners = self._insert(OWNERS)
        self._owners_changed = owners.on_conflict_do_update(
            index_elements=["conversation_id"], set_={c: owners.excluded[c] for c in _OWNER_COLUMNS}
        )

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on a new engine for ``url``."""
        return cls(create_engine(url))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def write_lanes(self) -> int:
        """How many ``write`` batches for different conversations may usefully run at once."""
        # SQLite has one writer; PostgreSQL commits transactions on separate connections side by side.
        return 1 if self._sync_writer is not None or self.dialect == "sqlite" else 2

    async def close(self) -> None:
        """Dispose of the connection pools and the writer thread."""
        if self._sync_writer is not None and self._writer_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._sync_writer.close)
            self._writer_thread.shutdown(wait=False)
        await self.engine.dispose()

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    @staticmethod
    def new_conversation_id() -> str:
        """A fresh, unguessable conversation id."""
        return uuid.uuid4().hex

    # ---- reads ---------------------------------------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation, or None if nothing was ever stored in it."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id))
            ).first()
        if row is None:
            return None
        return ConversationRecord(
            id=row.id, customer_id=row.customer_id, created_at=row.created_at, last_seq=row.last_seq
        )

    async def messages(self, conversation_id: str) -> list[MessageRecord]:
        """All messages of a conversation, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(MESSAGES).where(MESSAGES.c.conversation_id == conversation_id).order_by(MESSAGES.c.id)
            )
            return [_message_record(row) for row in rows]

    async def payloads_after(
        self, conversation_id: str, seq: int, limit: int | None = None
    ) -> list[StoredPayload]:
        """Stored events with ``seq`` greater than the given one, in order, as their JSON; at most ``limit``."""
        query = (
            select(EVENTS.c.seq, EVENTS.c.payload)
            .where(EVENTS.c.conversation_id == conversation_id, EVENTS.c.seq > seq)
            .order_by(EVENTS.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [StoredPayload(seq=row.seq, payload=row.payload) for row in rows]

    async def events_after(self, conversation_id: str, seq: int) -> list[StoredEvent]:
        """Stored events with ``seq`` greater than the given one, in order."""
        return [EVENT.validate_json(p.payload) for p in await self.payloads_after(conversation_id, seq)]

    async def last_seq(self, conversation_id: str) -> int:
        """The newest stored event's ``seq`` (0 for none)."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(func.max(EVENTS.c.seq)).where(EVENTS.c.conversation_id == conversation_id)
            )
        return int(value or 0)

    async def find_accepted(self, conversation_id: str, client_id: str) -> Accepted | None:
        """The ``accepted`` event of a stored user message, or None."""
        async with self.engine.connect() as conn:
            payload = await conn.scalar(
                select(EVENTS.c.payload).where(
                    EVENTS.c.conversation_id == conversation_id,
                    EVENTS.c.message_id == client_id,
                    EVENTS.c.type == "accepted",
                )
            )
        if payload is None:
            return None
        found = EVENT.validate_json(payload)
        return found if isinstance(found, Accepted) else None

    async def pending_answers(self, conversation_id: str) -> list[Accepted]:
        """User messages whose answer never finished (the server stopped mid-answer), oldest first."""
        answered = (
            select(MESSAGES.c.client_id)
            .where(
                MESSAGES.c.conversation_id == conversation_id,
                MESSAGES.c.role == "assistant",
                MESSAGES.c.status != "streaming",
            )
            .scalar_subquery()
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(EVENTS.c.payload)
                .where(
                    EVENTS.c.conversation_id == conversation_id,
                    EVENTS.c.type == "accepted",
                    EVENTS.c.message_id.not_in(answered),
                )
                .order_by(EVENTS.c.seq)
            )
            found = [EVENT.validate_json(row.payload) for row in rows]
        return [event for event in found if isinstance(event, Accepted)]

    # ---- writes --------------------------------------------------------------------------------------

    async def write(self, writes: Sequence[Write]) -> None:
        """Apply a batch of writes in one transaction; a failure applies none of them."""
        if not writes:
            return
        statements = self._statements(writes)
        if self._sync_writer is not None:
            # SQLite: the whole batch in one hop to a writer thread, not one hop per statement.
            await asyncio.get_running_loop().run_in_executor(
                self._writer_thread, self._sync_writer.write, statements
            )
            return
        if self.dialect == "sqlite":
            async with self._write_lock:  # in-memory SQLite (tests): one writer at a time
                await self._write_async(statements)
            return
        # PostgreSQL: batches for different conversations (the event log's lanes) commit side by side.
        await self._write_async(statements)

    async def _write_async(self, statements: list[tuple[Executable, list[dict[str, Any]]]]) -> None:
        async with self.engine.begin() as conn:
            for statement, rows in statements:
                await conn.execute(statement, rows)

    def _statements(self, writes: Sequence[Write]) -> list[tuple[Executable, list[dict[str, Any]]]]:
        # One statement per kind (executemany); the order of kinds keeps foreign keys and answer lifecycles
        # valid whatever order the batch lists them in.
        now = utcnow()
        conversations: list[dict[str, Any]] = []
        users: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        finished: list[dict[str, Any]] = []
        owners: dict[str, dict[str, Any]] = {}
        last_seq: dict[str, int] = {}
        for w in writes:
            if isinstance(w, NewEvent):
                events.append(
                    {
                        "conversation_id": w.conversation_id,
                        "seq": w.seq,
                        "type": w.type,
                        "message_id": w.message_id,
                        "payload": w.payload,
                        "created_at": now,
                    }
                )
                last_seq[w.conversation_id] = max(w.seq, last_seq.get(w.conversation_id, 0))
            elif isinstance(w, NewConversation):
                conversations.append(
                    {
                        "id": w.conversation_id,
                        "customer_id": w.customer_id,
                        "created_at": now,
                        "updated_at": now,
                        "last_seq": 0,
                    }
                )
            elif isinstance(w, NewUserMessage):
                users.append(
                    {
                        "conversation_id": w.conversation_id,
                        "client_id": w.client_id,
                        "role": "user",
                        "text": w.text,
                        "status": "done",
                        "created_at": w.created_at,
                    }
                )
            elif isinstance(w, OwnerChanged):
                # The newest change of a batch wins: one row per conversation.
                owners[w.conversation_id] = {
                    "conversation_id": w.conversation_id,
                    "state": w.state,
                    "operator_id": w.operator_id,
                    "reason": w.reason,
                    "source": w.source,
                    "since": w.since,
                    "ticket_email": w.ticket_email,
                    "updated_at": now,
                }
            elif isinstance(w, NewOperatorMessage):
                users.append(
                    {
                        "conversation_id": w.conversation_id,
                        "client_id": w.client_id,
                        "role": "operator",
                        "text": w.text,
                        "status": "done",
                        "created_at": w.created_at,
                        "operator_id": w.operator_id,
                    }
                )
            elif isinstance(w, AnswerStarted):
                started.append(
                    {
                        "conversation_id": w.conversation_id,
                        "client_id": w.client_id,
                        "role": "assistant",
                        "text": "",
                        "route": w.route,
                        "status": "streaming",
                        "created_at": now,
                    }
                )
            else:
                finished.append(
                    {
                        "c_id": w.conversation_id,
                        "m_id": w.client_id,
                        "text": w.text,
                        "status": w.status,
                        "route": w.route,
                        "prompt_tokens": w.prompt_tokens,
                        "completion_tokens": w.completion_tokens,
                        "error_code": w.error_code,
                        "recommendations": {"items": list(w.recommendations)} if w.recommendations else None,
                        "completed_at": now,
                    }
                )
        statements: list[tuple[Executable, list[dict[str, Any]]]] = []
        if conversations:
            statements.append((self._new_conversations, conversations))
        if owners:
            statements.append((self._owners_changed, list(owners.values())))
        for row in users:
            row.setdefault("operator_id", None)  # executemany wants the same keys in every row
        if users:
            statements.append((MESSAGES.insert(), users))
        if started:
            statements.append((self._answers_started, started))
        if events:
            statements.append((EVENTS.insert(), events))
        if finished:
            statements.append((_FINISH, finished))
        if last_seq:
            statements.append(
                (_LAST_SEQ, [{"c_id": c, "seq": seq, "now": now} for c, seq in last_seq.items()])
            )
        return statements

    def _insert(self, table: Table) -> Any:
        # INSERT … ON CONFLICT is spelled the same on both, but only the dialects' own insert() offers it.
        if self.dialect == "postgresql":
            stmt: Insert = postgresql.insert(table)
        else:
            stmt = sqlite.insert(table)
        return stmt

    async def set_feedback(
        self, conversation_id: str, client_id: str, rating: int, comment: str | None
    ) -> bool:
        """Attach feedback to the answer to ``client_id``; False when there is no such answer."""
        async with self._write_lock, self.engine.begin() as conn:
            result = await conn.execute(
                update(MESSAGES)
                .where(
                    MESSAGES.c.conversation_id == conversation_id,
                    MESSAGES.c.client_id == client_id,
                    MESSAGES.c.role == "assistant",
                )
                .values(feedback_rating=rating, feedback_comment=comment)
            )
            return bool(result.rowcount)
