"""Schema migrations on SQLite and, when ``SHOPCHAT_TEST_POSTGRES_URL`` is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from app.errors import ConfigError, ErrorCode
from app.events import Accepted, Delta, Done, Error, StoredEvent, Usage
from app.settings import Settings
from app.store.cli import db_app
from app.store.engine import create_engine
from app.store.migrate import alembic_config, current, head, upgrade
from app.store.records import AnswerStarted, NewEvent, NewUserMessage
from app.store.store import Store
from app.store.tables import Base
from app.web.application import create_app
from app.web.auth import TokenSigner
from tests.conftest import TEST_SECRET, sqlite_url
from tests.fakes import FixedRecommender, ScriptedModel
from tests.store.old_schema import OLD_METADATA
from tests.wsutil import receive_until

ROOT = Path(__file__).resolve().parents[2]
CONV = "c0ffee00c0ffee00c0ffee00c0ffee00"
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

# What shopchat 0.1 stored for one conversation: m1 answered, m2 failed, m3 cut off mid-answer by a restart,
# and an error that belongs to no message.
OLD_EVENTS: list[StoredEvent] = [
    Accepted(seq=1, message_id="m1", text="Where is my order?", created_at=T0.isoformat()),
    Delta(seq=2, message_id="m1", text="It ships "),
    Done(
        seq=3,
        message_id="m1",
        route="chat",
        text="It ships today.",
        usage=Usage(prompt_tokens=9, completion_tokens=4),
    ),
    Accepted(seq=4, message_id="m2", text="And returns?", created_at=T0.isoformat()),
    Error(seq=5, code=ErrorCode.MODEL_TIMEOUT, message="The model took too long.", reply_to="m2"),
    Accepted(seq=6, message_id="m3", text="Thanks!", created_at=T0.isoformat()),
    Delta(seq=7, message_id="m3", text="You are "),
    Error(seq=8, code=ErrorCode.INTERNAL, message="Something went wrong.", reply_to=None),
]
OLD_MESSAGE_IDS = {1: "m1", 2: "m1", 3: "m1", 4: "m2", 5: "m2", 6: "m3", 7: "m3", 8: None}
OLD_MESSAGES = [
    ("m1", "user", "Where is my order?", "done", None),
    ("m1", "assistant", "It ships today.", "done", None),
    ("m2", "user", "And returns?", "done", None),
    ("m2", "assistant", "", "failed", "model_timeout"),
    ("m3", "user", "Thanks!", "done", None),
    ("m3", "assistant", "You are ", "streaming", None),
]


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url``, dropped afterwards."""
    # Named by process so that concurrent test runs on one server never share it.
    name = f"shopchat_test_migrations_{os.getpid()}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "chat.db")
        return
    async with scratch_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
async def old_url(empty_url: str) -> str:
    """A database as shopchat 0.1 left it: its ``create_all`` schema, no ``alembic_version``, one conversation."""
    engine = create_engine(empty_url)
    tables = OLD_METADATA.tables
    async with engine.begin() as conn:
        await conn.run_sync(OLD_METADATA.create_all)
        await conn.execute(
            tables["conversations"].insert(),
            {"id": CONV, "customer_id": "12347", "created_at": T0, "updated_at": T0, "last_seq": 8},
        )
        await conn.execute(
            tables["messages"].insert(),
            [
                {
                    "conversation_id": CONV,
                    "client_id": client_id,
                    "role": role,
                    "text": body,
                    "status": status,
                    "error_code": error_code,
                    "created_at": T0,
                }
                for client_id, role, body, status, error_code in OLD_MESSAGES
            ],
        )
        await conn.execute(
            tables["events"].insert(),
            [
                {
                    "conversation_id": CONV,
                    "seq": e.seq,
                    "type": e.type,
                    "payload": e.model_dump_json(),
                    "created_at": T0,
                }
                for e in OLD_EVENTS
            ],
        )
    await engine.dispose()
    return empty_url


@pytest.fixture
async def old_store(old_url: str) -> AsyncIterator[Store]:
    """A store on the old database after ``upgrade``."""
    assert await upgrade(old_url) == ["0002", "0003", "0004", "0005", "0006"]
    store = Store.from_url(old_url)
    try:
        yield store
    finally:
        await store.close()


