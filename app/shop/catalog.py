"""The shop a server answers for: catalog, customers' purchase histories and FAQ/policy text.

A shop folder holds ``shop.toml``, ``products.csv`` and ``purchases.csv`` (or ``.csv.gz``); docs/shop.md
describes every file, column and key. Reading it notes every problem (``app.shop.problems``) instead of
stopping at the first: ``read_shop`` returns them all, ``load_shop`` refuses a folder with errors and logs its
warnings.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import IO, Final, Literal
from urllib.parse import urlsplit

from app.errors import ConfigError
from app.shop.price import PriceError, parse_price
from app.shop.problems import Problems
from app.shop.profile import SHOP_TOML, FaqEntry, Profile, read_profile

__all__ = [
    "DEMO_SHOP_DIR",
    "FaqEntry",
    "Product",
    "Purchase",
    "Shop",
    "ShopReading",
    "load_shop",
    "read_shop",
]

log = logging.getLogger("shopchat.shop")

DEMO_SHOP_DIR = Path(__file__).resolve().parent.parent / "data" / "shop"
PRODUCTS_CSV: Final = "products.csv"
PURCHASE_FILES: Final = ("purchases.csv.gz", "purchases.csv")
PRODUCT_COLUMNS: Final = ("product_id", "name", "price")
PRODUCT_OPTIONAL: Final = ("n_customers", "kind")
PURCHASE_COLUMNS: Final = ("customer_id", "product_id", "last_purchase")
PURCHASE_OPTIONAL: Final = ("n_invoices", "quantity")

ProductKind = Literal["product", "non-product"]
KINDS: Final[tuple[ProductKind, ...]] = ("product", "non-product")

# Lines that invoices carry but nobody buys as goods. Rows whose kind is blank are classified by these: the
# Online Retail data set's fee and bookkeeping stock codes, and names made only of charge words ("Next Day
# Carriage", "Packing Charge", "Bank Charges", "Manual") — "French Carriage Lantern" has other words and stays.
NON_PRODUCT_CODES: Final = frozenset(
    {"POST", "DOT", "M", "C2", "C3", "BANK CHARGES", "AMAZONFEE", "CRUK", "D", "S", "B", "PADS", "ADJUST"}
)
CHARGE_WORDS: Final = frozenset(
    [
        "postage",
        "post",
        "carriage",
        "shipping",
        "delivery",
        "next",
        "day",
        "express",
        "courier",
        "packing",
        "packaging",
        "handling",
        "charge",
        "charges",
        "fee",
        "fees",
        "bank",
        "amazon",
        "ebay",
        "paypal",
        "commission",
        "discount",
        "discounts",
        "manual",
        "adjustment",
        "adjustments",
        "adjust",
        "bad",
        "debt",
        "sample",
        "samples",
        "dotcom",
        "surcharge",
        # A voucher is money in another form: "Gift Voucher £20" is never a suggestion.
        "gift",
        "voucher",
        "vouchers",
        "p&p",
        "and",
        "uk",
        "international",
    ]
)
_NAME_WORD: Final = re.compile(r"[a-z&]+")


@dataclass(frozen=True, slots=True)
class Product:
    """One catalog item; ``price`` is in the shop's currency; a ``non-product`` (postage, fees) is never offered."""

    product_id: str
    name: str
    price: float
    n_customers: int
    kind: ProductKind = "product"

    @property
    def is_product(self) -> bool:
        """Whether this is goods a customer can be recommended or shown (not postage, a fee, a discount …)."""
        return self.kind == "product"


@dataclass(frozen=True, slots=True)
class Purchase:
    """All of one customer's purchases of one product, aggregated."""

    customer_id: str
    product_id: str
    n_invoices: int
    quantity: int
    last_purchase: date


