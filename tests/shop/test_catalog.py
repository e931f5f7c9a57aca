"""Reading a shop folder: every problem noted as file:line: what — fix, none of them a traceback."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.shop.catalog import DEMO_SHOP_DIR, load_shop, looks_like_a_charge, read_shop
from tests.shop.conftest import PURCHASES_CSV, SHOP_TOML, ShopFolder


def test_the_clean_folder_has_no_problems(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({}))
    assert reading.problems.kept == []
    assert reading.shop is not None
    assert len(reading.shop.products) == 2


def test_the_demo_shop_has_no_problems() -> None:
    reading = read_shop(DEMO_SHOP_DIR)
    assert (reading.problems.errors, reading.problems.warnings) == (0, 0)


def test_an_error_stops_loading_with_one_line_per_problem(shop_folder: ShopFolder) -> None:
    folder = shop_folder({"shop.toml": SHOP_TOML.replace('answer = "Yes, within 30 days."\n', "")})
    with pytest.raises(ConfigError) as caught:
        load_shop(folder)
    lines = caught.value.message.splitlines()
    assert lines[0] == f"the shop folder {folder} has 1 error:"
    assert lines[1] == (
        f'  {folder}/shop.toml:12: FAQ entry 1 (\'returns\') has no answer — add answer = """…""" with the text'
        " the assistant should reply"
    )
    assert "shopchat shop check" in lines[-1]


@pytest.mark.parametrize(
    ("price", "value"), [('"9,50"', 9.5), ('"9,50 £"', 9.5), ("£9.50", 9.5), ('"1,234.50"', 1234.5)]
)
def test_prices_in_common_forms_load(shop_folder: ShopFolder, price: str, value: float) -> None:
    shop = load_shop(
        shop_folder({"products.csv": f"product_id,name,price\n1,Blue Mug,{price}\n2,Red Candle,1\n"})
    )
    assert shop.products["1"].price == pytest.approx(value)


def test_a_price_in_another_currency_is_an_error_at_its_line(shop_folder: ShopFolder) -> None:
    folder = shop_folder(
        {"products.csv": 'product_id,name,price\n1,Blue Mug,2.50\n2,Red Candle,"9,50 EUR"\n'}
    )
    reading = read_shop(folder)
    assert reading.shop is None
    assert reading.problems.lines("error") == [
        "products.csv:3: price: '9,50 EUR' is in EUR, but the shop's currency is GBP — write prices in GBP"
        ' (nothing is converted), or set currency = "EUR" in shop.toml'
    ]


def test_semicolon_separated_exports_are_read(shop_folder: ShopFolder) -> None:
    shop = load_shop(
        shop_folder({"products.csv": "product_id;name;price\n1;Blue Mug;2,50\n2;Red Candle;3,95\n"})
    )
    assert [p.price for p in shop.products.values()] == [2.5, 3.95]


def test_a_missing_purchases_file_is_a_warning(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({"purchases.csv": None}))
    assert reading.shop is not None
    assert [(p.severity, p.file, p.code) for p in reading.problems.kept] == [
        ("warning", "purchases.csv", "missing_file")
    ]


def test_an_unknown_product_in_purchases_is_a_warning_and_the_row_is_left_out(
    shop_folder: ShopFolder,
) -> None:
    reading = read_shop(shop_folder({"purchases.csv": PURCHASES_CSV + "c3,999,1,1,2024-03-01\n"}))
    assert reading.shop is not None
    assert reading.problems.lines("warning") == [
        "purchases.csv:5: warning: product '999' is not in products.csv: this purchase is left out — add the"
        " product to products.csv, or remove the row"
    ]
    assert not reading.shop.has_customer("c3")


def test_bad_purchase_values_are_errors_at_their_lines(shop_folder: ShopFolder) -> None:
    rows = PURCHASES_CSV + "c3,1,two,1,2024-03-01\nc3,1,1,1,09/03/2024\n,1,1,1,2024-03-01\n"
    reading = read_shop(shop_folder({"purchases.csv": rows}))
    assert [(p.line, p.code) for p in reading.problems.kept] == [
        (5, "bad_number"),
        (6, "bad_date"),
        (7, "missing_value"),
    ]


def test_missing_columns_are_named(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({"products.csv": "id,name,price\n1,Blue Mug,2.50\n"}))
    [problem] = reading.problems.of("error")
    assert (problem.file, problem.line, problem.code) == ("products.csv", 1, "bad_header")
    assert "no product_id column" in problem.what


def test_gzipped_purchases_are_read(shop_folder: ShopFolder) -> None:
    packed = gzip.compress(PURCHASES_CSV.encode())
    shop = load_shop(shop_folder({"purchases.csv": None, "purchases.csv.gz": packed}))
    assert len(shop.purchases) == 3


def test_a_broken_gzip_file_is_an_error(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({"purchases.csv": None, "purchases.csv.gz": b"not gzip"}))
    assert [p.code for p in reading.problems.kept] == ["gzip"]


def test_text_that_is_not_utf8_is_an_error(shop_folder: ShopFolder) -> None:
    reading = read_shop(
        shop_folder({"products.csv": "product_id,name,price\n1,Caf\xe9 Mug,2.50\n".encode("latin-1")})
    )
    assert [(p.line, p.code) for p in reading.problems.kept] == [(2, "encoding")]


def test_a_missing_folder_is_one_error(tmp_path: Path) -> None:
    reading = read_shop(tmp_path / "nowhere")
    assert [(p.file, p.code) for p in reading.problems.kept] == [("", "missing_folder")]


def test_customers_per_product_are_counted_when_not_given(shop_folder: ShopFolder) -> None:
    shop = load_shop(
        shop_folder({"products.csv": "product_id,name,price\n1,Blue Mug,2.50\n2,Red Candle,3.95\n"})
    )
    assert {p.product_id: p.n_customers for p in shop.products.values()} == {"1": 2, "2": 1}


def test_warnings_are_logged_once(shop_folder: ShopFolder, caplog: pytest.LogCaptureFixture) -> None:
    folder = shop_folder({"purchases.csv": None})
    with caplog.at_level(logging.WARNING, logger="shopchat.shop"):
        load_shop(folder)
        load_shop(folder)
    assert [r.getMessage() for r in caplog.records] == [
        f"{folder}/purchases.csv: warning: the shop folder has no purchases.csv: nobody gets personal recommendations,"
        " everyone gets the best sellers (by n_customers) — export one row per customer and product as"
        " purchases.csv (see docs/shop.md)"
    ]


def test_many_alike_problems_are_summarised(shop_folder: ShopFolder) -> None:
    rows = PURCHASES_CSV + "".join(f"c{i},999,1,1,2024-03-01\n" for i in range(25))
    lines = read_shop(shop_folder({"purchases.csv": rows})).problems.lines("warning")
    assert len(lines) == 11
    assert lines[-1] == "purchases.csv: … and 15 more like this"


@pytest.mark.parametrize(
    ("product_id", "name", "charge"),
    [
        ("23444", "Next Day Carriage", True),
        ("23574", "Packing Charge", True),
        ("POST", "Postage", True),
        ("M", "Manual", True),
        ("BANK CHARGES", "Bank Charges", True),
        ("AMAZONFEE", "Amazon Fee", True),
        ("23099", "French Carriage Lantern", False),
        ("21518", "Bank Account Greeting Card", False),
        ("85168B", "Black Baroque Carriage Clock", False),
        ("GV20", "Gift Voucher £20", True),
        ("GV", "GIFT VOUCHERS", True),
        ("22699", "Gift Bag Birthday", False),
    ],
)
def test_charges_are_told_from_goods(product_id: str, name: str, charge: bool) -> None:
    assert looks_like_a_charge(product_id, name) is charge


def test_a_charge_without_a_kind_is_a_non_product_with_a_warning(shop_folder: ShopFolder) -> None:
    reading = read_shop(
        shop_folder({"products.csv": "product_id,name,price\n1,Blue Mug,2.50\n2,Postage,3.95\n"})
    )
    assert reading.shop is not None
    assert [p.product_id for p in reading.shop.for_sale()] == ["1"]
    assert [(p.line, p.code) for p in reading.problems.kept] == [(3, "looks_like_a_charge")]


def test_the_kind_column_decides(shop_folder: ShopFolder) -> None:
    csv = "product_id,name,price,kind\n1,Gift Wrap Service,2.50,non-product\n2,Postage Stamp Album,3.95,product\n"
    shop = load_shop(shop_folder({"products.csv": csv}))
    assert [p.name for p in shop.for_sale()] == ["Postage Stamp Album"]


def test_the_demo_catalog_marks_postage_and_fees() -> None:
    products = load_shop().products
    assert {pid for pid, p in products.items() if not p.is_product} == {"23444", "23574", "23702"}
