"""Placeholder: replaced by the migrations work."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command()
def upgrade() -> None:
    """Upgrade the database to the newest schema."""