@dataclass(slots=True)
class Shop:
    """Everything the assistant knows about the shop; loaded once at start-up."""

    name: str
    currency: str
    currency_symbol: str
    description: str
    support_hours: str
    support_email: str
    policies: dict[str, str]
    faq: list[FaqEntry]
    products: dict[str, Product]
    purchases: list[Purchase]
    website: str = ""
    greeting: str = ""
    suggestions: tuple[str, ...] = ()
    link_domains: tuple[str, ...] = ()
    return_window_days: int = 30
    _by_customer: dict[str, list[Purchase]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Purchase]] = defaultdict(list)
        for purchase in self.purchases:
            grouped[purchase.customer_id].append(purchase)
        for rows in grouped.values():
            rows.sort(key=lambda p: (p.last_purchase, p.n_invoices), reverse=True)
        self._by_customer = dict(grouped)

    def customer_purchases(self, customer_id: str) -> list[Purchase]:
        """The customer's purchases, most recent first; empty for unknown customers."""
        return self._by_customer.get(customer_id, [])

    def has_customer(self, customer_id: str) -> bool:
        """Whether the customer has any purchase history."""
        return customer_id in self._by_customer

    def customer_ids(self) -> list[str]:
        """Every customer with a purchase history, sorted."""
        return sorted(self._by_customer)

    def for_sale(self) -> list[Product]:
        """The products that may be recommended, searched and shown: every product except postage, fees …"""
        return [p for p in self.products.values() if p.is_product]

    def format_price(self, amount: float) -> str:
        """Render a price the way the shop shows it, e.g. ``£2.95``."""
        return f"{self.currency_symbol}{amount:,.2f}"

    def site_domain(self) -> str | None:
        """The domain of the shop's website (``www.`` dropped, so its other subdomains count too), if it has one."""
        host = urlsplit(self.website).hostname if self.website else None
        return host.removeprefix("www.") if host else None


def looks_like_a_charge(product_id: str, name: str) -> bool:
    """Whether a catalog line is postage, a fee, a discount or bookkeeping rather than goods (see docs/shop.md)."""
    if product_id.strip().upper() in NON_PRODUCT_CODES:
        return True
    words = _NAME_WORD.findall(name.lower())
    return bool(words) and all(word in CHARGE_WORDS for word in words)


@dataclass(slots=True)
class ShopReading:
    """A shop folder as read: the shop (None when there are errors) and every problem found."""

    directory: Path
    shop: Shop | None
    problems: Problems
    warned: bool = False


def read_shop(directory: Path = DEMO_SHOP_DIR) -> ShopReading:
    """Read a shop folder, noting every problem. Cached per folder and file modification times: read-only."""
    directory = Path(directory)
    names = (SHOP_TOML, PRODUCTS_CSV, *PURCHASE_FILES)
    stamps = tuple((name, _stamp(directory / name)) for name in names)
    return _read_shop(directory.resolve(), stamps)


def load_shop(directory: Path = DEMO_SHOP_DIR) -> Shop:
    """The shop in ``directory``; a folder with errors raises ``ConfigError`` listing them, warnings are logged.

    Loads are cached per folder and file modification times; treat the result as read-only.
    """
    reading = read_shop(directory)
    if reading.shop is None:
        raise ConfigError(shop_error_message(reading, directory))
    if not reading.warned:
        # Once per reading: the server, its CLI and fine-tune prompts may all ask for the same shop.
        reading.warned = True
        for line in reading.problems.lines("warning", directory):
            log.warning("%s", line)
    return reading.shop


def shop_error_message(reading: ShopReading, folder: Path | str) -> str:
    """One line per error, then how to see everything (for ``ConfigError`` and the CLI)."""
    problems = reading.problems
    count = f"{problems.errors:,} error{'s' if problems.errors != 1 else ''}"
    lines = [f"the shop folder {folder} has {count}:"]
    lines += [f"  {line}" for line in problems.lines("error", folder)]
    lines.append(f"(`shopchat shop check {folder}` lists every problem; docs/shop.md describes the files)")
    return "\n".join(lines)


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=4)
def _read_shop(directory: Path, _stamps: tuple[tuple[str, int], ...]) -> ShopReading:
    problems = Problems()
    if not directory.is_dir():
        problems.error(
            "",
            None,
            "the shop folder does not exist" if not directory.exists() else "the shop folder is not a folder",
            "point SHOPCHAT_SHOP_DIR (or the command's argument) at a folder with shop.toml, products.csv and "
            "purchases.csv",
            "missing_folder",
        )
        return ShopReading(directory, None, problems)
    profile = read_profile(directory, problems)
    products, uncounted = _read_products(directory, profile, problems)
    # A catalog with errors is not the one purchases will be checked against: its products are not known.
    purchases = _read_purchases(directory, products, problems, not problems.errors_in(PRODUCTS_CSV))
    if uncounted:
        products = _count_customers(products, uncounted, purchases)
    if problems.errors:
        return ShopReading(directory, None, problems)
    shop = Shop(
        name=profile.name,
        currency=profile.currency,
        currency_symbol=profile.currency_symbol,
        description=profile.description,
        support_hours=profile.support_hours,
        support_email=profile.support_email,
        policies=profile.policies,
        faq=profile.faq,
        website=profile.website,
        greeting=profile.greeting,
        suggestions=profile.suggestions,
        link_domains=profile.link_domains,
        return_window_days=profile.return_window_days,
        products=products,
        purchases=purchases,
    )
    return ShopReading(directory, shop, problems)


