"""The tools a model may call to act for a customer, as OpenAI function specs, and the one place that runs them.

``ShopTools.dispatch`` checks the arguments against the tool's JSON schema, enforces identity (order tools act
only for a verified customer, and someone else's order is "not found", word for word like a missing one) and
calls the ``ShopBackend``. Every outcome is a ``ToolResult``: a failure is a result for the model, never an
exception. Write tools (``WRITE_TOOLS``) change an order: the server asks the customer to confirm them first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.orders.backend import Address, Changed, Order, ShopBackend, ShopRules
from app.shop.catalog import Shop
from app.shop.knowledge import CatalogIndex
from app.shop.recommender import Recommender


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its function name, what it does (for the model), its JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]
    writes: bool = False

    def openai(self) -> dict[str, Any]:
        """The spec as the OpenAI API's ``tools=`` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gave: ``content`` goes to the model (as JSON), ``summary`` is shown to the customer."""

    ok: bool
    content: dict[str, Any]
    summary: str
    writes: bool = False


def _object(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_ORDER_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "description": "The order number, as the customer gave it (e.g. '1234703').",
}
_REASON = {"type": "string", "minLength": 1, "maxLength": 500, "description": "Why, in the customer's words."}
_MAX_PRICE = {
    "type": "number",
    "exclusiveMinimum": 0,
    "description": "Highest price, in the shop's currency.",
}
_LINE = {"type": "string", "maxLength": 120}
ADDRESS_SCHEMA = _object(
    {
        "name": {**_LINE, "minLength": 1, "description": "Who receives the parcel."},
        "line1": {**_LINE, "minLength": 1, "description": "House number and street."},
        "line2": {**_LINE, "description": "Flat, building … (optional)."},
        "city": {**_LINE, "minLength": 1},
        "postcode": {"type": "string", "minLength": 2, "maxLength": 16},
        "country": {**_LINE, "minLength": 2},
    },
    ("name", "line1", "city", "postcode", "country"),
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "find_customer_orders",
        "List the verified customer's orders, newest first, with status and total.",
        _object({}),
    ),
    ToolSpec(
        "get_order_details",
        "Get one order of the verified customer: status, items (with item ids), address, tracking.",
        _object({"order_id": _ORDER_ID}, ("order_id",)),
    ),
    ToolSpec(
        "cancel_pending_order",
        "Cancel an order that is still pending. Changes the order: ask the customer first.",
        _object({"order_id": _ORDER_ID, "reason": _REASON}, ("order_id", "reason")),
        writes=True,
    ),
    ToolSpec(
        "return_delivered_order_items",
        "Request the return of items of a delivered order, within the shop's return window. Changes the order: "
        "ask the customer first.",
        _object(
            {
                "order_id": _ORDER_ID,
                "item_ids": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": 32},
                    "minItems": 1,
                    "maxItems": 50,
                    "uniqueItems": True,
                    "description": "The item ids from get_order_details.",
                },
                "reason": _REASON,
            },
            ("order_id", "item_ids", "reason"),
        ),
        writes=True,
    ),
    ToolSpec(
        "modify_pending_order_address",
        "Change the delivery address of a pending order. Changes the order: ask the customer first.",
        _object({"order_id": _ORDER_ID, "address": ADDRESS_SCHEMA}, ("order_id", "address")),
        writes=True,
    ),
    ToolSpec(
        "search_products",
        "Search the shop's catalog by words of the product name, optionally under a price.",
        _object(
            {"query": {"type": "string", "minLength": 1, "maxLength": 200}, "max_price": _MAX_PRICE},
            ("query",),
        ),
    ),
    ToolSpec(
        "recommend_products",
        "Suggest products for the customer (from what similar customers bought), optionally matching words "
        "and under a price.",
        _object({"query": {"type": "string", "maxLength": 200}, "max_price": _MAX_PRICE}),
    ),
    ToolSpec(
        "transfer_to_human_agents",
        "Pass the conversation to a person when the customer asks for one or you cannot help.",
        _object(
            {
                "summary": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 2000,
                    "description": "What the customer needs, for the person taking over.",
                }
            },
            ("summary",),
        ),
    ),
)
VERIFY_TOOL = ToolSpec(
    "verify_customer",
    "Verify the customer with one of their order numbers and the email address or delivery postcode on that "
    "order. Needed before any order tool when the customer is not verified yet.",
    _object(
        {
            "order_id": _ORDER_ID,
            "email_or_postcode": {
                "type": "string",
                "minLength": 2,
                "maxLength": 254,
                "description": "The email address or the delivery postcode on the order, as the customer gave it.",
            },
        },
        ("order_id", "email_or_postcode"),
    ),
)
"""Offered beside the order tools; run by the conversation layer, which counts failed attempts."""

