"""``shopchat operator add|list|remove|reset``: the accounts of the people who answer handed-off chats.

A new or reset password is made here, printed once on stdout and never logged or stored in clear.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from app.errors import ConfigError
from app.settings import load_settings
from app.store import migrate
from app.store.operators import OperatorError, OperatorStore, normalize_name
from app.store.password import hash_password, new_password
from app.store.store import Store

T = TypeVar("T")

operator_app = typer.Typer(
    help="Operator accounts (docs/operators.md): add, list, remove, reset.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="The operator's name (letters, digits, '.', '_', '-').")]


@operator_app.callback()
def _group() -> None:
    """Operator accounts (docs/operators.md)."""


def _run(work: Callable[[OperatorStore], Awaitable[T]]) -> T:
    """Run ``work`` on the configured database (upgraded first); bad settings or no database exit 2."""

    async def main(url: str) -> T:
        await migrate.upgrade(url)
        store = Store.from_url(url)
        try:
            return await work(OperatorStore(store))
        finally:
            await store.close()

    try:
        return asyncio.run(main(load_settings().resolved_database_url()))
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    except OperatorError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _valid(name: str) -> str:
    try:
        return normalize_name(name)
    except OperatorError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _unknown(name: str) -> typer.Exit:
    typer.echo(f"error: no operator named {name!r} (`shopchat operator list` shows them)", err=True)
    return typer.Exit(1)


def _show_password(name: str, password: str) -> None:
    typer.echo(f"one-time password for {name}: {password}")
    typer.echo("it is shown only now: hand it over privately; `shopchat operator reset` makes a new one")


@operator_app.command()
def add(name: NameArg) -> None:
    """Create an operator account and print its password (once)."""
    name = _valid(name)
    password = new_password()
    hashed = hash_password(password)
    _run(lambda operators: operators.add(name, hashed))
    typer.echo(f"added operator {name}")
    _show_password(name, password)


@operator_app.command("list")
def list_command(
    removed: Annotated[bool, typer.Option("--removed", help="Include removed operators.")] = False,
) -> None:
    """Print the operators: name, when added, open sessions."""

    async def read(operators: OperatorStore) -> list[str]:
        accounts = await operators.all(removed=removed)
        counts = await operators.session_counts()
        lines = []
        for account in accounts:
            state = (
                f"removed {account.removed_at:%Y-%m-%d}"
                if account.removed_at is not None
                else f"{counts.get(account.id, 0)} open session(s)"
            )
            lines.append(f"{account.name:<32}  added {account.created_at:%Y-%m-%d}  {state}")
        return lines

    lines = _run(read)
    typer.echo("\n".join(lines) if lines else "no operators (`shopchat operator add NAME` creates one)")


@operator_app.command()
def remove(name: NameArg) -> None:
    """Remove an operator: their sessions end at once and their password stops working."""
    name = _valid(name)
    if not _run(lambda operators: operators.remove(name)):
        raise _unknown(name)
    typer.echo(f"removed operator {name}; their sessions are ended")


@operator_app.command()
def reset(name: NameArg) -> None:
    """Give an operator a new password (printed once) and end their sessions."""
    name = _valid(name)
    password = new_password()
    hashed = hash_password(password)
    if not _run(lambda operators: operators.set_password(name, hashed)):
        raise _unknown(name)
    typer.echo(f"reset the password of {name}; their sessions are ended")
    _show_password(name, password)
