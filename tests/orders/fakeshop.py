"""A real HTTP server on 127.0.0.1 that answers like a WooCommerce and a Shopify shop's order API.

It keeps its orders in memory, records every request it gets, and has a few order ids that misbehave
("slow", "big", "redirect", "boom", "notjson") for the failure tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

WOO = "/wp-json/wc/v3"
SHOPIFY = "/admin/api/2024-10"
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
SECRET = "s3cr3t-T0KEN-value"
ENV = {"WOO_BASIC_AUTH": SECRET, "SHOPIFY_ACCESS_TOKEN": SECRET}
BODY_SECRET = "INTERNAL-STACK-TRACE-of-the-shop"


@dataclass
class Seen:
    """One request the shop got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def woo_order(
    order_id: int, status: str, customer_id: int = 7, *, completed: str | None = None
) -> dict[str, Any]:
    """An order as WooCommerce's REST API v3 answers it (the fields the example file reads, and a few more)."""
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "currency": "GBP",
        "customer_id": customer_id,
        "date_created": "2026-01-05T10:00:00",
        "date_created_gmt": f"2026-01-{order_id % 28 + 1:02d}T10:00:00",
        "date_completed_gmt": completed,
        "billing": {"first_name": "Ann", "last_name": "Example", "email": "ann@example.com"},
        "shipping": {
            "first_name": "Ann",
            "last_name": "Example",
            "company": "",
            "address_1": "1 High Street",
            "address_2": "",
            "city": "London",
            "state": "",
            "postcode": "SW1A 1AA",
            "country": "GB",
        },
        "line_items": [
            {"id": 11, "name": "Baking Set", "product_id": 22138, "quantity": 2, "price": 3.5},
            {"id": 12, "name": "Storage Jar", "product_id": 23166, "quantity": 1, "price": 10},
        ],
    }


def shopify_order(order_number: int, order_id: int, *, fulfilled: bool = False) -> dict[str, Any]:
    """An order as Shopify's Admin REST API answers it."""
    fulfillments = (
        [
            {
                "id": 255858046,
                "status": "success",
                "shipment_status": "delivered",
                "tracking_company": "DPD",
                "tracking_number": "15000000001",
                "updated_at": "2026-03-05T09:00:00-05:00",
            }
        ]
        if fulfilled
        else []
    )
    return {
        "id": order_id,
        "name": f"#{order_number}",
        "order_number": order_number,
        "email": "bob@example.com",
        "created_at": "2026-03-01T11:00:00-05:00",
        "cancelled_at": None,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": "fulfilled" if fulfilled else None,
        "tags": "vip",
        "customer": {"id": 207119551, "email": "bob@example.com"},
        "line_items": [
            {
                "id": 466157049,
                "product_id": 632910392,
                "name": "IPod Nano - 8gb",
                "quantity": 1,
                "price": "199.00",
            }
        ],
        "shipping_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "address1": "Chestnut Street 92",
            "address2": "",
            "city": "Louisville",
            "zip": "40202",
            "country": "United States",
        },
        "fulfillments": fulfillments,
    }


