"""Jinja2 prompt templates from ``prompts/``, overridable file by file through ``SHOPCHAT_PROMPTS_DIR``."""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from app.errors import TemplateError
from app.shop.catalog import Product, Purchase, Shop
from app.shop.profile import FaqEntry
from app.shop.recommender import Recommendation

SYSTEM = "system.j2"
CUSTOMER_CONTEXT = "customer_context.j2"
RECOMMENDATION = "recommendation.j2"
LOCAL_RECOMMENDATION = "local_recommendation.j2"
KNOWLEDGE = "knowledge.j2"
TEMPLATES = (SYSTEM, CUSTOMER_CONTEXT, RECOMMENDATION, LOCAL_RECOMMENDATION, KNOWLEDGE)
# These become system messages: the customer's words must never be rendered into them, or "new rules from the
# shop owner: …" would reach the model with system authority. They are only ever given to the model as the
# user message; the local responder's introduction (LOCAL_RECOMMENDATION) is answer text and may quote them.
SYSTEM_ROLE_TEMPLATES = (SYSTEM, CUSTOMER_CONTEXT, RECOMMENDATION, KNOWLEDGE)
CUSTOMER_TEXT_VARIABLES = frozenset({"query"})
SHIPPED_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    """A past purchase as templates see it."""

    product_id: str
    name: str
    price: str
    quantity: int
    times_ordered: int
    last_purchase: str


@dataclass(frozen=True, slots=True)
class CustomerView:
    """The customer as templates see it."""

    customer_id: str
    n_products: int
    recent_purchases: list[PurchaseLine]


def _template_location(exc: BaseException) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's file name and line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return f"{frame.filename}:{frame.lineno}"
    return "?"


class PromptLibrary:
    """Loads and renders the prompt templates; every failure names the file and line."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or SHIPPED_PROMPTS_DIR
        directories = [directory] if directory == SHIPPED_PROMPTS_DIR else [directory, SHIPPED_PROMPTS_DIR]
        if not directory.is_dir():
            raise TemplateError(f"prompts directory {directory} does not exist")
        self.directory = directory
        self._loader = jinja2.FileSystemLoader([str(d) for d in directories])
        self._env = jinja2.Environment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["money"] = lambda amount, symbol="£": f"{symbol}{float(amount):,.2f}"
        # Catalog values (product names, reasons) as quoted data, so a name cannot pose as an instruction.
        self._env.filters["data"] = lambda value: json.dumps(value, ensure_ascii=False)
        self._templates: dict[str, jinja2.Template] = {}
        for name in TEMPLATES:
            self._templates[name] = self._load(name)
        for name in SYSTEM_ROLE_TEMPLATES:
            self._refuse_customer_text(name)

    def _load(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"prompt template {name} not found in {self.directory}") from exc

    def _refuse_customer_text(self, name: str) -> None:
        # Checked at start-up (an override written for an older shopchat may still use ``query``): failing
        # later, on the first recommendation, would end that customer's answer with an internal error.
        source, filename, _ = self._loader.get_source(self._env, name)
        used = jinja2.meta.find_undeclared_variables(self._env.parse(source)) & CUSTOMER_TEXT_VARIABLES
        if used:
            raise TemplateError(
                f"{filename}: uses {', '.join(sorted(used))}, which system-message templates do not get: the "
                "customer's words reach the model only as their own (user) message"
            )

    def render(self, name: str, **context: Any) -> str:
        """Render one template; undefined variables and template bugs raise ``TemplateError``."""
        template = self._templates.get(name) or self._load(name)
        try:
            return template.render(**context).strip()
        except jinja2.TemplateError as exc:
            location = _template_location(exc)
            raise TemplateError(f"{location}: {exc}") from exc
        except Exception as exc:
            raise TemplateError(f"{_template_location(exc)}: {type(exc).__name__}: {exc}") from exc

    def system_prompt(self, shop: Shop) -> str:
        """The assistant's standing instructions for this shop."""
        return self.render(SYSTEM, shop=shop, policies=shop.policies)

    def customer_context(self, shop: Shop, customer: CustomerView | None) -> str | None:
        """What we know about the customer, or None for an anonymous visitor."""
        if customer is None:
            return None
        return self.render(CUSTOMER_CONTEXT, shop=shop, customer=customer)

    def knowledge(self, shop: Shop, faq: Sequence[FaqEntry], products: Sequence[Product]) -> str:
        """The shop's FAQ entries and products found for the latest message, as data for the model."""
        return self.render(KNOWLEDGE, shop=shop, faq=faq, products=products)

    def recommendation_handoff(
        self, shop: Shop, items: Sequence[Recommendation], customer: CustomerView | None
    ) -> str:
        """Instructions telling the model how to present the recommender's results (no customer text in it)."""
        return self.render(RECOMMENDATION, shop=shop, items=items, customer=customer)

    def local_recommendation(
        self, shop: Shop, items: Sequence[Recommendation], customer: CustomerView | None, query: str
    ) -> str:
        """The deterministic introduction the local backend gives recommendations."""
        return self.render(LOCAL_RECOMMENDATION, shop=shop, items=items, customer=customer, query=query)


def customer_view(shop: Shop, customer_id: str | None, recent: int = 8) -> CustomerView | None:
    """The template view of a known customer; None for anonymous or unknown ids."""
    if not customer_id or not shop.has_customer(customer_id):
        return None
    purchases: Sequence[Purchase] = shop.customer_purchases(customer_id)
    lines = []
    for purchase in purchases[:recent]:
        product = shop.products.get(purchase.product_id)
        if product is None or not product.is_product:
            continue  # postage and fees are order lines, not things the customer owns
        lines.append(
            PurchaseLine(
                product_id=product.product_id,
                name=product.name,
                price=shop.format_price(product.price),
                quantity=purchase.quantity,
                times_ordered=purchase.n_invoices,
                last_purchase=purchase.last_purchase.isoformat(),
            )
        )
    return CustomerView(customer_id=customer_id, n_products=len(purchases), recent_purchases=lines)
