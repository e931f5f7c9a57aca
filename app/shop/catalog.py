"""The shop a server answers for: catalog, customers' purchase histories and FAQ/policy text."""

from __future__ import annotations

import csv
import gzip
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigError

DEMO_SHOP_DIR = Path(__file__).resolve().parent.parent / "data" / "shop"
_PURCHASE_COLUMNS = ("customer_id", "product_id", "n_invoices", "quantity", "last_purchase")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class Product:
    """One catalog item; ``price`` is in the shop's currency."""

    product_id: str
    name: str
    price: float
    n_customers: int


@dataclass(frozen=True, slots=True)
class Purchase:
    """All of one customer's purchases of one product, aggregated."""

    customer_id: str
    product_id: str
    n_invoices: int
    quantity: int
    last_purchase: date


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A curated answer and the ways customers ask for it."""

    faq_id: str
    questions: tuple[str, ...]
    answer: str
    topic: str = ""


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

    def format_price(self, amount: float) -> str:
        """Render a price the way the shop shows it, e.g. ``£2.95``."""
        return f"{self.currency_symbol}{amount:,.2f}"

    def site_domain(self) -> str | None:
        """The domain of the shop's website (``www.`` dropped, so its other subdomains count too), if it has one."""
        host = urlsplit(self.website).hostname if self.website else None
        return host.removeprefix("www.") if host else None


def _read_products(path: Path) -> dict[str, Product]:
    products: dict[str, Product] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                products[row["product_id"]] = Product(
                    product_id=row["product_id"],
                    name=row["name"],
                    price=float(row["price"]),
                    n_customers=int(row.get("n_customers") or 0),
                )
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{path}:{line}: bad product row ({exc})") from exc
    return products


def _read_purchases(path: Path) -> list[Purchase]:
    opener = gzip.open if path.suffix == ".gz" else open
    purchases: list[Purchase] = []
    # A few hundred distinct dates across 266k rows: parse each once.
    parse_date = lru_cache(maxsize=None)(date.fromisoformat)
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        try:
            columns = [header.index(name) for name in _PURCHASE_COLUMNS]
        except ValueError as exc:
            raise ConfigError(f"{path}: header must name {', '.join(_PURCHASE_COLUMNS)}") from exc
        c_customer, c_product, c_invoices, c_quantity, c_last = columns
        for line, row in enumerate(reader, start=2):
            try:
                purchases.append(
                    Purchase(
                        row[c_customer],
                        row[c_product],
                        int(row[c_invoices]),
                        int(row[c_quantity]),
                        parse_date(row[c_last]),
                    )
                )
            except (IndexError, ValueError) as exc:
                raise ConfigError(f"{path}:{line}: bad purchase row ({exc})") from exc
    return purchases


def _widget_settings(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """``[shop] website`` and the ``[widget]`` table: the greeting, its suggestion chips and the link domains."""
    website = str(meta.get("shop", {}).get("website", "")).strip()
    if website and urlsplit(website).scheme not in ("http", "https"):
        raise ConfigError(
            f'{path}: [shop] website must be an http(s) URL such as "https://www.your-shop.example"'
        )
    widget = meta.get("widget", {})
    if not isinstance(widget, dict):
        raise ConfigError(f"{path}: [widget] must be a table")
    greeting = widget.get("greeting", "")
    if not isinstance(greeting, str):
        raise ConfigError(f"{path}: [widget] greeting must be a string")
    suggestions = widget.get("suggestions", [])
    domains = widget.get("link_domains", [])
    for key, value in (("suggestions", suggestions), ("link_domains", domains)):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{path}: [widget] {key} must be a list of non-empty strings")
    cleaned = []
    for domain in domains:
        host = (urlsplit(domain).hostname or "") if "://" in domain else domain.strip().lower().strip(".")
        if not _DOMAIN.match(host):
            raise ConfigError(
                f'{path}: [widget] link_domains: {domain!r} is not a domain name (write "your-shop.example")'
            )
        cleaned.append(host)
    return {
        "website": website,
        "greeting": greeting.strip(),
        "suggestions": tuple(s.strip() for s in suggestions),
        "link_domains": tuple(cleaned),
    }


def load_shop(directory: Path = DEMO_SHOP_DIR) -> Shop:
    """Load ``shop.toml``, ``products.csv`` and ``purchases.csv[.gz]`` from a shop directory.

    Loads are cached per directory and file modification times; treat the result as read-only.
    """
    stamps = tuple(
        (name, (directory / name).stat().st_mtime_ns if (directory / name).exists() else 0)
        for name in ("shop.toml", "products.csv", "purchases.csv.gz", "purchases.csv")
    )
    return _load_shop(directory.resolve(), stamps)


@lru_cache(maxsize=4)
def _load_shop(directory: Path, _stamps: tuple[tuple[str, int], ...]) -> Shop:
    meta_path = directory / "shop.toml"
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"shop directory {directory} has no shop.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{meta_path}: {exc}") from exc
    info = meta.get("shop", {})
    faq = [
        FaqEntry(
            faq_id=str(item["id"]),
            questions=tuple(str(q) for q in item["questions"]),
            answer=str(item["answer"]).strip(),
            topic=str(item.get("topic", "")),
        )
        for item in meta.get("faq", [])
    ]
    purchases_path = directory / "purchases.csv.gz"
    if not purchases_path.exists():
        purchases_path = directory / "purchases.csv"
    return Shop(
        name=str(info.get("name", "Our shop")),
        currency=str(info.get("currency", "GBP")),
        currency_symbol=str(info.get("currency_symbol", "£")),
        description=str(info.get("description", "")).strip(),
        support_hours=str(info.get("support_hours", "")),
        support_email=str(info.get("support_email", "")),
        policies={str(k): str(v).strip() for k, v in meta.get("policies", {}).items()},
        faq=faq,
        products=_read_products(directory / "products.csv"),
        purchases=_read_purchases(purchases_path) if purchases_path.exists() else [],
        **_widget_settings(meta, meta_path),
    )
