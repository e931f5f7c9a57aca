"""``shopchat shop check DIR``: every problem of a shop folder, one line each, before a server trips on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from app.shop.catalog import Shop, read_shop
from app.shop.problems import Problems
from app.shop.recommend.service import check_model

shop_app = typer.Typer(help="The shop folder: shop.toml, products.csv, purchases.csv.", no_args_is_help=True)


@shop_app.callback()
def _group() -> None:
    """The shop folder: shop.toml, products.csv, purchases.csv (docs/shop.md)."""


def inspect_shop(directory: Path) -> tuple[Shop | None, Problems]:
    """The shop (None if it has errors) and every problem of its folder, the recommendation model's included."""
    reading = read_shop(directory)
    # The reading is cached and shared: the model's problems go to a copy.
    problems = Problems(kept=list(reading.problems.kept), totals=Counter(reading.problems.totals))
    if reading.shop is not None:
        check_model(Path(directory), reading.shop, problems)
    return (reading.shop if not problems.errors else None), problems


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def summary(directory: Path, shop: Shop | None, problems: Problems) -> str:
    """The one-line verdict: what the folder holds, or how many errors keep the server from starting."""
    warnings = f", {_plural(problems.warnings, 'warning')}" if problems.warnings else ""
    if shop is None:
        return (
            f"{directory}: {_plural(problems.errors, 'error')}{warnings} — the server will not start with it"
        )
    goods = len(shop.for_sale())
    others = len(shop.products) - goods
    return (
        f"{directory}: ok — {_plural(goods, 'product')}"
        + (f" (+{others:,} postage/fee lines)" if others else "")
        + f", {_plural(len(shop.purchases), 'purchase')} by {_plural(len(shop.customer_ids()), 'customer')}"
        + f", {_plural(len(shop.faq), 'FAQ entry', 'FAQ entries')}"
        + f", {_plural(len(shop.policies), 'policy', 'policies')}{warnings}"
    )


@shop_app.command()
def check(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="The shop folder (what SHOPCHAT_SHOP_DIR points at).", show_default=False
        ),
    ],
    every: Annotated[
        bool, typer.Option("--all", help="List up to 200 problems of each kind, not 10.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero on warnings too.")] = False,
) -> None:
    """List every problem as `file:line: what is wrong — how to fix it`; exit 1 if the server would refuse it."""
    shop, problems = inspect_shop(directory)
    per_kind = None if every else 10
    for line in problems.lines("error", directory, per_kind) + problems.lines("warning", directory, per_kind):
        typer.echo(line)
    typer.echo(summary(directory, shop, problems))
    if problems.errors or (strict and problems.warnings):
        raise typer.Exit(1)
