"""``shopchat recommend show|build``."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from typer.testing import CliRunner

from app.shop.catalog import DEMO_SHOP_DIR
from app.shop.recommend import KNNRecommender
from app.shop.recommend.cli import recommend_app

runner = CliRunner()


def test_show_prints_suggestions_with_reasons() -> None:
    result = runner.invoke(recommend_app, ["show", "--customer", "12347", "-n", "3"])
    assert result.exit_code == 0, result.output
    assert "Customers who bought" in result.output


def test_show_unknown_customer_fails_clearly() -> None:
    result = runner.invoke(recommend_app, ["show", "--customer", "no-such-customer"])
    assert result.exit_code == 1
    assert "unknown customer" in result.output


def test_build_writes_a_loadable_model(tmp_path: Path) -> None:
    # A slice of the demo shop keeps the build quick; the first rows include customer 12347.
    shop_dir = tmp_path / "shop"
    shop_dir.mkdir()
    for name in ("shop.toml", "products.csv"):
        shutil.copy(DEMO_SHOP_DIR / name, shop_dir / name)
    with gzip.open(DEMO_SHOP_DIR / "purchases.csv.gz", "rt", encoding="utf-8") as fh:
        (shop_dir / "purchases.csv").write_text("".join(fh.readlines()[:5000]), encoding="utf-8")
    output = tmp_path / "model.npz"
    result = runner.invoke(recommend_app, ["build", "--output", str(output), "--shop", str(shop_dir)])
    assert result.exit_code == 0, result.output
    assert KNNRecommender.load(output).knows_user("12347")
