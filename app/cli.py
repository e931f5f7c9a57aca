"""The ``shopchat`` command: serve the chat server, build recommendations, prepare fine-tuning data."""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.errors import ConfigError

if TYPE_CHECKING:
    from app.settings import Settings

cli = typer.Typer(
    name="shopchat",
    help="Self-hostable AI customer-service chat for online shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One MiB: frames above this are closed by the server with 1009; smaller ones over the protocol's frame limit
# get a typed error frame instead.
WS_MAX_SIZE = 1024 * 1024


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: SHOPCHAT_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: SHOPCHAT_PORT or 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SHOPCHAT_WORKERS",
            help="Server processes sharing the port (more than 1 needs PostgreSQL and Redis).",
        ),
    ] = 1,
) -> None:
    """Start the chat server (uvicorn) with the settings from the environment and .env."""
    import uvicorn

    from app.settings import load_settings

    if host is not None:
        os.environ["SHOPCHAT_HOST"] = host
    if port is not None:
        os.environ["SHOPCHAT_PORT"] = str(port)
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    check_workers(workers, settings)
    # Read the shop folder before uvicorn starts: its errors are one line each, not a traceback.
    check_shop_folder(settings.shop_dir)
    # Migrate before uvicorn starts, so an unreachable or too-new database is one clear line, not a traceback.
    from app.store.cli import upgrade_settings_database

    upgrade_settings_database(settings)
    check_redis(settings.redis_url)
    if workers > 1:
        # Made once here: workers starting together would each write a key of their own to the same file, and
        # a token signed by one would be refused by the others.
        settings.resolved_secret()
    processes = f", {workers} processes" if workers > 1 else ""
    typer.echo(
        f"shopchat: http://{settings.host}:{settings.port}/  (model backend: {settings.llm_backend}{processes})"
    )
    uvicorn.run(
        "app.web.application:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        ws_max_size=WS_MAX_SIZE,
        log_level=settings.log_level,
        # The client address (per-address limits) comes from X-Forwarded-For only when the peer is one of
        # these proxies; None keeps uvicorn's default (FORWARDED_ALLOW_IPS, else 127.0.0.1).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # More than one: uvicorn binds the port once and starts that many processes accepting on it, each
        # building its own app (the factory); a worker that dies is replaced.
        workers=workers,
    )


def check_workers(workers: int, settings: Settings) -> None:
    """Stop (exit 2) before anything starts when several processes would not share their state."""
    if workers == 1:
        return
    missing = []
    if not settings.resolved_database_url().startswith("postgresql"):
        missing.append("PostgreSQL (SHOPCHAT_DATABASE_URL=postgresql+asyncpg://user@host/db)")
    if settings.redis_url is None:
        missing.append("Redis (SHOPCHAT_REDIS_URL=redis://host:6379/0)")
    if missing:
        # SQLite has one writer lock for every process, and without Redis each process would keep its own
        # live events, limits and answer leases: sockets on one would never see answers made on another.
        typer.echo(
            f"error: --workers {workers} needs PostgreSQL and Redis, shared by every process; missing: "
            + " and ".join(missing)
            + ". docs/scale-out.md describes the set-up; --workers 1 needs neither.",
            err=True,
        )
        raise typer.Exit(2)


def check_redis(url: str | None) -> None:
    """With ``SHOPCHAT_REDIS_URL`` set, stop (exit 2) with one line when Redis does not answer."""
    if url is None:
        return
    import asyncio

    from app.web.application import connect_redis

    async def ping() -> None:
        await (await connect_redis(url)).aclose()

    try:
        asyncio.run(ping())
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def check_shop_folder(shop_dir: Path | None) -> None:
    """Print the shop folder's problems; an error stops the command (exit 2) before anything starts."""
    from app.shop.catalog import DEMO_SHOP_DIR, read_shop
    from app.shop.cli import inspect_shop

    directory = shop_dir or DEMO_SHOP_DIR
    _, problems = inspect_shop(directory)
    if problems.errors:
        count = f"{problems.errors:,} error{'s' if problems.errors != 1 else ''}"
        typer.echo(f"error: the shop folder {directory} (SHOPCHAT_SHOP_DIR) has {count}:", err=True)
        for line in problems.lines("error", directory):
            typer.echo(f"  {line}", err=True)
        typer.echo(
            f"`shopchat shop check {directory}` lists every problem; docs/shop.md describes the files",
            err=True,
        )
        raise typer.Exit(2)
    for line in problems.lines("warning", directory):
        typer.echo(line, err=True)
    # Printed here once; the server's own load of the same (cached) reading does not log them again.
    read_shop(directory).warned = True


@cli.command("config")
def show_config() -> None:
    """Print the effective settings (secrets hidden) and exit non-zero if any is invalid."""
    from app.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    for name, value in settings.model_dump().items():
        typer.echo(f"{name} = {value}")
    typer.echo(f"(database: {settings.resolved_database_url()})")


@cli.command("chat")
def chat_command(
    url: Annotated[str, typer.Option(help="The server's chat websocket.")] = "ws://127.0.0.1:8000/ws/chat",
    customer: Annotated[
        str | None, typer.Option(help="Chat as this shop customer (a new conversation only).")
    ] = None,
    customer_sig: Annotated[
        str | None, typer.Option(help="The customer id's signature, when the server requires one.")
    ] = None,
    conversation: Annotated[
        str | None, typer.Option(help="Resume this conversation (with --token); its history is shown.")
    ] = None,
    token: Annotated[str | None, typer.Option(help="The resumed conversation's token.")] = None,
) -> None:
    """Chat with a shopchat server in the terminal (streams answers, resumes after a dropped connection)."""
    import sys

    from app.chatclient import ChatOptions, run_terminal

    if (conversation is None) != (token is None):
        typer.echo("error: --conversation and --token go together", err=True)
        raise typer.Exit(2)
    if customer_sig is not None and customer is None:
        typer.echo("error: --customer-sig needs --customer", err=True)
        raise typer.Exit(2)
    options = ChatOptions(
        url=url,
        customer=customer,
        customer_sig=customer_sig,
        conversation=conversation,
        token=token,
        echo=not sys.stdin.isatty(),
    )
    raise typer.Exit(run_terminal(options))


# Sub-commands from other distributions (the fine-tune pipeline) register here, so ``app`` never imports them.
COMMAND_GROUP = "shopchat.commands"

_mounted = False


def mount_subcommands() -> None:
    """Attach the command groups of app/ (shop, recommend, db, orders, operator) and every plugin (idempotent)."""
    global _mounted
    if _mounted:
        return
    from app.orders.cli import orders_app
    from app.shop.cli import shop_app
    from app.shop.recommend.cli import recommend_app
    from app.store.cli import db_app
    from app.store.operator_cli import operator_app

    cli.add_typer(shop_app, name="shop", help="The shop folder: check it for problems.")
    cli.add_typer(recommend_app, name="recommend", help="Collaborative-filtering recommendations.")
    cli.add_typer(db_app, name="db", help="The database schema: upgrade, current revision.")
    cli.add_typer(orders_app, name="orders", help="The demo shop's orders: show a customer's.")
    cli.add_typer(operator_app, name="operator", help="Operator accounts: add, list, remove, reset.")
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        app = entry.load()
        cli.add_typer(app, name=entry.name, help=app.info.help)
    _mounted = True


def main() -> None:
    """Console-script entry point."""
    mount_subcommands()
    cli()
