"""Persistence with SQLAlchemy async: conversations, messages and the per-conversation event log.

SQLite (WAL) is the embedded default; PostgreSQL works through ``SHOPCHAT_DATABASE_URL``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

from app.protocol import EVENT, Accepted, Delta, Done, Error, Recommendations, Reset

StoredEvent = Accepted | Delta | Reset | Recommendations | Done | Error
MessageStatus = Literal["streaming", "done", "stopped", "failed"]
EventBuilder = Callable[[int], StoredEvent]


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the store uses."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of shopchat's tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Conversation(Base):
    """One chat between a visitor and the assistant."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """A user message or an assistant answer; an answer shares ``client_id`` with the message it answers."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "role", "client_id", name="uq_message_client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    route: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="done")
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    recommendations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    feedback_rating: Mapped[int | None] = mapped_column(Integer)
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EventRow(Base):
    """One server event, stored before it is sent so a reconnecting client can replay it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_conversation_seq", "conversation_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """A finished message as the prompt builder needs it."""

    role: Literal["user", "assistant"]
    text: str


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets the replay reads run while an answer is being written; NORMAL sync is durable in WAL mode
    # against process crashes, which is the failure we care about.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``, with SQLite tuned for concurrent readers."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Store:
    """Every read and write the chat server makes; each method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on a new engine for ``url``."""
        return cls(create_engine(url))

    async def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self.engine.dispose()

    # ---- conversations -----------------------------------------------------------------------------

    @staticmethod
    def new_conversation_id() -> str:
        """A fresh, unguessable conversation id."""
        return uuid.uuid4().hex

    async def ensure_conversation(self, conversation_id: str, customer_id: str | None) -> None:
        """Create the conversation row on its first message; visitors who never write cost nothing."""
        async with self.sessions() as session:
            if await session.get(Conversation, conversation_id) is not None:
                return
        try:
            async with self.sessions.begin() as session:
                session.add(Conversation(id=conversation_id, customer_id=customer_id))
        except IntegrityError:
            pass  # another connection created it first

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None."""
        async with self.sessions() as session:
            return await session.get(Conversation, conversation_id)

    async def messages(self, conversation_id: str) -> list[Message]:
        """All messages of a conversation, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
            return list(rows)

    # ---- events ------------------------------------------------------------------------------------

    async def _next_seq(self, session: AsyncSession, conversation_id: str) -> int:
        # The UPDATE takes the row lock, so concurrent writers (several workers) never share a seq.
        seq = await session.scalar(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1, updated_at=utcnow())
            .returning(Conversation.last_seq)
        )
        if seq is None:
            raise LookupError(f"conversation {conversation_id} does not exist")
        return int(seq)

    async def append_event(self, conversation_id: str, build: EventBuilder) -> StoredEvent:
        """Give the event the next ``seq``, store it and return it."""
        async with self.sessions.begin() as session:
            seq = await self._next_seq(session, conversation_id)
            stored = build(seq)
            session.add(
                EventRow(
                    conversation_id=conversation_id,
                    seq=seq,
                    type=stored.type,
                    payload=stored.model_dump_json(),
                )
            )
        return stored

    async def events_after(self, conversation_id: str, seq: int) -> list[StoredEvent]:
        """Stored events with ``seq`` greater than the given one, in order."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(EventRow.payload)
                .where(EventRow.conversation_id == conversation_id, EventRow.seq > seq)
                .order_by(EventRow.seq)
            )
            return [EVENT.validate_json(payload) for payload in rows]

    # ---- messages ----------------------------------------------------------------------------------

    async def accept_user_message(
        self, conversation_id: str, client_id: str, text: str
    ) -> tuple[Accepted, bool]:
        """Store a user message and its ``accepted`` event atomically; a known ``client_id`` returns the old one.

        Returns the event and whether the message is new.
        """
        try:
            async with self.sessions.begin() as session:
                now = utcnow()
                session.add(
                    Message(
                        conversation_id=conversation_id,
                        client_id=client_id,
                        role="user",
                        text=text,
                        status="done",
                        created_at=now,
                    )
                )
                await session.flush()
                seq = await self._next_seq(session, conversation_id)
                accepted = Accepted(seq=seq, message_id=client_id, text=text, created_at=now.isoformat())
                session.add(
                    EventRow(
                        conversation_id=conversation_id,
                        seq=seq,
                        type=accepted.type,
                        payload=accepted.model_dump_json(),
                    )
                )
            return accepted, True
        except IntegrityError:
            existing = await self._accepted_event(conversation_id, client_id)
            if existing is None:
                raise
            return existing, False

    async def _accepted_event(self, conversation_id: str, client_id: str) -> Accepted | None:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(EventRow.payload).where(
                    EventRow.conversation_id == conversation_id, EventRow.type == "accepted"
                )
            )
            for payload in rows:
                found = EVENT.validate_json(payload)
                if isinstance(found, Accepted) and found.message_id == client_id:
                    return found
        return None

    async def start_answer(self, conversation_id: str, client_id: str, route: str) -> None:
        """Record that the answer to ``client_id`` is being generated (idempotent: restarts reset it)."""
        async with self.sessions.begin() as session:
            existing = await session.scalar(
                select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.client_id == client_id,
                    Message.role == "assistant",
                )
            )
            if existing is None:
                session.add(
                    Message(
                        conversation_id=conversation_id,
                        client_id=client_id,
                        role="assistant",
                        text="",
                        route=route,
                        status="streaming",
                    )
                )
            else:
                existing.status = "streaming"
                existing.route = route
                existing.text = ""

    async def finish_answer(
        self,
        conversation_id: str,
        client_id: str,
        *,
        text: str,
        status: MessageStatus,
        route: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        error_code: str | None = None,
        recommendations: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Store the final (or partial) answer with its outcome."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.client_id == client_id,
                    Message.role == "assistant",
                )
                .values(
                    text=text,
                    status=status,
                    route=route,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    error_code=error_code,
                    recommendations={"items": list(recommendations)} if recommendations else None,
                    completed_at=utcnow(),
                )
            )

    async def pending_answers(self, conversation_id: str) -> list[Accepted]:
        """User messages whose answer never finished (the server stopped mid-answer), oldest first."""
        async with self.sessions() as session:
            finished = set(
                await session.scalars(
                    select(Message.client_id).where(
                        Message.conversation_id == conversation_id,
                        Message.role == "assistant",
                        Message.status != "streaming",
                    )
                )
            )
            rows = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.role == "user")
                .order_by(Message.id)
            )
            pending = [m for m in rows if m.client_id not in finished]
        out = []
        for message in pending:
            accepted = await self._accepted_event(conversation_id, message.client_id)
            if accepted is not None:
                out.append(accepted)
        return out

    async def history(
        self, conversation_id: str, *, before_client_id: str, limit: int = 200
    ) -> list[HistoryTurn]:
        """Finished turns before the given user message, oldest first, for the prompt."""
        async with self.sessions() as session:
            anchor = await session.scalar(
                select(Message.id).where(
                    Message.conversation_id == conversation_id,
                    Message.client_id == before_client_id,
                    Message.role == "user",
                )
            )
            query = select(Message).where(Message.conversation_id == conversation_id)
            if anchor is not None:
                query = query.where(Message.id < anchor)
            rows = list(await session.scalars(query.order_by(Message.id.desc()).limit(limit)))
        turns: list[HistoryTurn] = []
        for row in reversed(rows):
            if row.role == "user":
                turns.append(HistoryTurn(role="user", text=row.text))
            elif row.text and row.status in ("done", "stopped"):
                turns.append(HistoryTurn(role="assistant", text=row.text))
        return turns

    async def set_feedback(
        self, conversation_id: str, client_id: str, rating: int, comment: str | None
    ) -> bool:
        """Attach feedback to the answer to ``client_id``; False when there is no such answer."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.client_id == client_id,
                    Message.role == "assistant",
                )
                .values(feedback_rating=rating, feedback_comment=comment)
            )
            return bool(getattr(result, "rowcount", 0))
