"""Derive the compact demo-shop files shipped in ``app/data/shop`` from the Online Retail data set.

Run ``python -m app.shop.demo ../shared/data/online-retail`` to rebuild them.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

from app.shop.catalog import NON_PRODUCT_CODES, looks_like_a_charge

# Catalog lines that are not goods although their names do not say so; written with kind non-product.
# "High Resolution Image" is a picture, not goods from the gift range.
NOT_GOODS = frozenset({"23702"})

OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "shop"

SMALL_WORDS = frozenset({"of", "and", "the", "in", "with", "for", "a", "an", "on", "to", "de"})


def display_name(description: str) -> str:
    """Turn the data set's upper-case descriptions into readable product names."""
    words = description.strip().lower().split()
    out = []
    for i, word in enumerate(words):
        out.append(word if i and word in SMALL_WORDS else word[:1].upper() + word[1:])
    return " ".join(out)


def derive(source: Path, out_dir: Path = OUT_DIR) -> tuple[int, int]:
    """Write products.csv and purchases.csv.gz; return (products, purchase rows) written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kept: set[str] = set()
    with (
        (source / "products.csv").open(newline="", encoding="utf-8") as fin,
        (out_dir / "products.csv").open("w", newline="", encoding="utf-8") as fout,
    ):
        writer = csv.writer(fout)
        writer.writerow(["product_id", "name", "price", "n_customers", "kind"])
        for row in csv.DictReader(fin):
            code = row["StockCode"]
            price = float(row["median_unit_price_gbp"])
            if code in NON_PRODUCT_CODES or price <= 0.01:
                continue
            kept.add(code)
            name = display_name(row["description"])
            # Postage, carriage and fee lines stay in the catalog (they are in customers' histories), marked so
            # that they are never recommended or shown.
            kind = "non-product" if code in NOT_GOODS or looks_like_a_charge(code, name) else "product"
            writer.writerow([code, name, f"{price:.2f}", row["n_customers"], kind])
    n_rows = 0
    with (
        gzip.open(source / "interactions.csv.gz", "rt", newline="", encoding="utf-8") as fin,
        gzip.open(out_dir / "purchases.csv.gz", "wt", newline="", encoding="utf-8", compresslevel=9) as fout,
    ):
        writer = csv.writer(fout)
        writer.writerow(["customer_id", "product_id", "n_invoices", "quantity", "last_purchase"])
        for row in csv.DictReader(fin):
            if row["StockCode"] not in kept:
                continue
            writer.writerow(
                [
                    row["CustomerID"],
                    row["StockCode"],
                    row["n_invoices"],
                    row["total_qty"],
                    row["last_purchase"],
                ]
            )
            n_rows += 1
    return len(kept), n_rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / "products.csv").is_file():
        print("usage: python -m app.shop.demo PATH/TO/online-retail", file=sys.stderr)
        return 2
    n_products, n_rows = derive(Path(args[0]))
    print(f"wrote {n_products} products and {n_rows} purchase rows to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