async def on_connection(url: str, work: Callable[[Connection], Any]) -> Any:
    """Run ``work`` on a sync connection to ``url`` in one transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def alembic(action: Callable[[Config], None]) -> Callable[[Connection], None]:
    """An Alembic command run on the given connection, as ``upgrade`` runs them."""

    def run(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        action(config)

    return run


def differences(metadata: MetaData) -> Callable[[Connection], list[Any]]:
    """What autogenerate would change to make the database match ``metadata`` (empty: they are equal)."""

    def diff(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))

    return diff


def schema_dump(conn: Connection) -> list[tuple[Any, ...]]:
    """Every table, column, constraint and index as the database itself describes them, but alembic_version."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '%alembic%' ORDER BY name")
        )
        return [tuple(row) for row in rows]
    columns = conn.execute(
        text(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'alembic_version' "
            "ORDER BY table_name, column_name"
        )
    )
    constraints = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'alembic_version' "
            "ORDER BY 1, 2"
        )
    )
    indexes = conn.execute(
        text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY 1, 2"
        )
    )
    return [tuple(row) for result in (columns, constraints, indexes) for row in result]


# ---- databases made by shopchat 0.1 ------------------------------------------------------------------


async def test_old_database_is_adopted_as_0001_and_upgraded(old_url: str) -> None:
    assert await current(old_url) is None
    assert await upgrade(old_url) == ["0002", "0003", "0004", "0005", "0006"]
    assert await current(old_url) == head() == "0006"


async def test_old_events_are_all_still_readable(old_store: Store) -> None:
    stored = await old_store.payloads_after(CONV, 0)
    assert [(p.seq, p.payload) for p in stored] == [(e.seq, e.model_dump_json()) for e in OLD_EVENTS]
    assert await old_store.events_after(CONV, 0) == OLD_EVENTS


async def test_old_events_get_their_message_id(old_store: Store) -> None:
    async with old_store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT seq, message_id FROM events ORDER BY seq"))
        assert dict(rows.all()) == OLD_MESSAGE_IDS


async def test_old_accepted_event_is_found_through_message_id(old_store: Store) -> None:
    assert await old_store.find_accepted(CONV, "m1") == OLD_EVENTS[0]
    assert await old_store.find_accepted(CONV, "m9") is None


async def test_old_unfinished_answer_is_still_pending(old_store: Store) -> None:
    assert await old_store.pending_answers(CONV) == [OLD_EVENTS[5]]


async def test_old_conversation_continues(old_store: Store) -> None:
    accepted = Accepted(seq=9, message_id="m4", text="One more thing", created_at=T0.isoformat())
    delta = Delta(seq=10, message_id="m4", text="Sure")
    await old_store.write(
        [
            NewUserMessage(CONV, "m4", accepted.text, T0),
            NewEvent(CONV, 9, "accepted", "m4", accepted.model_dump_json()),
            AnswerStarted(CONV, "m4", "chat"),
            NewEvent(CONV, 10, "delta", "m4", delta.model_dump_json()),
        ]
    )
    assert await old_store.events_after(CONV, 8) == [accepted, delta]
    assert await old_store.find_accepted(CONV, "m4") == accepted
    assert await old_store.pending_answers(CONV) == [OLD_EVENTS[5], accepted]
    conversation = await old_store.get_conversation(CONV)
    assert conversation is not None
    assert conversation.last_seq == 10


async def test_unversioned_database_that_is_not_the_old_schema_is_refused(empty_url: str) -> None:
    await on_connection(empty_url, Base.metadata.create_all)
    with pytest.raises(ConfigError, match="no schema revision"):
        await upgrade(empty_url)


# ---- fresh databases and revisions -------------------------------------------------------------------


async def test_fresh_database_gets_exactly_the_models_schema(empty_url: str) -> None:
    assert await upgrade(empty_url) == ["0001", "0002", "0003", "0004", "0005", "0006"]
    assert await on_connection(empty_url, differences(Base.metadata)) == []