def _open_csv(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return path.open(newline="", encoding="utf-8-sig")


def _csv_rows(path: Path, file: str, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of every non-blank row, the header first; unreadable files are errors."""
    line = 0
    try:
        with _open_csv(path) as fh:
            first = fh.readline()
            delimiter = ","
            if "," not in first:
                # A spreadsheet's export in a decimal-comma locale separates fields with ';'.
                delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
            reader = csv.reader(itertools.chain([first], fh), delimiter=delimiter)
            for row in reader:
                line = reader.line_num
                if row:
                    yield line, row
    except UnicodeDecodeError as exc:
        # Text is decoded in chunks, so the reader's line is not where the bad byte is: look for it.
        problems.error(
            file,
            _first_line_not_utf8(path),
            f"not UTF-8 text ({exc.reason})",
            "save the file as UTF-8 CSV",
            "encoding",
        )
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        problems.error(file, None, f"not a readable gzip file ({exc})", "compress it again with gzip", "gzip")
    except csv.Error as exc:
        problems.error(file, line + 1, f"not readable as CSV ({exc})", "save it as plain CSV", "csv")


def _first_line_not_utf8(path: Path) -> int | None:
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _columns(
    file: str,
    header: list[str],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: Problems,
) -> dict[str, int] | None:
    """Column name → index, or None (with an error) when a required column is missing."""
    names = [h.strip().lower().replace(" ", "_") for h in header]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in columns:
            problems.error(
                file, 1, f"column {name!r} appears twice in the header", "keep one of them", "bad_header"
            )
            return None
        columns[name] = index
        if name not in required and name not in optional:
            problems.warning(
                file,
                1,
                f"unknown column {name!r} is ignored",
                f"the known columns are {', '.join(required + optional)}",
                "unknown_column",
            )
    missing = [name for name in required if name not in columns]
    if missing:
        problems.error(
            file,
            1,
            f"the header has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}"
            f" (it has {', '.join(names) or 'nothing'})",
            f"the first line must name the columns: {','.join(required)}"
            + (f" and optionally {','.join(optional)}" if optional else ""),
            "bad_header",
        )
        return None
    return columns


def _field_count(file: str, line: int, row: list[str], width: int, problems: Problems) -> bool:
    if len(row) == width:
        return True
    problems.error(
        file,
        line,
        f"the row has {len(row)} fields but the header has {width}",
        "put text that contains commas in double quotes, and give every row every column",
        "field_count",
    )
    return False


def _read_products(
    directory: Path, profile: Profile, problems: Problems
) -> tuple[dict[str, Product], set[str]]:
    """The catalog, and the ids whose ``n_customers`` must be counted from purchases."""
    file = PRODUCTS_CSV
    path = directory / file
    products: dict[str, Product] = {}
    uncounted: set[str] = set()
    if not path.exists():
        problems.error(
            file,
            None,
            "the shop folder has no products.csv",
            "export your catalog as products.csv with the columns product_id,name,price (see docs/shop.md)",
            "missing_file",
        )
        return products, uncounted
    rows = _csv_rows(path, file, problems)
    first = next(rows, None)
    columns = _columns(file, first[1], PRODUCT_COLUMNS, PRODUCT_OPTIONAL, problems) if first else None
    if columns is None:
        if first is None and not problems.errors_in(file):
            problems.error(
                file, None, "products.csv is empty", "add a header line and one row per product", "empty"
            )
        return products, uncounted
    width = len(first[1]) if first else 0
    c_id, c_name, c_price = (columns[name] for name in PRODUCT_COLUMNS)
    c_customers = columns.get("n_customers")
    c_kind = columns.get("kind")
    lines: dict[str, int] = {}
    for line, row in rows:
        if not _field_count(file, line, row, width, problems):
            continue
        product = _product(file, line, row, (c_id, c_name, c_price, c_customers, c_kind), profile, problems)
        if product is None:
            continue
        if product.product_id in lines:
            problems.error(
                file,
                line,
                f"product {product.product_id!r} is listed twice (first on line {lines[product.product_id]})",
                "keep one row per product_id",
                "duplicate_id",
            )
            continue
        lines[product.product_id] = line
        products[product.product_id] = product
        if c_customers is None or not row[c_customers].strip():
            uncounted.add(product.product_id)
    if not products and not problems.errors:
        problems.warning(
            file,
            None,
            "products.csv lists no products: nothing can be recommended or found",
            "add one row per product under the header",
            "empty",
        )
    return products, uncounted


def _product(
    file: str,
    line: int,
    row: list[str],
    cols: tuple[int, int, int, int | None, int | None],
    profile: Profile,
    problems: Problems,
) -> Product | None:
    c_id, c_name, c_price, c_customers, c_kind = cols
    product_id, name = row[c_id].strip(), row[c_name].strip()
    ok = True
    if not product_id:
        problems.error(file, line, "product_id is empty", "give every product a unique id", "missing_value")
        ok = False
    if not name:
        problems.error(
            file, line, f"product {product_id!r} has no name", "write the name customers see", "missing_value"
        )
        ok = False
    price = 0.0
    try:
        price = parse_price(row[c_price], profile.currency, profile.currency_symbol)
    except PriceError as exc:
        problems.error(file, line, f"price: {exc.what}", exc.fix, "bad_price")
        ok = False
    n_customers = 0
    raw_customers = row[c_customers].strip() if c_customers is not None else ""
    if raw_customers:
        try:
            n_customers = int(raw_customers)
            if n_customers < 0:
                raise ValueError(raw_customers)
        except ValueError:
            problems.error(
                file,
                line,
                f"n_customers {raw_customers!r} is not a whole number of 0 or more",
                "write digits only (e.g. 120), or leave it empty to count it from purchases",
                "bad_number",
            )
            ok = False
    raw_kind = row[c_kind].strip().lower().replace("_", "-") if c_kind is not None else ""
    kind: ProductKind = "product"
    if raw_kind == "non-product":
        kind = "non-product"
    elif raw_kind not in ("", "product"):
        problems.error(
            file,
            line,
            f"kind {raw_kind!r} is not one of {', '.join(KINDS)}",
            "write product for goods, non-product for postage, fees, discounts and other invoice lines",
            "bad_kind",
        )
        ok = False
    if not ok:
        return None
    if not raw_kind and looks_like_a_charge(product_id, name):
        kind = "non-product"
        problems.warning(
            file,
            line,
            f"{name!r} looks like a charge, not goods: it is never recommended or shown as a product",
            "write non-product in its kind column to confirm, or product if customers can buy it",
            "looks_like_a_charge",
        )
    if price == 0 and kind == "product":
        problems.warning(
            file,
            line,
            f"{name!r} costs nothing: it is recommended as free",
            "check the price, or mark it kind = non-product if it is not for sale",
            "zero_price",
        )
    return Product(product_id=product_id, name=name, price=price, n_customers=n_customers, kind=kind)


_DATE_HELP: Final = "write the date as YYYY-MM-DD, e.g. 2011-12-09"


@cache
def _date(text: str) -> date:
    # A few hundred distinct dates across 266k rows: each is parsed once. A time after the date is ignored.
    if len(text) > 10 and text[10] in " T":
        text = text[:10]
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)


def _read_purchases(
    directory: Path, products: dict[str, Product], problems: Problems, check_products: bool = True
) -> list[Purchase]:
    found = [name for name in PURCHASE_FILES if (directory / name).exists()]
    if not found:
        problems.warning(
            "purchases.csv",
            None,
            "the shop folder has no purchases.csv: nobody gets personal recommendations, everyone gets the best"
            " sellers (by n_customers)",
            "export one row per customer and product as purchases.csv (see docs/shop.md)",
            "missing_file",
        )
        return []
    file = found[0]
    if len(found) > 1:
        problems.warning(
            found[1],
            None,
            f"both {found[0]} and {found[1]} exist; only {found[0]} is read",
            f"delete the one you do not mean ({found[1]})",
            "two_files",
        )
    rows = _csv_rows(directory / file, file, problems)
    first = next(rows, None)
    if first is None:
        if not problems.errors_in(file):
            problems.warning(file, None, f"{file} is empty", "add a header line and the purchases", "empty")
        return []
    columns = _columns(file, first[1], PURCHASE_COLUMNS, PURCHASE_OPTIONAL, problems)
    if columns is None:
        return []
    width = len(first[1])
    c_customer, c_product, c_last = (columns[name] for name in PURCHASE_COLUMNS)
    c_invoices, c_quantity = columns.get("n_invoices"), columns.get("quantity")
    purchases: list[Purchase] = []
    append = purchases.append
    for line, row in rows:
        try:
            customer, product = row[c_customer].strip(), row[c_product].strip()
            purchase = Purchase(
                customer,
                product,
                int(row[c_invoices]) if c_invoices is not None else 1,
                int(row[c_quantity]) if c_quantity is not None else 1,
                _date(row[c_last]),
            )
            if (
                not customer
                or (check_products and product not in products)
                or purchase.n_invoices < 1
                or purchase.quantity < 1
                or len(row) != width
            ):
                raise ValueError(line)
        except (IndexError, ValueError):
            # The row is left out, and the problem says why: an error, or a warning for an unknown product.
            _purchase_problem(file, line, row, width, columns, products if check_products else None, problems)
            continue
        append(purchase)
    return purchases


def _purchase_problem(
    file: str,
    line: int,
    row: list[str],
    width: int,
    columns: dict[str, int],
    products: dict[str, Product] | None,
    problems: Problems,
) -> None:
    """Note what is wrong with a purchase row that could not be taken as it is."""
    if not _field_count(file, line, row, width, problems):
        return
    customer, product = row[columns["customer_id"]].strip(), row[columns["product_id"]].strip()
    before = sum(problems.totals.values())
    if not customer:
        problems.error(
            file, line, "customer_id is empty", "give every row the customer's id", "missing_value"
        )
    if not product:
        problems.error(
            file,
            line,
            "product_id is empty",
            "give every row a product_id from products.csv",
            "missing_value",
        )
    for name in PURCHASE_OPTIONAL:
        index = columns.get(name)
        if index is None:
            continue
        value = row[index].strip()
        if not value.isdigit() or int(value) < 1:
            problems.error(
                file,
                line,
                f"{name} {value!r} is not a whole number of 1 or more",
                "write digits only, e.g. 3",
                "bad_number",
            )
    value = row[columns["last_purchase"]].strip()
    try:
        _date(value)
    except ValueError:
        problems.error(file, line, f"last_purchase {value!r} is not a date", _DATE_HELP, "bad_date")
    if sum(problems.totals.values()) > before:
        return
    if products is not None and product not in products:
        problems.warning(
            file,
            line,
            f"product {product!r} is not in products.csv: this purchase is left out",
            "add the product to products.csv, or remove the row",
            "unknown_product",
        )
        return
    problems.error(file, line, "this row cannot be read", "compare it with the header line", "bad_row")


def _count_customers(
    products: dict[str, Product], uncounted: set[str], purchases: list[Purchase]
) -> dict[str, Product]:
    """Products whose ``n_customers`` was left empty get the number of customers who bought them."""
    buyers: dict[str, set[str]] = defaultdict(set)
    for purchase in purchases:
        if purchase.product_id in uncounted:
            buyers[purchase.product_id].add(purchase.customer_id)
    return {
        pid: replace(product, n_customers=len(buyers.get(pid, ()))) if pid in uncounted else product
        for pid, product in products.items()
    }
