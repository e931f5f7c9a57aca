"""Owners stored through Store.write and read back by OwnerStore; revision 0006 and its downgrade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from app.store.migrate import current, upgrade
from app.store.operators import OperatorStore
from app.store.owners import OwnerStore
from app.store.records import NewConversation, NewOperatorMessage, OwnerChanged
from app.store.store import Store
from tests.conftest import reset_database, sqlite_url
from tests.store.test_migrations import alembic, on_connection

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "chat.db")
    else:
        url = request.getfixturevalue("postgres_url")
        await reset_database(url)
    await upgrade(url)
    store = Store.from_url(url)
    try:
        yield store
    finally:
        await store.close()


def owner(conversation_id: str, state: str, **more: object) -> OwnerChanged:
    fields: dict[str, object] = {
        "operator_id": None,
        "reason": None,
        "source": None,
        "since": None,
        "ticket_email": None,
    }
    fields.update(more)
    return OwnerChanged(conversation_id, state, **fields)  # type: ignore[arg-type]


async def test_the_newest_owner_of_a_conversation_is_kept(store: Store) -> None:
    anna = await OperatorStore(store).add("anna", "$scrypt$x")
    await store.write([NewConversation("c1", "12347"), owner("c1", "waiting", reason="refund", since=T0)])
    await store.write([owner("c1", "human", operator_id=anna.id, reason="refund", since=T0)])
    found = await OwnerStore(store).get("c1")
    assert found is not None
    assert (found.state, found.operator_name, found.reason, found.customer_id) == (
        "human",
        "anna",
        "refund",
        "12347",
    )
    assert found.since == T0


async def test_a_conversation_without_a_row_has_no_stored_owner(store: Store) -> None:
    await store.write([NewConversation("c1", None)])
    assert await OwnerStore(store).get("c1") is None


async def test_the_queue_lists_waiting_first_then_people_then_tickets(store: Store) -> None:
    await store.write([NewConversation(c, None) for c in ("a", "b", "c", "d", "e")])
    await store.write(
        [
            owner("a", "human", since=T0),
            owner("b", "waiting", since=T0.replace(hour=13)),
            owner("c", "waiting", since=T0.replace(hour=11)),
            owner("d", "bot", ticket_email="d@example.com", since=T0),
            owner("e", "bot"),
        ]
    )
    assert [r.conversation_id for r in await OwnerStore(store).queue()] == ["c", "b", "a", "d"]


async def test_operator_messages_are_stored_with_their_author(store: Store) -> None:
    anna = await OperatorStore(store).add("anna", "$scrypt$x")
    await store.write([NewConversation("c1", None), NewOperatorMessage("c1", "op-1", "Hello", anna.id, T0)])
    [message] = await store.messages("c1")
    assert (message.role, message.client_id, message.text) == ("operator", "op-1", "Hello")


async def test_revision_0006_adds_owners_and_its_downgrade_removes_them(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "migrated.db")
    await on_connection(url, alembic(lambda config: command.upgrade(config, "0005")))
    before = await on_connection(url, lambda conn: set(inspect(conn).get_table_names()))
    await on_connection(url, alembic(lambda config: command.upgrade(config, "0006")))
    after = await on_connection(url, lambda conn: set(inspect(conn).get_table_names()))
    columns = await on_connection(
        url, lambda conn: {c["name"] for c in inspect(conn).get_columns("messages")}
    )
    assert after - before == {"conversation_owners"}
    assert "operator_id" in columns
    await on_connection(url, alembic(lambda config: command.downgrade(config, "0005")))
    assert await on_connection(url, lambda conn: set(inspect(conn).get_table_names())) == before
    assert await current(url) == "0005"
