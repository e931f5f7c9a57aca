"""The order tools: their names and schemas, argument checks, identity and what reaches the backend."""

from __future__ import annotations

from typing import Any

import pytest

from app.orders.backend import StoredShopBackend, to_record
from app.orders.tools import TOOLS, WRITE_TOOLS, ShopTools, ToolResult, problems, specs
from app.shop.recommender import Recommendation
from app.store.orders import OrderStore
from tests.fakes import FixedRecommender
from tests.orders.conftest import order, small_shop

ADDRESS = {
    "name": "Ann Example",
    "line1": "7 Mill Road",
    "city": "York",
    "postcode": "YO1 7AB",
    "country": "United Kingdom",
}
# One valid call per tool.
VALID: dict[str, dict[str, Any]] = {
    "find_customer_orders": {},
    "get_order_details": {"order_id": "o1"},
    "cancel_pending_order": {"order_id": "o1", "reason": "ordered by mistake"},
    "return_delivered_order_items": {"order_id": "o1", "item_ids": ["A"], "reason": "too small"},
    "modify_pending_order_address": {"order_id": "o1", "address": ADDRESS},
    "search_products": {"query": "baking set", "max_price": 10},
    "recommend_products": {"query": "gift", "max_price": 5.5},
    "transfer_to_human_agents": {"summary": "Wants to talk to a person about a refund."},
}
# Bad arguments per tool, each with words of the expected message.
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("find_customer_orders", {"customer_id": "12347"}, "arguments.customer_id is not a parameter"),
    ("get_order_details", {}, "arguments.order_id is required"),
    ("get_order_details", {"order_id": 536365}, "arguments.order_id must be a string"),
    ("get_order_details", {"order_id": "  "}, "arguments.order_id must not be empty"),
    ("get_order_details", {"order_id": "1" * 33}, "at most 32 characters"),
    ("cancel_pending_order", {"order_id": "o1"}, "arguments.reason is required"),
    ("cancel_pending_order", {"order_id": "o1", "reason": ""}, "arguments.reason must not be empty"),
    ("return_delivered_order_items", {"order_id": "o1", "item_ids": [], "reason": "x"}, "at least 1 item"),
    ("return_delivered_order_items", {"order_id": "o1", "item_ids": "A", "reason": "x"}, "must be a list"),
    (
        "return_delivered_order_items",
        {"order_id": "o1", "item_ids": ["A", "A"], "reason": "x"},
        "lists an item twice",
    ),
    (
        "return_delivered_order_items",
        {"order_id": "o1", "item_ids": [1], "reason": "x"},
        "item_ids[0] must be a string",
    ),
    ("modify_pending_order_address", {"order_id": "o1", "address": "York"}, "address must be an object"),
    (
        "modify_pending_order_address",
        {"order_id": "o1", "address": {**ADDRESS, "postcode": ""}},
        "address.postcode must not be empty",
    ),
    (
        "modify_pending_order_address",
        {"order_id": "o1", "address": {k: v for k, v in ADDRESS.items() if k != "city"}},
        "address.city is required",
    ),
    ("search_products", {}, "arguments.query is required"),
    ("search_products", {"query": "mug", "max_price": "10"}, "max_price must be a number"),
    ("search_products", {"query": "mug", "max_price": True}, "max_price must be a number"),
    ("recommend_products", {"max_price": 0}, "max_price must be more than 0"),
    ("recommend_products", {"budget": 5}, "arguments.budget is not a parameter"),
    ("transfer_to_human_agents", {}, "arguments.summary is required"),
]


class Handoffs:
    """Records handoff requests in memory."""

    def __init__(self) -> None:
        self.added: list[tuple[str | None, str | None, str]] = []

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        self.added.append((conversation_id, customer_id, summary))
        return len(self.added)


@pytest.fixture
def handoffs() -> Handoffs:
    """In-memory handoff records."""
    return Handoffs()


@pytest.fixture
def recommender() -> FixedRecommender:
    """Two suggestions, one over £5."""
    return FixedRecommender(
        items=(
            Recommendation("22138", "Baking Set", 4.95, "GBP", "bought together", 1.0),
            Recommendation("85099B", "Jumbo Bag", 6.5, "GBP", "bought together", 0.5),
        )
    )


