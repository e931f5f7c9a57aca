"""A small, clean shop folder that each test breaks in one way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SHOP_TOML = """[shop]
name = "Tiny Gifts"
currency = "GBP"
currency_symbol = "£"
description = "Mugs and candles."
support_hours = "Mon-Fri 9-5"
support_email = "help@tiny.example"

[policies]
returns = "Returns within 30 days."

[[faq]]
id = "returns"
topic = "returns"
questions = ["Can I return an item?"]
answer = "Yes, within 30 days."
"""
PRODUCTS_CSV = "product_id,name,price,n_customers,kind\n1,Blue Mug,2.50,2,product\n2,Red Candle,3.95,1,\n"
PURCHASES_CSV = (
    "customer_id,product_id,n_invoices,quantity,last_purchase\n"
    "c1,1,1,2,2024-01-05\n"
    "c2,1,2,3,2024-02-01\n"
    "c2,2,1,1,2024-02-01\n"
)

ShopFolder = Callable[[dict[str, str | bytes | None]], Path]


@pytest.fixture
def shop_folder(tmp_path: Path) -> ShopFolder:
    """``shop_folder({"products.csv": "…"})``: the clean shop with some files replaced, or left out (None)."""

    def make(files: dict[str, str | bytes | None]) -> Path:
        folder = tmp_path / "shop"
        folder.mkdir(exist_ok=True)
        contents: dict[str, str | bytes | None] = {
            "shop.toml": SHOP_TOML,
            "products.csv": PRODUCTS_CSV,
            "purchases.csv": PURCHASES_CSV,
            **files,
        }
        for name, content in contents.items():
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            elif content is not None:
                (folder / name).write_text(content, encoding="utf-8")
        return folder

    return make