async def test_upgrade_is_idempotent(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)  # at start-up the server passes its own engine
    try:
        assert await upgrade(engine) == []
        assert await current(engine) == head()
    finally:
        await engine.dispose()


def test_alembic_finds_nothing_to_autogenerate_after_upgrade(empty_url: str) -> None:
    # Alembic's own commands connect through env.py with the URL alone, as a developer's would.
    asyncio.run(upgrade(empty_url))
    command.check(alembic_config(empty_url))


async def test_revision_0001_is_the_old_schema(empty_url: str) -> None:
    await on_connection(empty_url, alembic(lambda config: command.upgrade(config, "0001")))
    migrated = await on_connection(empty_url, schema_dump)
    await on_connection(empty_url, alembic(lambda config: command.downgrade(config, "base")))
    await on_connection(empty_url, OLD_METADATA.create_all)
    assert migrated == await on_connection(empty_url, schema_dump)


async def test_downgrade_to_0001_restores_the_old_schema_and_keeps_events(old_url: str) -> None:
    await upgrade(old_url)
    await on_connection(old_url, alembic(lambda config: command.downgrade(config, "0001")))
    assert await current(old_url) == "0001"
    assert await on_connection(old_url, differences(OLD_METADATA)) == []
    events = OLD_METADATA.tables["events"]
    payloads = await on_connection(
        old_url, lambda conn: conn.execute(events.select().order_by(events.c.seq)).all()
    )
    assert [row.payload for row in payloads] == [e.model_dump_json() for e in OLD_EVENTS]


async def test_upgrade_after_downgrade_backfills_again(old_url: str) -> None:
    await upgrade(old_url)
    await on_connection(old_url, alembic(lambda config: command.downgrade(config, "0001")))
    assert await upgrade(old_url) == ["0002", "0003", "0004", "0005", "0006"]
    rows = await on_connection(
        old_url, lambda conn: conn.execute(text("SELECT seq, message_id FROM events")).all()
    )
    assert dict(rows) == OLD_MESSAGE_IDS


# ---- errors ------------------------------------------------------------------------------------------


async def test_database_from_a_newer_shopchat_is_a_config_error(empty_url: str) -> None:
    await upgrade(empty_url)
    await on_connection(
        empty_url, lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    )
    with pytest.raises(ConfigError, match=r"revision 0099, which this shopchat does not know"):
        await upgrade(empty_url)
    with pytest.raises(ConfigError, match="0099"):
        await current(empty_url)


async def test_unreachable_postgres_is_a_config_error() -> None:
    # Port 1 on the loopback refuses at once.
    with pytest.raises(
        ConfigError, match=r"^cannot connect to database postgresql\+asyncpg://u:\*\*\*@127.0.0.1:1/x: "
    ):
        await upgrade("postgresql+asyncpg://u:secret@127.0.0.1:1/x")


async def test_sqlite_file_in_an_impossible_place_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match=r"^cannot create the directory of database "):
        await upgrade(sqlite_url(tmp_path / "a-file" / "chat.db"))


async def test_unopenable_sqlite_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "chat.db").mkdir()
    for action in (upgrade, current):
        with pytest.raises(
            ConfigError, match=r"^cannot connect to database sqlite.*: unable to open database file$"
        ):
            await action(sqlite_url(tmp_path / "chat.db"))


def test_current_of_a_missing_sqlite_file_is_none_and_creates_nothing(tmp_path: Path) -> None:
    assert asyncio.run(current(sqlite_url(tmp_path / "chat.db"))) is None
    assert list(tmp_path.iterdir()) == []


async def test_invalid_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid database URL"):
        await upgrade("not a url")


async def test_failed_upgrade_changes_nothing(old_url: str) -> None:
    # A payload that is not JSON makes the backfill fail after the column was added: all of it must roll back.
    await on_connection(
        old_url, lambda conn: conn.execute(text("UPDATE events SET payload = 'oops' WHERE seq = 8"))
    )
    with pytest.raises(ConfigError, match="failed, nothing was changed"):
        await upgrade(old_url)
    tables = await on_connection(old_url, lambda conn: set(inspect(conn).get_table_names()))
    assert tables == {"conversations", "messages", "events"}
    assert await on_connection(old_url, differences(OLD_METADATA)) == []


