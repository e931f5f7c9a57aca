"""ShopRecommender: the chat server's ``recommend`` route, backed by the kNN engine and the shop catalogue."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np

from app.shop.catalog import DEMO_SHOP_DIR, Product, Shop
from app.shop.problems import Problems
from app.shop.recommend.confidence import confidence
from app.shop.recommend.constraints import Constraints, parse_constraints, words
from app.shop.recommend.knn import KNNRecommender
from app.shop.recommender import NOTHING_SHOWN, Recommendation, Shown, excluded_for

MODEL_FILE: Final = "model.npz"
DEFAULT_MODEL_PATH: Final = DEMO_SHOP_DIR / MODEL_FILE
# Below this share of the catalog's goods, a model.npz was built from another shop's (or an old) history.
_MIN_KNOWN_SHARE: Final = 0.5
# Catalogue products matching an anchor word that are used as the co-purchase basket when the customer's own
# purchases do not mention it; the best sellers among them are the likeliest meaning.
_MAX_ANCHOR_PRODUCTS: Final = 20
# How many of the customer's items that led to a suggestion are looked at to find one worth naming (not
# postage or a fee) in its reason.
_REASONS_LOOKED_AT: Final = 5

Progress = Callable[[str], None]


def build_demo_model(shop: Shop, progress: Progress | None = None) -> KNNRecommender:
    """Fit the engine on the shop's purchase history (confidence from invoice counts), ranker included."""
    say = progress or (lambda _step: None)
    say("reading purchases")
    # Postage and fee lines are on half of all invoices: as "co-purchases" they would only add noise.
    goods = {p.product_id for p in shop.for_sale()}
    rows = [p for p in shop.purchases if p.product_id in goods]
    if not rows:
        raise ValueError("the shop has no purchases of catalogue products to learn from")
    customers = np.array([p.customer_id for p in rows])
    products = np.array([p.product_id for p in rows])
    values = confidence([p.n_invoices for p in rows])
    say("fitting")
    model = KNNRecommender(kind="item", similarity="cosine").fit(customers, products, values)
    say("building co-purchase neighbourhoods")
    _ = model.ranker
    return model