@pytest.fixture
async def tools(
    orders: OrderStore, backend: StoredShopBackend, handoffs: Handoffs, recommender: FixedRecommender
) -> ShopTools:
    """Tools over a backend holding c1's orders o1 (pending) and o2 (delivered) and c2's order o3."""
    await orders.add(
        [
            to_record(order("o1", "pending")),
            to_record(order("o2", "delivered", delivered_days_ago=3)),
            to_record(order("o3", "pending", customer_id="c2")),
        ]
    )
    return ShopTools(backend, small_shop(), recommender, handoffs)


async def run(tools: ShopTools, name: str, args: dict[str, Any], customer: str | None = "c1") -> ToolResult:
    return await tools.dispatch(name, args, customer_id=customer, verified=customer is not None)


def test_the_tools_have_exactly_the_issue_s_names() -> None:
    assert [s["function"]["name"] for s in specs()] == list(VALID)
    assert {
        "cancel_pending_order",
        "return_delivered_order_items",
        "modify_pending_order_address",
    } == WRITE_TOOLS


def test_every_spec_is_an_openai_function_with_a_closed_object_schema() -> None:
    for spec in specs():
        assert spec["type"] == "function"
        parameters = spec["function"]["parameters"]
        assert parameters["type"] == "object"
        assert parameters["additionalProperties"] is False
        assert set(parameters["required"]) <= set(parameters["properties"])
        assert spec["function"]["description"]


@pytest.mark.parametrize("name", list(VALID))
def test_a_valid_call_has_no_problems(name: str) -> None:
    spec = next(s for s in TOOLS if s.name == name)
    assert problems(spec.parameters, VALID[name]) == []


@pytest.mark.parametrize(("name", "args", "expected"), INVALID)
async def test_bad_arguments_are_a_clear_result_for_the_model(
    tools: ShopTools, orders: OrderStore, name: str, args: dict[str, Any], expected: str
) -> None:
    result = await run(tools, name, args)
    assert not result.ok
    assert result.content["error"] == "bad_arguments"
    assert expected in result.content["message"]
    assert result.writes == (name in WRITE_TOOLS)
    stored = await orders.get("o1")
    assert stored is not None
    assert stored.status == "pending"


async def test_an_unknown_tool_is_a_result(tools: ShopTools) -> None:
    result = await run(tools, "delete_everything", {})
    assert (result.ok, result.content["error"]) == (False, "unknown_tool")


@pytest.mark.parametrize(
    "name", sorted(set(VALID) - {"search_products", "recommend_products"} - {"transfer_to_human_agents"})
)
async def test_order_tools_refuse_an_unverified_customer(
    tools: ShopTools, orders: OrderStore, name: str
) -> None:
    for customer_id, verified in ((None, False), ("c1", False)):
        result = await tools.dispatch(name, VALID[name], customer_id=customer_id, verified=verified)
        assert (result.ok, result.content["error"]) == (False, "verification_required")
    stored = await orders.get("o1")
    assert stored is not None
    assert stored.status == "pending"
    assert stored.address["city"] == "London"


@pytest.mark.parametrize(
    "name", ["get_order_details", "cancel_pending_order", "modify_pending_order_address"]
)
async def test_someone_else_s_order_is_not_found_like_a_missing_one(
    tools: ShopTools, orders: OrderStore, name: str
) -> None:
    theirs = await run(tools, name, {**VALID[name], "order_id": "o3"})
    missing = await run(tools, name, {**VALID[name], "order_id": "o9"})
    assert not theirs.ok
    assert theirs.content == {"error": "not_found", "message": "No order o3 was found for this customer."}
    assert missing.content["message"].replace("o9", "o3") == theirs.content["message"]
    assert theirs.summary.replace("o3", "o9") == missing.summary
    assert "Ann" not in str(theirs.content)
    stored = await orders.get("o3")
    assert stored is not None
    assert stored.status == "pending"
    assert stored.address["city"] == "London"


async def test_someone_else_s_items_are_not_returned(tools: ShopTools, orders: OrderStore) -> None:
    await orders.add([to_record(order("o4", "delivered", customer_id="c2", delivered_days_ago=1))])
    result = await run(
        tools, "return_delivered_order_items", {**VALID["return_delivered_order_items"], "order_id": "o4"}
    )
    assert result.content["error"] == "not_found"
    stored = await orders.get("o4")
    assert stored is not None
    assert stored.status == "delivered"