TOOL_NAMES = frozenset(spec.name for spec in TOOLS)
WRITE_TOOLS = frozenset(spec.name for spec in TOOLS if spec.writes)
ORDER_TOOLS = frozenset(
    {
        "find_customer_orders",
        "get_order_details",
        "cancel_pending_order",
        "return_delivered_order_items",
        "modify_pending_order_address",
    }
)
_BY_NAME = {spec.name: spec for spec in TOOLS}


def specs() -> list[dict[str, Any]]:
    """Every tool as the OpenAI API's ``tools=`` list."""
    return [spec.openai() for spec in TOOLS]


def problems(schema: dict[str, Any], value: object, where: str = "arguments") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (the subset of JSON schema the tools use); empty if valid."""
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where} must be an object"]
        found: list[str] = []
        properties: dict[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                found.append(f"{where}.{key} is required")
        for key, item in value.items():
            if key not in properties:
                known = ", ".join(properties) or "none"
                found.append(f"{where}.{key} is not a parameter (known: {known})")
            else:
                found.extend(problems(properties[key], item, f"{where}.{key}"))
        return found
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where} must be a list"]
        if len(value) < schema.get("minItems", 0):
            return [f"{where} must have at least {schema['minItems']} item(s)"]
        if len(value) > schema.get("maxItems", len(value)):
            return [f"{where} must have at most {schema['maxItems']} items"]
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            return [f"{where} lists an item twice"]
        return [p for i, item in enumerate(value) for p in problems(schema["items"], item, f"{where}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where} must be a string"]
        if len(value.strip()) < schema.get("minLength", 0):
            return [f"{where} must not be empty"]
        if len(value) > schema.get("maxLength", len(value)):
            return [f"{where} must be at most {schema['maxLength']} characters"]
        return []
    if kind == "number":
        # bool is an int in Python; JSON's true is not a price.
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return [f"{where} must be a number"]
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return [f"{where} must be more than {schema['exclusiveMinimum']}"]
        return []
    return []


class Handoffs(Protocol):
    """Where handoff requests are recorded (``app.store.orders.OrderStore`` in the server)."""

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """Record the request; its id."""
        ...


VERIFY_FIRST = (
    "The customer is not verified. Ask for the order number and the email address or delivery postcode on "
    "the order before looking up or changing orders."
)


def _not_found(order_id: str) -> ToolResult:
    # The same words whether the order is missing or someone else's: the answer must not tell them apart.
    return ToolResult(
        False,
        {"error": "not_found", "message": f"No order {order_id} was found for this customer."},
        f"Order {order_id} was not found.",
    )


def order_content(order: Order) -> dict[str, Any]:
    """The order as the model sees it."""
    content: dict[str, Any] = {
        "order_id": order.order_id,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "currency": order.currency,
        "total": order.total,
        "items": [
            {
                "item_id": i.item_id,
                "name": i.name,
                "quantity": i.quantity,
                "unit_price": i.unit_price,
                "returned_quantity": i.returned_quantity,
            }
            for i in order.items
        ],
        "address": order.address.as_dict(),
    }
    if order.shipment is not None:
        content["carrier"] = order.shipment.carrier
        content["tracking_number"] = order.shipment.tracking_number
    if order.delivered_at is not None:
        content["delivered_at"] = order.delivered_at.isoformat()
    return content


class ShopTools:
    """Runs the tools for one shop: its backend, catalog, recommender and handoff records."""

    def __init__(
        self,
        backend: ShopBackend,
        shop: Shop,
        recommender: Recommender,
        handoffs: Handoffs,
        *,
        rules: ShopRules | None = None,
    ) -> None:
        self._backend = backend
        # The rules a change is checked against before the customer is asked to confirm it (the backend checks
        # them again when it makes the change).
        self._rules = rules or ShopRules(shop.return_window_days)
        self._shop = shop
        self._recommender = recommender
        self._handoffs = handoffs
        self._catalog: CatalogIndex | None = None

    @staticmethod
    def specs() -> list[dict[str, Any]]:
        """Every tool as the OpenAI API's ``tools=`` list."""
        return specs()

    @staticmethod
    def writes(name: str) -> bool:
        """Whether the tool changes an order (the customer must confirm it first)."""
        return name in WRITE_TOOLS

    async def dispatch(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        customer_id: str | None,
        verified: bool,
        conversation_id: str | None = None,
    ) -> ToolResult:
        """Run one call for the conversation's customer; bad arguments, refusals and unknown tools are results."""
        spec = _BY_NAME.get(name)
        if spec is None:
            return ToolResult(
                False,
                {
                    "error": "unknown_tool",
                    "message": f"There is no tool {name!r}; use one of the tools listed.",
                },
                "That action is not available.",
            )
        found = problems(spec.parameters, arguments)
        if found:
            return ToolResult(
                False,
                {"error": "bad_arguments", "message": f"Invalid arguments for {name}: {'; '.join(found)}."},
                "The request could not be understood.",
                spec.writes,
            )
        if name in ORDER_TOOLS:
            if not verified or customer_id is None:
                return ToolResult(
                    False,
                    {"error": "verification_required", "message": VERIFY_FIRST},
                    "Please verify that you placed the order first.",
                    spec.writes,
                )
            result = await self._order_tool(name, arguments, customer_id)
            return ToolResult(result.ok, result.content, result.summary, spec.writes)
        if name == "search_products":
            return self._search(arguments["query"], arguments.get("max_price"))
        if name == "recommend_products":
            return self._recommend(
                arguments.get("query", ""), arguments.get("max_price"), customer_id if verified else None
            )
        summary = arguments["summary"].strip()
        handoff_id = await self._handoffs.add_handoff(
            conversation_id, customer_id if verified else None, summary
        )
        return ToolResult(
            True,
            {"handoff_id": handoff_id, "message": "A person from the team will take over this conversation."},
            "Passed to a person from the team.",
        )

    async def prepare(self, name: str, arguments: dict[str, Any], customer_id: str | None) -> ToolResult:
        """Check a write call without changing anything: ok with a summary for the customer to confirm, or why
        it cannot be done (bad arguments, not verified, not the customer's order, the shop's rules)."""
        spec = _BY_NAME.get(name)
        if spec is None or not spec.writes:
            return ToolResult(
                False,
                {"error": "unknown_tool", "message": f"{name!r} is not a tool that changes an order."},
                "That action is not available.",
            )
        found = problems(spec.parameters, arguments)
        if found:
            return ToolResult(
                False,
                {"error": "bad_arguments", "message": f"Invalid arguments for {name}: {'; '.join(found)}."},
                "The request could not be understood.",
                True,
            )
        if customer_id is None:
            return ToolResult(
                False,
                {"error": "verification_required", "message": VERIFY_FIRST},
                "Please verify that you placed the order first.",
                True,
            )
        order_id = arguments["order_id"].strip()
        order = await self._backend.get_order(order_id)
        if order is None or order.customer_id != customer_id:
            return _not_found(order_id)
        refusal = self._rules.refusal(name, order, arguments)
        if refusal is not None:
            return ToolResult(
                False, {"error": refusal.code, "message": refusal.message}, refusal.message, True
            )
        return ToolResult(True, order_content(order), _proposal(name, order, arguments), True)

    async def verify(self, order_id: str, email_or_postcode: str) -> str | None:
        """The customer whose order ``order_id`` carries this email or postcode, else None."""
        return await self._backend.verify(order_id.strip(), email_or_postcode)

    async def _order_tool(self, name: str, args: dict[str, Any], customer_id: str) -> ToolResult:
        if name == "find_customer_orders":
            orders = await self._backend.find_customer_orders(customer_id)
            return ToolResult(
                True,
                {
                    "orders": [
                        {
                            "order_id": o.order_id,
                            "status": o.status,
                            "placed_at": o.placed_at.isoformat(),
                            "total": o.total,
                            "currency": o.currency,
                            "items": len(o.items),
                        }
                        for o in orders
                    ]
                },
                f"Found {len(orders)} order{'s' if len(orders) != 1 else ''}.",
            )
        order_id = args["order_id"].strip()
        order = await self._backend.get_order(order_id)
        if order is None or order.customer_id != customer_id:
            return _not_found(order_id)
        if name == "get_order_details":
            return ToolResult(True, order_content(order), _status_summary(order))
        if name == "cancel_pending_order":
            outcome = await self._backend.cancel_pending_order(order_id, args["reason"].strip())
            done = f"Order {order_id} is cancelled."
        elif name == "return_delivered_order_items":
            outcome = await self._backend.return_delivered_order_items(
                order_id, [i.strip() for i in args["item_ids"]], args["reason"].strip()
            )
            done = f"Return requested for {len(args['item_ids'])} item(s) of order {order_id}."
        else:
            address = Address.from_dict({k: v.strip() for k, v in args["address"].items()})
            outcome = await self._backend.modify_pending_order_address(order_id, address)
            done = f"Order {order_id} will be delivered to {address.line1}, {address.postcode}."
        if isinstance(outcome, Changed):
            return ToolResult(True, order_content(outcome.order), done)
        return ToolResult(False, {"error": outcome.code, "message": outcome.message}, outcome.message)

    def _search(self, query: str, max_price: float | None) -> ToolResult:
        if self._catalog is None:
            self._catalog = CatalogIndex(self._shop.for_sale())
        hits = [
            h.product
            for h in self._catalog.search(query, n=50)
            if max_price is None or h.product.price <= max_price
        ][:5]
        return ToolResult(
            True,
            {"products": [self._product(p.product_id, p.name, p.price) for p in hits]},
            f"Found {len(hits)} product{'s' if len(hits) != 1 else ''}.",
        )

    def _recommend(self, query: str, max_price: float | None, customer_id: str | None) -> ToolResult:
        found = [
            r
            for r in self._recommender.recommend(customer_id, query, n=20)
            if max_price is None or r.price <= max_price
        ][:5]
        return ToolResult(
            True,
            {
                "products": [
                    {**self._product(r.product_id, r.name, r.price), "reason": r.reason} for r in found
                ]
            },
            f"Found {len(found)} suggestion{'s' if len(found) != 1 else ''}.",
        )

    def _product(self, product_id: str, name: str, price: float) -> dict[str, Any]:
        return {"product_id": product_id, "name": name, "price": price, "currency": self._shop.currency}


