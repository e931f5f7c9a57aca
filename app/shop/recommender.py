"""What the ``recommend`` route asks of a recommender, and the popularity baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.shop.catalog import Product, Shop
from app.shop.recommend.constraints import Constraints, parse_constraints


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One suggested product with the reason shown to the customer."""

    product_id: str
    name: str
    price: float
    currency: str
    reason: str
    score: float


@dataclass(frozen=True, slots=True)
class Shown:
    """The cards a conversation showed before this message: what "cheaper" and "something different" refer to."""

    product_ids: frozenset[str] = frozenset()
    last_prices: tuple[float, ...] = ()


NOTHING_SHOWN = Shown()


class Recommender(Protocol):
    """Suggests products for a customer; ``query`` is the customer's message, with any constraints in it."""

    def recommend(
        self, customer_id: str | None, query: str, n: int = 5, shown: Shown = NOTHING_SHOWN
    ) -> list[Recommendation]:
        """Up to ``n`` products, best first, never one the customer already bought.

        ``shown`` is what the conversation showed before: "cheaper" is cheaper than its last cards, and "more"
        or "something different" never repeats one of its products.
        """
        ...


def excluded_for(wanted: Constraints, shown: Shown) -> frozenset[str]:
    """Products not to suggest again: everything shown, when the message asks for cheaper, different or more."""
    return shown.product_ids if wanted.relative else frozenset()


class PopularityRecommender:
    """Best sellers by number of customers: the fallback when nothing personal is known."""

    def __init__(self, shop: Shop) -> None:
        self._shop = shop
        self._ranked = sorted(shop.for_sale(), key=lambda p: (-p.n_customers, p.product_id))

    def recommend(
        self, customer_id: str | None, query: str, n: int = 5, shown: Shown = NOTHING_SHOWN
    ) -> list[Recommendation]:
        """The most popular products the customer has not bought yet, within the message's price bounds."""
        bought = {p.product_id for p in self._shop.customer_purchases(customer_id)} if customer_id else set()
        # Only the price and "something different" are read here: keywords need a catalogue vocabulary.
        wanted = parse_constraints(query, vocabulary=()).after(shown.last_prices)
        skip = bought | excluded_for(wanted, shown)
        out: list[Recommendation] = []
        for product in self._ranked:
            if product.product_id in skip or not wanted.allows_price(product.price):
                continue
            out.append(self._recommendation(product))
            if len(out) == n:
                break
        return out

    def _recommendation(self, product: Product) -> Recommendation:
        return Recommendation(
            product_id=product.product_id,
            name=product.name,
            price=product.price,
            currency=self._shop.currency,
            reason=f"A best seller: bought by {product.n_customers:,} customers",
            score=float(product.n_customers),
        )