def check_model(directory: Path, shop: Shop, problems: Problems) -> None:
    """Note problems with the folder's ``model.npz``: unreadable (an error), or not made for this shop."""
    path = directory / MODEL_FILE
    if not path.exists():
        return
    rebuild = f"rebuild it with `shopchat recommend build --shop {directory} --output {path}`, or delete it"
    try:
        model = KNNRecommender.load(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        problems.error(
            MODEL_FILE, None, f"the recommendation model cannot be read ({exc})", rebuild, "bad_model"
        )
        return
    if not shop.purchases:
        problems.warning(
            MODEL_FILE,
            None,
            "model.npz is not used: without purchases everyone gets the best sellers",
            "add purchases.csv, or delete model.npz",
            "unused_model",
        )
        return
    goods = shop.for_sale()
    known = sum(model.knows_item(p.product_id) for p in goods)
    if goods and known < _MIN_KNOWN_SHARE * len(goods):
        problems.warning(
            MODEL_FILE,
            None,
            f"model.npz knows only {known:,} of the {len(goods):,} products in products.csv: it was built from"
            " other purchases, and the rest are never recommended",
            rebuild,
            "stale_model",
        )


class ShopRecommender:
    """Personal picks for known customers, else co-purchases or best sellers, always within constraints."""

    def __init__(self, shop: Shop, model: KNNRecommender | str | Path | None = None) -> None:
        self._shop = shop
        if model is None:
            model = DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.exists() else build_demo_model(shop)
        self._model = model if isinstance(model, KNNRecommender) else KNNRecommender.load(model)
        # Only goods become cards: postage, carriage and fee lines (kind non-product) are in histories, never offered.
        self._products = [p for p in shop.for_sale() if self._model.knows_item(p.product_id)]
        self._prices = np.array([p.price for p in self._products], dtype=np.float64)
        self._by_word: dict[str, set[int]] = defaultdict(set)
        for n, product in enumerate(self._products):
            for word in words(product.name):
                self._by_word[word].add(n)
        self._vocabulary = frozenset(self._by_word)

    @property
    def model(self) -> KNNRecommender:
        """The engine behind the suggestions."""
        return self._model

    def recommend(
        self, customer_id: str | None, query: str, n: int = 5, shown: Shown = NOTHING_SHOWN
    ) -> list[Recommendation]:
        """Up to ``n`` products, best first, within the message's constraints, never one already bought.

        After cards were shown, "cheaper" means cheaper than the cheapest of the last ones, and "cheaper",
        "more" or "something different" never repeat a product the conversation showed.
        """
        if n <= 0:
            return []
        wanted = parse_constraints(query, self._vocabulary).after(shown.last_prices)
        bought = self._bought(customer_id)
        skip = bought | excluded_for(wanted, shown)
        candidates = [p.product_id for p in self._matching(wanted) if p.product_id not in skip]
        anchors = self._anchor_products(wanted.anchors, customer_id)
        if anchors:
            ranked = self._model.top_n_for_items(anchors, n, exclude=bought, candidates=candidates)
            return [self._explained(item, score, basket=anchors) for item, score in ranked]
        if customer_id is not None and self._model.knows_user(customer_id):
            ranked = self._model.top_n(customer_id, n, candidates=candidates)
            return [self._explained(item, score, user=customer_id) for item, score in ranked]
        if bought:
            # A customer newer than the model: their shop history is still a usable basket.
            basket = sorted(bought)
            ranked = self._model.top_n_for_items(basket, n, exclude=bought, candidates=candidates)
            return [self._explained(item, score, basket=basket) for item, score in ranked]
        return [self._best_seller(str(item)) for item, _ in self._model.popular(n, candidates=candidates)]

    def _bought(self, customer_id: str | None) -> set[str]:
        if customer_id is None:
            return set()
        history = {p.product_id for p in self._shop.customer_purchases(customer_id)}
        return history | {str(item) for item in self._model.items_of(customer_id)}

    def _matching(self, wanted: Constraints) -> list[Product]:
        """Catalogue products in the price range matching the keywords (relaxed to any keyword if need be)."""
        in_range = np.ones(len(self._products), dtype=np.bool_)
        if wanted.max_price is not None:
            in_range &= self._prices <= wanted.max_price
        if wanted.min_price is not None:
            in_range &= self._prices >= wanted.min_price
        allowed = set(np.flatnonzero(in_range).tolist())
        if wanted.keywords:
            sets = [self._by_word.get(word, set()) for word in wanted.keywords]
            every = set.intersection(*sets) & allowed
            # "red christmas mug" with no such product still has red mugs or christmas mugs to offer.
            allowed = every if every else set.union(*sets) & allowed
        return [self._products[n] for n in sorted(allowed)]

    def _anchor_products(self, anchors: tuple[str, ...], customer_id: str | None) -> list[str]:
        """Products the message refers to: the customer's own purchases first, else matching best sellers."""
        if not anchors:
            return []
        matches = set.intersection(*(self._by_word.get(word, set()) for word in anchors))
        if not matches:
            return []
        ids = {self._products[n].product_id for n in matches}
        own = [p.product_id for p in self._shop.customer_purchases(customer_id or "") if p.product_id in ids]
        if own:
            return own
        ranked = sorted(ids, key=lambda pid: (-self._shop.products[pid].n_customers, pid))
        return ranked[:_MAX_ANCHOR_PRODUCTS]

    def _explained(
        self, item: int | str, score: float, user: str | None = None, basket: list[str] | None = None
    ) -> Recommendation:
        product = self._shop.products[str(item)]
        because = self._model.explain(item, user=user, basket=basket or (), n=_REASONS_LOOKED_AT)
        sources = [self._shop.products.get(str(source)) for source, _ in because]
        # "Customers who bought Next Day Carriage also bought this" explains nothing: name goods only.
        named = next((source for source in sources if source is not None and source.is_product), None)
        if named is None or score <= 0:
            return self._best_seller(product.product_id)
        return self._recommendation(product, f"Customers who bought {named.name} also bought this", score)

    def _best_seller(self, product_id: str) -> Recommendation:
        product = self._shop.products[product_id]
        reason = f"A best seller: bought by {product.n_customers:,} customers"
        return self._recommendation(product, reason, float(product.n_customers))

    def _recommendation(self, product: Product, reason: str, score: float) -> Recommendation:
        return Recommendation(
            product_id=product.product_id,
            name=product.name,
            price=product.price,
            currency=self._shop.currency,
            reason=reason,
            score=float(score),
        )