def _proposal(name: str, order: Order, arguments: dict[str, Any]) -> str:
    """What the customer is asked to confirm, in plain words."""
    money = f"{order.total:.2f} {order.currency}"
    if name == "cancel_pending_order":
        count = len(order.items)
        return f"Cancel order {order.order_id} ({count} item{'s' if count != 1 else ''}, {money})."
    if name == "return_delivered_order_items":
        wanted = {i.strip() for i in arguments["item_ids"]}
        names = [f"{i.quantity} × {i.name}" for i in order.items if i.item_id in wanted]
        return f"Return from order {order.order_id}: {'; '.join(names)}."
    address = Address.from_dict({k: v.strip() for k, v in arguments["address"].items()})
    parts = [address.name, address.line1, address.line2, address.city, address.postcode, address.country]
    return f"Deliver order {order.order_id} to {', '.join(p for p in parts if p)}."


def _status_summary(order: Order) -> str:
    text = {
        "pending": "is pending",
        "processing": "is being prepared",
        "shipped": "has shipped",
        "delivered": "was delivered",
        "cancelled": "is cancelled",
        "return_requested": "is being returned",
    }[order.status]
    if order.shipment is not None and order.status == "shipped":
        text += f" with {order.shipment.carrier} (tracking {order.shipment.tracking_number})"
    return f"Order {order.order_id} {text}."