# ---- several processes -------------------------------------------------------------------------------

_UPGRADE_AT = """
import asyncio, json, sys, time
from app.store.migrate import upgrade
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(json.dumps(asyncio.run(upgrade(sys.argv[1]))))
"""


@pytest.mark.slow
async def test_processes_starting_together_upgrade_once(empty_url: str) -> None:
    start = str(time.time() + 3)  # both processes have imported everything by then
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _UPGRADE_AT, empty_url, start, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=60)
    assert [p.returncode for p in processes] == [0, 0]
    assert sorted(json.loads(stdout) for stdout, _ in outputs) == [
        [],
        ["0001", "0002", "0003", "0004", "0005", "0006"],
    ]
    assert await on_connection(empty_url, differences(Base.metadata)) == []


# ---- shopchat db ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """Environment naming the test database; run from an empty directory so no ``.env`` is read."""
    monkeypatch.chdir(tmp_path)
    return {"SHOPCHAT_DATABASE_URL": empty_url, "SHOPCHAT_DATA_DIR": str(tmp_path / "data")}


def test_cli_upgrade_applies_then_reports_current(cli_env: dict[str, str | None]) -> None:
    runner = CliRunner()
    first = runner.invoke(db_app, ["upgrade"], env=cli_env)
    assert (first.exit_code, first.stdout) == (0, "applied 0001, 0002, 0003, 0004, 0005, 0006; now at 0006\n")
    again = runner.invoke(db_app, ["upgrade"], env=cli_env)
    assert (again.exit_code, again.stdout) == (0, "already at 0006\n")


def test_cli_current(cli_env: dict[str, str | None]) -> None:
    runner = CliRunner()
    assert runner.invoke(db_app, ["current"], env=cli_env).stdout == "none\n"
    runner.invoke(db_app, ["upgrade"], env=cli_env)
    result = runner.invoke(db_app, ["current"], env=cli_env)
    assert (result.exit_code, result.stdout) == (0, "0006\n")


def test_cli_default_database_is_created_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"SHOPCHAT_DATABASE_URL": None, "SHOPCHAT_DATA_DIR": str(tmp_path / "new" / "data")}
    result = CliRunner().invoke(db_app, ["upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "data" / "shopchat.db").is_file()


def test_cli_bad_settings_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(db_app, ["upgrade"], env={"SHOPCHAT_DATABASE_URL": "mysql://db/shop"})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid configuration:\n  SHOPCHAT_DATABASE_URL: ")
    assert "Traceback" not in result.output


def test_cli_unreachable_database_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"SHOPCHAT_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x"}
    for args in (["upgrade"], ["current"]):
        result = CliRunner().invoke(db_app, args, env=env)
        assert result.exit_code == 2
        assert result.stderr.startswith(
            "error: cannot connect to database postgresql+asyncpg://u@127.0.0.1:1/x: "
        )
        assert result.stderr.count("\n") == 1


def test_old_conversation_resumes_over_the_websocket_after_start_up_upgrades(
    old_url: str, settings: Settings
) -> None:
    app = create_app(
        settings.model_copy(update={"database_url": old_url}),
        model=ScriptedModel(chunks=("You are ", "welcome!")),
        recommender=FixedRecommender(),
    )
    token = TokenSigner(TEST_SECRET.encode()).issue(CONV)
    with (
        TestClient(app) as client,
        client.websocket_connect(f"/ws/chat?conversation_id={CONV}&token={token}&last_seq=0") as ws,
    ):
        ready = ws.receive_json()
        replayed = [ws.receive_json() for _ in OLD_EVENTS]
        rest = receive_until(ws, "done")
    assert (ready["resumed"], ready["customer_id"], ready["last_seq"]) == (True, "12347", 8)
    assert [f["seq"] for f in replayed] == [e.seq for e in OLD_EVENTS]
    # m3 was cut off by a restart of the old server: it is answered again, once, after a reset.
    assert (rest[0]["type"], rest[0]["seq"]) == ("reset", 9)
    assert (rest[-1]["message_id"], rest[-1]["text"]) == ("m3", "You are welcome!")
