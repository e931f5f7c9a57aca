"""Reading a shop backend file: the docs' examples load, and every problem of a bad file is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError
from app.orders.endpoints import READS, WRITES, fill_body, fill_url, read_endpoints
from tests.orders.fakeshop import ENV, EXAMPLES, SECRET


@pytest.mark.parametrize("example", ["shopify", "woocommerce"])
def test_the_docs_example_files_load(example: str) -> None:
    endpoints = read_endpoints(EXAMPLES / f"{example}.toml", ENV)
    assert set(endpoints.operations) == {*READS, *WRITES}
    assert endpoints.secrets == (SECRET,)
    assert not endpoints.allow_private


def test_headers_stay_out_of_repr() -> None:
    endpoints = read_endpoints(EXAMPLES / "shopify.toml", ENV)
    assert SECRET not in repr(endpoints)


def test_a_missing_environment_variable_is_named_without_any_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_endpoints(EXAMPLES / "woocommerce.toml", {"OTHER": SECRET})
    assert "headers.Authorization: environment variable WOO_BASIC_AUTH is not set" in str(caught.value)
    assert SECRET not in str(caught.value)


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "shop-backend.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_endpoints(path, {})
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{path}: ")
    return [line.strip().removeprefix(f"{path}: ") for line in lines[1:]]


def test_every_problem_is_reported_with_its_key(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
base_url = "http://shop.example.com/api"
timeout_s = -1
colour = "blue"

[operations.get_order]
url = "/orders/{order_number}"
order = ""

[operations.cancel_pending_order]
url = "orders/{order_ref}"

[order]
id = "id"
items = "line_items"

[[order.status]]
status = "pending"

[[order.status]]
field = "status"
equals = "shipped"
status = "sent"
""",
    )
    expected = [
        "colour: not a known key",
        "base_url: plain http would send the headers",
        "timeout_s: must be a number above 0",
        "operations.find_customer_orders: missing",
        "operations.get_order.url: unknown placeholder {order_number}",
        "operations.cancel_pending_order.method: missing or not an HTTP method",
        "operations.cancel_pending_order.url: must start with /",
        "order.item: missing",
        "order.address: missing",
        "order.customer_id: missing",
        "order.status[1].status: missing or not one of ours",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert all(" — " in p for p in problems)  # each says how to fix it


def test_a_rule_after_the_catch_all_is_reported(tmp_path: Path) -> None:
    text = (
        EXAMPLES / "shopify.toml"
    ).read_text() + '\n[[order.status]]\nfield = "x"\npresent = true\nstatus = "shipped"\n'
    problems = _problems(tmp_path, text.replace("${SHOPIFY_ACCESS_TOKEN}", "literal"))
    assert problems == [
        "order.status[6]: comes after a rule without a field, so it never applies — move the catch-all last"
    ]


def test_a_file_that_is_not_toml_says_so(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("base_url = \n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid TOML: .*line 1"):
        read_endpoints(path, {})


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the shop backend file"):
        read_endpoints(tmp_path / "nope.toml", {})


def test_url_values_are_encoded_and_body_values_keep_their_type() -> None:
    assert fill_url("/orders/{order_id}?q={reason}", {"order_id": "a/b", "reason": "x&y z"}) == (
        "/orders/a%2Fb?q=x%26y%20z"
    )
    body = {"id": "{order_ref}", "note": "lines {item_ids}", "items": "{item_ids}"}
    assert fill_body(body, {"order_ref": 42, "item_ids": ["1", "2"]}) == {
        "id": 42,
        "note": "lines 1,2",
        "items": ["1", "2"],
    }
