"""``shopchat shop check DIR`` and the same lines when ``shopchat serve`` starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli, mount_subcommands
from app.shop.catalog import DEMO_SHOP_DIR
from app.shop.cli import shop_app
from tests.shop.conftest import SHOP_TOML, ShopFolder

mount_subcommands()
runner = CliRunner()

BROKEN_FAQ = SHOP_TOML.replace('answer = "Yes, within 30 days."\n', "")


def test_the_demo_shop_is_clean_in_one_line() -> None:
    result = runner.invoke(shop_app, ["check", str(DEMO_SHOP_DIR)])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.endswith(
        ": ok — 3,656 products (+3 postage/fee lines), 266,221 purchases by 4,334 customers, 21 FAQ entries,"
        " 8 policies"
    )


def test_errors_are_listed_and_exit_non_zero(shop_folder: ShopFolder) -> None:
    folder = shop_folder(
        {"shop.toml": BROKEN_FAQ, "products.csv": 'product_id,name,price\n1,Mug,"9,50 EUR"\n'}
    )
    result = runner.invoke(shop_app, ["check", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f'{folder}/shop.toml:12: FAQ entry 1 (\'returns\') has no answer — add answer = """…""" with the text the'
        " assistant should reply",
        f"{folder}/products.csv:2: price: '9,50 EUR' is in EUR, but the shop's currency is GBP — write prices in"
        ' GBP (nothing is converted), or set currency = "EUR" in shop.toml',
        f"{folder}: 2 errors — the server will not start with it",
    ]


def test_warnings_alone_pass_unless_strict(shop_folder: ShopFolder) -> None:
    folder = shop_folder({"purchases.csv": None})
    relaxed = runner.invoke(shop_app, ["check", str(folder)])
    strict = runner.invoke(shop_app, ["check", "--strict", str(folder)])
    assert relaxed.exit_code == 0
    assert strict.exit_code == 1
    assert relaxed.output.splitlines()[-1] == (
        f"{folder}: ok — 2 products, 0 purchases by 0 customers, 1 FAQ entry, 1 policy, 1 warning"
    )


def test_all_lists_every_problem(shop_folder: ShopFolder) -> None:
    rows = "customer_id,product_id,last_purchase\n" + "".join(f"c{i},999,2024-03-01\n" for i in range(12))
    folder = shop_folder({"purchases.csv": rows})
    short = runner.invoke(shop_app, ["check", str(folder)]).output.splitlines()
    every = runner.invoke(shop_app, ["check", "--all", str(folder)]).output.splitlines()
    assert (len(short), len(every)) == (12, 13)
    assert short[-2] == f"{folder}/purchases.csv: … and 2 more like this"


def test_an_unreadable_model_is_an_error(shop_folder: ShopFolder) -> None:
    folder = shop_folder({"model.npz": b"not a model"})
    result = runner.invoke(shop_app, ["check", str(folder)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{folder}/model.npz: the recommendation model cannot be read")


def test_serve_refuses_a_broken_shop_in_one_line_each(
    shop_folder: ShopFolder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = shop_folder({"shop.toml": BROKEN_FAQ})
    monkeypatch.setenv("SHOPCHAT_SHOP_DIR", str(folder))
    monkeypatch.setenv("SHOPCHAT_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.splitlines()[:2] == [
        f"error: the shop folder {folder} (SHOPCHAT_SHOP_DIR) has 1 error:",
        f'  {folder}/shop.toml:12: FAQ entry 1 (\'returns\') has no answer — add answer = """…""" with the text'
        " the assistant should reply",
    ]


def test_the_shop_group_is_mounted() -> None:
    result = runner.invoke(cli, ["shop", "--help"])
    assert result.exit_code == 0
    assert "check" in result.output