@dataclass
class FakeShop:
    """The shop's state and the server's address; ``seen`` lists every request in order."""

    woo: dict[str, dict[str, Any]] = field(default_factory=dict)
    shopify: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    ignore_customer_filter: bool = False
    conflict: bool = False
    graphql_errors: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def config(self, tmp_path: Path, example: str, **top: object) -> Path:
        """The docs' example file pointed at this server (allow_private on), with ``top`` keys replaced."""
        prefix = WOO if example == "woocommerce" else SHOPIFY
        settings = {"allow_private": True, "timeout_s": 2, "max_response_bytes": 50_000, **top}
        text = (EXAMPLES / f"{example}.toml").read_text()
        text = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{self.base}{prefix}"', text)
        for key in settings:
            text = re.sub(rf"(?m)^{key} = .*$", "", text)
        head = "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items())
        path = tmp_path / f"{example}.toml"
        path.write_text(head + text)
        return path

    async def record(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        return body

    async def woo_list(self, request: web.Request) -> web.Response:
        await self.record(request)
        customer = request.query.get("customer", "")
        found = [
            o for o in self.woo.values() if self.ignore_customer_filter or str(o["customer_id"]) == customer
        ]
        return web.json_response(found)

    async def woo_get(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        order_id = request.match_info["order_id"]
        if order_id == "slow":
            await asyncio.sleep(5)
        if order_id == "redirect":
            raise web.HTTPFound(f"{WOO}/orders/101")
        if order_id == "boom":
            return web.Response(status=500, text=f"{BODY_SECRET} {request.headers.get('Authorization')}")
        if order_id == "notjson":
            return web.Response(text="<html>Maintenance</html>", content_type="text/html")
        if order_id == "big":
            # Chunked, without a length: the cap must stop the reading, not a header.
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b'{"id": "big", "padding": "')
            for _ in range(100):
                await response.write(b"x" * 10_000)
            await response.write(b'"}')
            return response
        if order_id not in self.woo:
            return web.json_response({"code": "woocommerce_rest_shop_order_invalid_id"}, status=404)
        return web.json_response(self.woo[order_id])

    async def woo_put(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        order = self.woo.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"code": "woocommerce_rest_shop_order_invalid_id"}, status=404)
        if self.conflict:
            order["status"] = "processing"  # the team got there first
            return web.json_response({"code": "conflict"}, status=409)
        if "status" in body:
            order["status"] = body["status"]
        if "shipping" in body:
            order["shipping"].update(body["shipping"])
        return web.json_response(order)

    async def woo_note(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        self.notes.setdefault(request.match_info["order_id"], []).append(body["note"])
        return web.json_response({"id": 1, "note": body["note"]}, status=201)

    async def shopify_search(self, request: web.Request) -> web.Response:
        await self.record(request)
        # Shopify's name filter is loose: "100" finds #1001 too.
        name = request.query.get("name", "").lstrip("#")
        found = [o for o in self.shopify.values() if str(o["order_number"]).startswith(name)]
        return web.json_response({"orders": found})

    async def shopify_customer(self, request: web.Request) -> web.Response:
        await self.record(request)
        customer = request.match_info["customer_id"]
        found = [o for o in self.shopify.values() if str(o["customer"]["id"]) == customer]
        return web.json_response({"orders": found})

    async def shopify_cancel(self, request: web.Request) -> web.Response:
        await self.record(request)
        order = self.shopify[int(request.match_info["order_id"])]
        order["cancelled_at"] = "2026-03-10T08:00:00-05:00"
        return web.json_response({"order": order})

    async def shopify_put(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        order = self.shopify[int(request.match_info["order_id"])]
        order["shipping_address"].update(body["order"]["shipping_address"])
        return web.json_response({"order": order})

    async def shopify_graphql(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        if self.graphql_errors:
            return web.json_response({"data": {"tagsAdd": {"userErrors": self.graphql_errors}}})
        order = self.shopify[int(body["variables"]["id"].rsplit("/", 1)[1])]
        order["tags"] = ", ".join([order["tags"], *body["variables"]["tags"]])
        return web.json_response({"data": {"tagsAdd": {"userErrors": []}}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"{WOO}/orders", self.woo_list)
        app.router.add_get(f"{WOO}/orders/{{order_id}}", self.woo_get)
        app.router.add_put(f"{WOO}/orders/{{order_id}}", self.woo_put)
        app.router.add_post(f"{WOO}/orders/{{order_id}}/notes", self.woo_note)
        app.router.add_get(f"{SHOPIFY}/orders.json", self.shopify_search)
        app.router.add_get(f"{SHOPIFY}/customers/{{customer_id}}/orders.json", self.shopify_customer)
        app.router.add_post(f"{SHOPIFY}/orders/{{order_id}}/cancel.json", self.shopify_cancel)
        app.router.add_put(f"{SHOPIFY}/orders/{{order_id}}.json", self.shopify_put)
        app.router.add_post(f"{SHOPIFY}/graphql.json", self.shopify_graphql)
        return app


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, str) else f'"{value}"'


@asynccontextmanager
async def running(shop: FakeShop) -> AsyncIterator[FakeShop]:
    """The shop served on 127.0.0.1 at a free port for the block."""
    server = TestServer(shop.app(), host="127.0.0.1")
    await server.start_server()
    shop.port = server.port or 0
    try:
        yield shop
    finally:
        await server.close()
