"""shopchat 0.1's tables as its ``Base.metadata.create_all`` made them: a frozen copy, independent of the app."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

OLD_METADATA = MetaData()

Table(
    "conversations",
    OLD_METADATA,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(64), nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
)
Table(
    "messages",
    OLD_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("client_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("route", String(16), nullable=True),
    Column("status", String(16), nullable=False),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("recommendations", JSON, nullable=True),
    Column("feedback_rating", Integer, nullable=True),
    Column("feedback_comment", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("conversation_id", "role", "client_id", name="uq_message_client_id"),
)
Table(
    "events",
    OLD_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_events_conversation_seq", "conversation_id", "seq", unique=True),
)
