"""``shopchat orders show``: a demo customer's orders as the order tools see them."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from app.errors import ConfigError
from app.orders.backend import Order
from app.orders.demo import demo_backend
from app.orders.tools import order_content
from app.settings import load_settings
from app.shop.catalog import DEMO_SHOP_DIR, load_shop
from app.store import migrate
from app.store.store import Store

orders_app = typer.Typer(help="The demo shop's orders (docs/orders.md).", no_args_is_help=True)


@orders_app.callback()
def _group() -> None:
    """The demo shop's orders (docs/orders.md)."""


async def _orders(url: str, customer_id: str) -> list[Order]:
    await migrate.upgrade(url)
    settings = load_settings()
    shop = load_shop(settings.shop_dir or DEMO_SHOP_DIR)
    if not shop.has_customer(customer_id):
        raise LookupError(customer_id)
    store = Store.from_url(url)
    try:
        return await demo_backend(store, shop).find_customer_orders(customer_id)
    finally:
        await store.close()


@orders_app.command()
def show(
    customer: Annotated[str, typer.Option("--customer", help="The customer id (as in purchases.csv).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the orders as JSON.")] = False,
) -> None:
    """Print the customer's orders, newest first (their demo history is stored on first look-up)."""
    try:
        url = load_settings().resolved_database_url()
        orders = asyncio.run(_orders(url, customer.strip()))
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    except LookupError as exc:
        typer.echo(f"error: no customer {customer!r} in the shop's purchase history", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps([order_content(o) for o in orders], indent=2, ensure_ascii=False))
        return
    for order in orders:
        shipment = f"  {order.shipment.carrier} {order.shipment.tracking_number}" if order.shipment else ""
        typer.echo(
            f"{order.order_id}  {order.placed_at:%Y-%m-%d}  {order.status:<16} "
            f"{order.total:>10.2f} {order.currency}{shipment}"
        )
        for item in order.items:
            returned = f"  (returned {item.returned_quantity})" if item.returned_quantity else ""
            typer.echo(
                f"    {item.item_id:<8} {item.quantity:>5} × {item.unit_price:.2f}  {item.name}{returned}"
            )
    typer.echo(
        f"verify with: {orders[0].email} or postcode {orders[0].address.postcode}" if orders else "no orders"
    )
