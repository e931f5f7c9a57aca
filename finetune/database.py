"""Conversations shopchat recorded, read from its store page by page as training records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store.engine import create_engine
from app.store.tables import Conversation, Message
from finetune.errors import ErrorCode, FinetuneError
from finetune.records import Origin
from finetune.sources import Kind, RawRecord

STORE_SOURCE = "store"


class FeedbackFilter(StrEnum):
    """``positive``: only conversations with a thumbs-up and no thumbs-down; ``any``: all."""

    ANY = "any"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """Which recorded conversations to read."""

    url: str
    feedback: FeedbackFilter = FeedbackFilter.ANY
    route: str | None = None
    page_size: int = 500
    # Operators' answers (role "operator") as assistant turns: a person's answer is the best example there is.
    # Without them, a conversation ends where a person was first involved.
    operator_answers: bool = True


def _conversation_ids(query: StoreQuery, after: str) -> Any:
    stmt = (
        select(Conversation.id)
        .where(Conversation.id > after)
        .order_by(Conversation.id)
        .limit(query.page_size)
    )
    answer = Message.conversation_id == Conversation.id
    if query.feedback == FeedbackFilter.POSITIVE:
        stmt = stmt.where(exists().where(answer, Message.feedback_rating > 0))
        stmt = stmt.where(~exists().where(answer, Message.feedback_rating < 0))
    if query.route is not None:
        stmt = stmt.where(exists().where(answer, Message.role == "assistant", Message.route == query.route))
    return stmt


async def _page(
    sessions: async_sessionmaker[AsyncSession], query: StoreQuery, after: str
) -> list[tuple[str, list[Message]]]:
    async with sessions() as session:
        ids = list(await session.scalars(_conversation_ids(query, after)))
        if not ids:
            return []
        rows = await session.scalars(
            select(Message)
            .where(Message.conversation_id.in_(ids))
            .order_by(Message.conversation_id, Message.id)
        )
        grouped: dict[str, list[Message]] = {cid: [] for cid in ids}
        for row in rows:
            grouped[row.conversation_id].append(row)
    return list(grouped.items())


def to_example(messages: list[Message], route: str | None, operator_answers: bool = True) -> dict[str, Any]:
    """A stored conversation as a chat example.

    Unfinished or failed answers are left out; answers rated down, or from another route than the one asked
    for, stay as context with weight 0 so the model does not learn from them. The assistant never writes
    while a person owns a conversation (those messages are ``held``, with no text); a person's answers are
    assistant turns with ``operator_answers``, else the example stops where a person was first involved.
    """
    out: list[dict[str, Any]] = []
    for row in messages:
        if not operator_answers and (row.role == "operator" or row.status == "held"):
            # What the customer asked the person is not the assistant's to answer: it goes too.
            while out and out[-1]["role"] == "user":
                out.pop()
            break
        if row.role == "operator" and row.text:
            out.append({"role": "assistant", "content": row.text})
        elif row.role == "user":
            out.append({"role": "user", "content": row.text})
        elif row.role == "assistant" and row.status == "done" and row.text:
            message: dict[str, Any] = {"role": "assistant", "content": row.text}
            if (row.feedback_rating is not None and row.feedback_rating < 0) or (
                route is not None and row.route != route
            ):
                message["weight"] = 0
            out.append(message)
    return {"messages": out}


def read_store(query: StoreQuery) -> Iterator[RawRecord]:
    """One record per matching conversation, in id order, a page at a time."""
    loop = asyncio.new_event_loop()
    engine = create_engine(query.url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    record = 0
    after = ""
    try:
        while True:
            try:
                page = loop.run_until_complete(_page(sessions, query, after))
            except SQLAlchemyError as exc:
                raise FinetuneError(
                    ErrorCode.DATABASE, f"cannot read conversations from the store: {exc}"
                ) from exc
            if not page:
                return
            for conversation_id, messages in page:
                record += 1
                origin = Origin(STORE_SOURCE, record, key=conversation_id)
                yield RawRecord(origin, Kind.CHAT, to_example(messages, query.route, query.operator_answers))
            after = page[-1][0]
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()