async def test_find_customer_orders_lists_only_the_customer_s(tools: ShopTools) -> None:
    result = await run(tools, "find_customer_orders", {})
    assert result.ok
    assert [o["order_id"] for o in result.content["orders"]] == ["o1", "o2"]
    assert result.summary == "Found 2 orders."


async def test_order_details_give_items_tracking_and_status(tools: ShopTools) -> None:
    result = await run(tools, "get_order_details", {"order_id": " o2 "})
    assert result.ok
    assert result.content["status"] == "delivered"
    assert [i["item_id"] for i in result.content["items"]] == ["A", "B"]
    assert result.content["total"] == 17.0
    assert result.content["tracking_number"] == "15000000001"
    assert result.summary == "Order o2 was delivered."


async def test_cancel_runs_for_the_owner(tools: ShopTools, orders: OrderStore) -> None:
    result = await run(tools, "cancel_pending_order", VALID["cancel_pending_order"])
    assert (result.ok, result.writes, result.summary) == (True, True, "Order o1 is cancelled.")
    stored = await orders.get("o1")
    assert stored is not None
    assert stored.status == "cancelled"


async def test_a_refusal_reaches_the_model_with_its_reason(tools: ShopTools) -> None:
    result = await run(tools, "cancel_pending_order", {"order_id": "o2", "reason": "x"})
    assert not result.ok
    assert result.content["error"] == "not_pending"
    assert "only pending orders can be cancelled" in result.content["message"]


async def test_return_runs_for_the_owner(tools: ShopTools) -> None:
    result = await run(
        tools, "return_delivered_order_items", {"order_id": "o2", "item_ids": ["B"], "reason": "x"}
    )
    assert result.ok
    assert result.content["status"] == "return_requested"


async def test_address_change_runs_for_the_owner(tools: ShopTools, backend: StoredShopBackend) -> None:
    result = await run(tools, "modify_pending_order_address", VALID["modify_pending_order_address"])
    assert result.ok
    changed = await backend.get_order("o1")
    assert changed is not None
    assert (changed.address.city, changed.address.postcode) == ("York", "YO1 7AB")


async def test_search_products_finds_catalog_products_under_the_price(tools: ShopTools) -> None:
    result = await run(tools, "search_products", {"query": "storage jar"}, customer=None)
    assert result.ok
    assert [p["product_id"] for p in result.content["products"]] == ["23166"]
    cheap = await run(tools, "search_products", {"query": "baking set", "max_price": 4}, customer=None)
    assert cheap.content["products"] == []


async def test_recommend_products_filters_by_price_and_personalises_only_the_verified(
    tools: ShopTools, recommender: FixedRecommender
) -> None:
    result = await run(tools, "recommend_products", {"max_price": 5})
    assert [p["product_id"] for p in result.content["products"]] == ["22138"]
    await tools.dispatch("recommend_products", {}, customer_id="c1", verified=False)
    assert [call[0] for call in recommender.calls] == ["c1", None]


async def test_transfer_records_a_handoff(tools: ShopTools, handoffs: Handoffs) -> None:
    result = await tools.dispatch(
        "transfer_to_human_agents",
        {"summary": " Refund question "},
        customer_id="c1",
        verified=True,
        conversation_id="conv1",
    )
    assert result.ok
    assert result.content["handoff_id"] == 1
    assert handoffs.added == [("conv1", "c1", "Refund question")]


async def test_transfer_is_stored_in_the_database(orders: OrderStore) -> None:
    handoff_id = await orders.add_handoff("conv1", None, "Wants a person")
    stored = await orders.handoffs("conv1")
    assert [(h.id, h.summary, h.status) for h in stored] == [(handoff_id, "Wants a person", "open")]


async def test_arguments_that_are_not_an_object_are_a_result(tools: ShopTools) -> None:
    not_an_object: Any = ["o1"]
    result = await run(tools, "get_order_details", not_an_object)
    assert result.content == {
        "error": "bad_arguments",
        "message": "Invalid arguments for get_order_details: arguments must be an object.",
    }


def test_write_tools_are_marked_for_confirmation() -> None:
    assert ShopTools.writes("cancel_pending_order")
    assert not ShopTools.writes("get_order_details")
    assert ShopTools.specs() == specs()
