"""Database engines: SQLite (WAL) embedded by default, PostgreSQL through ``SHOPCHAT_DATABASE_URL``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import URL, Connection, Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def _switch_to_wal(cursor: Any) -> None:
    # Two processes opening a new file at once both try to switch it; SQLite may answer "locked" at once,
    # without waiting out the busy timeout, when it sees the two could deadlock. The loser retries.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets replay reads run while answers are written; NORMAL sync is durable in WAL mode against process
    # crashes, which is the failure we care about. The busy timeout covers a second process on the same file.
    cursor = dbapi_connection.cursor()
    # The busy timeout first, so a second process starting at the same time waits instead of failing; the
    # journal mode needs an exclusive lock to change, so it is changed only once per file.
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``, with SQLite tuned for concurrent readers."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class SyncWriter:
    """SQLite batches written from one thread with the standard-library driver: one call per transaction."""

    def __init__(self, url: URL) -> None:
        self._engine: Engine = create_sync_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._conn: Connection | None = None

    def write(self, statements: list[tuple[Executable, list[dict[str, Any]]]]) -> None:
        """Execute the statements in one transaction (call from the writer thread only)."""
        if self._conn is None:
            self._conn = self._engine.connect()
        try:
            with self._conn.begin():
                for statement, rows in statements:
                    self._conn.execute(statement, rows)
        except Exception:
            # A broken connection (disk full, file gone) is not reused.
            self._conn.close()
            self._conn = None
            raise

    def close(self) -> None:
        """Close the connection (from the writer thread)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()
