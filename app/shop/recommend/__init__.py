"""Collaborative-filtering recommendations: the kNN engine and the shop-facing service around it."""

from __future__ import annotations

from app.shop.recommend.knn import KNNRecommender

__all__ = ["KNNRecommender"]
