"""What the ``recommend`` route asks of a recommender, and the popularity baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.shop.catalog import Shop


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One suggested product with the reason shown to the customer."""

    product_id: str
    name: str
    price: float
    currency: str
    reason: str
    score: float


class Recommender(Protocol):
    """Suggests products for a customer; ``query`` is the customer's message, with any constraints in it."""

    def recommend(self, customer_id: str | None, query: str, n: int = 5) -> list[Recommendation]:
        """Up to ``n`` products, best first, never one the customer already bought."""
        ...


class PopularityRecommender:
    """Best sellers by number of customers: the fallback when nothing personal is known."""

    def __init__(self, shop: Shop) -> None:
        self._shop = shop
        self._ranked = sorted(shop.products.values(), key=lambda p: (-p.n_customers, p.product_id))

    def recommend(self, customer_id: str | None, query: str, n: int = 5) -> list[Recommendation]:
        """The most popular products the customer has not bought yet."""
        bought = {p.product_id for p in self._shop.customer_purchases(customer_id)} if customer_id else set()
        out: list[Recommendation] = []
        for product in self._ranked:
            if product.product_id in bought:
                continue
            out.append(
                Recommendation(
                    product_id=product.product_id,
                    name=product.name,
                    price=product.price,
                    currency=self._shop.currency,
                    reason=f"A best seller: bought by {product.n_customers:,} customers",
                    score=float(product.n_customers),
                )
            )
            if len(out) == n:
                break
        return out
