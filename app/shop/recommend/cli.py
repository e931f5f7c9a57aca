"""``shopchat recommend …``: show a customer's suggestions, rebuild the shipped demo model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.errors import ConfigError
from app.shop.catalog import DEMO_SHOP_DIR, Shop, load_shop
from app.shop.recommend.knn import KNNRecommender
from app.shop.recommend.service import DEFAULT_MODEL_PATH, ShopRecommender, build_demo_model

recommend_app = typer.Typer(
    help="Product recommendations from the shop's purchase history.", no_args_is_help=True
)

_BUILD_STEPS = (
    "loading the shop",
    "reading purchases",
    "fitting",
    "building co-purchase neighbourhoods",
    "saving",
)


def _shop(directory: Path) -> Shop:
    try:
        return load_shop(directory)
    except ConfigError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc


@recommend_app.command()
def show(
    customer: Annotated[
        str | None, typer.Option("--customer", "-c", help="Customer id; omit for an anonymous visitor.")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=100, help="How many suggestions.")] = 5,
    query: Annotated[
        str, typer.Option("--query", "-q", help="The customer's message, e.g. 'a gift under £5'.")
    ] = "recommend me something",
    model: Annotated[Path, typer.Option("--model", help="Model file (built from the shop if missing).")] = (
        DEFAULT_MODEL_PATH
    ),
    shop_dir: Annotated[Path, typer.Option("--shop", help="Shop directory.")] = DEMO_SHOP_DIR,
) -> None:
    """Print suggestions for a customer with the reason for each."""
    shop = _shop(shop_dir)
    err = Console(stderr=True)
    if customer is not None and not shop.has_customer(customer):
        err.print(
            f"[red]error:[/red] unknown customer {customer!r}: no purchase history in {shop.name}. "
            "Omit --customer to see what an anonymous visitor gets (best sellers)."
        )
        raise typer.Exit(code=1)
    try:
        engine = KNNRecommender.load(model) if model.exists() else build_demo_model(shop)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}; rebuild it with `shopchat recommend build`")
        raise typer.Exit(code=2) from exc
    suggestions = ShopRecommender(shop, engine).recommend(customer, query, n)
    who = f"customer {customer}" if customer else "an anonymous visitor"
    table = Table(title=f"Suggestions for {who}: {query!r}")
    table.add_column("#", justify="right")
    table.add_column("product")
    table.add_column("name")
    table.add_column("price", justify="right")
    table.add_column("why")
    for rank, item in enumerate(suggestions, start=1):
        table.add_row(str(rank), item.product_id, item.name, shop.format_price(item.price), item.reason)
    console = Console()
    console.print(table)
    if not suggestions:
        console.print("Nothing in the catalogue matches that request.")


@recommend_app.command()
def build(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the model.")
    ] = DEFAULT_MODEL_PATH,
    shop_dir: Annotated[Path, typer.Option("--shop", help="Shop directory with purchases.")] = DEMO_SHOP_DIR,
) -> None:
    """Rebuild the recommendation model from the shop's purchase history."""
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(_BUILD_STEPS[0], total=len(_BUILD_STEPS))
        shop = _shop(shop_dir)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        try:
            model = build_demo_model(shop, progress=step)
        except ValueError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from exc
        step("saving")
        output.parent.mkdir(parents=True, exist_ok=True)
        model.save(output)
        progress.update(task, completed=len(_BUILD_STEPS))
    size = output.stat().st_size / 1e6
    Console().print(
        f"Wrote {output} ({size:.1f} MB): {model.n_users:,} customers, {model.n_items:,} products, "
        f"in {time.perf_counter() - started:.1f} s"
    )
