"""Bring a database to the schema of ``app.store.tables`` through the Alembic revisions; run at every start-up.

Three kinds of database are met: empty ones (every revision is applied), ones made by shopchat 0.1's
``create_all`` (tables but no ``alembic_version``: adopted as revision 0001, then upgraded, data kept), and
ones already under migrations. All the changes of one ``upgrade`` happen in one transaction, taken under a
lock, so a second process starting at the same time waits and then finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import ConfigError
from app.store.engine import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LEGACY_REVISION = "0001"
"""The revision whose schema shopchat 0.1 created without recording it."""

# Any bigint does, as long as every shopchat process uses the same one; advisory locks are per database.
_PG_LOCK_KEY = 0x73686F7063686174  # "shopchat"

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Alembic's ``op`` and ``context`` are module-global proxies, so migrations in one process take turns.
_turns: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the shipped revisions; with ``url``, Alembic's own commands can connect."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if url is not None:
        # The config parser interpolates ``%``, which URL-quoted passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows."""
    revision = _script().get_current_head()
    assert revision is not None, "app/store/migrations/versions holds no revision"
    return revision


async def current(engine_or_url: AsyncEngine | str) -> str | None:
    """The database's revision, None when it has none (empty, or made by shopchat 0.1).

    Raises ``ConfigError`` when the database cannot be read or its revision is unknown to this code.
    """
    async with _engine(engine_or_url) as engine:
        path = _sqlite_file(engine)
        if path is not None and not path.exists():
            return None  # looking must not create the file
        async with _connect(engine) as conn:
            revision = await _read(engine, conn, _current_revision)
    _check_known(_name(engine), revision)
    return revision


async def upgrade(engine_or_url: AsyncEngine | str) -> list[str]:
    """Migrate the database to ``head()``; returns the revisions applied, oldest first (empty when current).

    Raises ``ConfigError`` when the database cannot be reached, is newer than this code, or a revision fails
    (then nothing of this call is kept).
    """
    async with _engine(engine_or_url, create_dir=True) as engine, _connect(engine) as conn:
        # Unlocked first: a current database (every start-up but the first) costs one read and no lock.
        if _check_known(_name(engine), await _read(engine, conn, _current_revision)) == head():
            return []
        await conn.rollback()
        loop = asyncio.get_running_loop()
        async with _turns.setdefault(loop, asyncio.Lock()):
            try:
                return await _upgrade_locked(engine, conn)
            except (SQLAlchemyError, CommandError) as exc:
                raise ConfigError(
                    f"upgrading database {_name(engine)} to schema revision {head()} failed, nothing was "
                    f"changed: {_reason(exc)}"
                ) from exc


async def _upgrade_locked(engine: AsyncEngine, conn: AsyncConnection) -> list[str]:
    if engine.dialect.name == "postgresql":
        # Under REPEATABLE READ the snapshot would predate the lock wait and miss the other process's work.
        await conn.execution_options(isolation_level="READ COMMITTED")
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:
        # IMMEDIATE takes SQLite's write lock now, so a concurrent upgrade waits here (busy timeout) and the
        # DDL that the driver would otherwise autocommit stays in this transaction.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    applied = await conn.run_sync(_migrate, _name(engine))
    await conn.commit()
    return applied


def _migrate(conn: Connection, name: str) -> list[str]:
    revision = _current_revision(conn)
    if _check_known(name, revision) == head():
        return []  # another process upgraded it while this one waited for the lock
    if revision is None and _is_legacy(conn, name):
        logger.info(
            "database %s was made by shopchat 0.1: recording it as revision %s", name, LEGACY_REVISION
        )
        MigrationContext.configure(conn).stamp(_script(), LEGACY_REVISION)
    applied: list[str] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        if step.up_revision_id is not None:
            applied.append(step.up_revision_id)

    config = alembic_config()
    config.attributes["connection"] = conn
    config.attributes["on_version_apply"] = [record]
    command.upgrade(config, "head")
    logger.info("database %s upgraded to %s (applied %s)", name, head(), ", ".join(applied))
    return applied


def _is_legacy(conn: Connection, name: str) -> bool:
    # Only 0.1's exact schema may be stamped 0001: anything else would be migrated from a wrong premise.
    inspector = inspect(conn)
    if not inspector.has_table("conversations"):
        return False
    if any(column["name"] == "message_id" for column in inspector.get_columns("events")):
        raise ConfigError(
            f"database {name} has shopchat tables but no schema revision, and they are not shopchat 0.1's: "
            "it was made by a development build of shopchat; recreate it"
        )
    return True


def _current_revision(conn: Connection) -> str | None:
    # Read directly: a MigrationContext would log its set-up at every start-up.
    if not inspect(conn).has_table("alembic_version"):
        return None
    revisions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if len(revisions) > 1:
        raise CommandError(f"alembic_version holds {len(revisions)} revisions, shopchat expects one")
    return revisions[0] if revisions else None


def _check_known(name: str, revision: str | None) -> str | None:
    if revision is not None and revision not in {script.revision for script in _script().walk_revisions()}:
        raise ConfigError(
            f"database {name} is at schema revision {revision}, which this shopchat does not know (newest: "
            f"{head()}): it was upgraded by a newer shopchat; run that version or restore a backup"
        )
    return revision


async def _read(engine: AsyncEngine, conn: AsyncConnection, fn: Callable[[Connection], T]) -> T:
    try:
        return await conn.run_sync(fn)
    except (SQLAlchemyError, CommandError) as exc:
        raise ConfigError(f"cannot read database {_name(engine)}: {_reason(exc)}") from exc


@asynccontextmanager
async def _engine(
    engine_or_url: AsyncEngine | str, *, create_dir: bool = False
) -> AsyncIterator[AsyncEngine]:
    if isinstance(engine_or_url, AsyncEngine):
        yield engine_or_url
        return
    try:
        engine = create_engine(engine_or_url)
    except (SQLAlchemyError, ValueError) as exc:
        raise ConfigError(f"invalid database URL: {_reason(exc)}") from exc
    try:
        if create_dir:
            _make_sqlite_dir(engine)
        yield engine
    finally:
        await engine.dispose()


def _sqlite_file(engine: AsyncEngine) -> Path | None:
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    return Path(database)


def _make_sqlite_dir(engine: AsyncEngine) -> None:
    # A first start with the default URL points into a data directory that may not exist yet.
    path = _sqlite_file(engine)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the directory of database {_name(engine)}: {exc}") from exc


@asynccontextmanager
async def _connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    try:
        conn = await engine.connect()
    except (SQLAlchemyError, OSError) as exc:
        if engine.dialect.name == "sqlite":
            # aiosqlite stops its worker thread without waiting after a failed connect; should the loop close
            # first (a CLI's asyncio.run), the thread dies printing a traceback. A moment lets it finish.
            await asyncio.sleep(0.05)
        raise ConfigError(f"cannot connect to database {_name(engine)}: {_reason(exc)}") from exc
    try:
        yield conn
    finally:
        await conn.close()


def _name(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and a documentation link on further lines; the first says what failed.
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
