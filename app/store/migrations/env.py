"""Alembic's entry point: migrates the connection ``app.store.migrate`` hands over, or one made from the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.store.engine import create_engine
from app.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters most of a table only by copying it; batch mode does that, and is a no-op elsewhere.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=context.config.attributes.get("on_version_apply", ()),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    """Migrate the given connection (it stays in the caller's transaction), else the configured URL."""
    if context.is_offline_mode():
        raise NotImplementedError("shopchat migrations run online only; --sql output is not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("no connection and no sqlalchemy.url: use app.store.migrate.alembic_config(url)")
    asyncio.run(_run_from_url(url))


main()
