"""``shopchat db``: upgrade the configured database's schema, or show its revision."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from app.errors import ConfigError
from app.settings import Settings, load_settings
from app.store import migrate

T = TypeVar("T")

db_app = typer.Typer(help="The database schema: upgrade it, or show its revision.", no_args_is_help=True)


def _run(work: Coroutine[Any, Any, T]) -> T:
    # Bad settings and unreachable databases are the operator's to fix: one line on stderr, exit code 2.
    try:
        return asyncio.run(work)
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def upgrade_settings_database(settings: Settings) -> list[str]:
    """Upgrade the database ``settings`` name; bad settings or an unreachable database exit with code 2."""
    return _run(migrate.upgrade(settings.resolved_database_url()))


def _database_url() -> str:
    try:
        return load_settings().resolved_database_url()
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Migrate the database to this version's schema; safe to repeat (the server also does it at start-up)."""
    applied = _run(migrate.upgrade(_database_url()))
    if applied:
        typer.echo(f"applied {', '.join(applied)}; now at {migrate.head()}")
    else:
        typer.echo(f"already at {migrate.head()}")


@db_app.command("current")
def current_command() -> None:
    """Print the database's schema revision ("none" before the first upgrade)."""
    typer.echo(_run(migrate.current(_database_url())) or "none")
