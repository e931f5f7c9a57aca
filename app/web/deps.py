"""Every dependency the HTTP routes and the websocket endpoint take, declared once.

``HTTPConnection`` covers requests and websockets alike, so both kinds of endpoint share these. They are
``async`` because FastAPI runs plain functions on a thread pool: three thread hops per new websocket otherwise.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.conversation.service import ChatService
from app.llm.health import ModelHealth
from app.shop.catalog import Shop
from app.shop.knowledge import CatalogIndex
from app.store.store import Store
from app.web.auth import TokenSigner
from app.web.limits import WsConfig
from app.web.metrics import PrometheusMetrics
from app.web.ratelimit import ClientLimits
from app.web.readiness import ReadinessCheck


async def get_chat(conn: HTTPConnection) -> ChatService:
    """The conversation service of this app."""
    service: ChatService = conn.app.state.chat
    return service


async def get_store(conn: HTTPConnection) -> Store:
    """The store of this app."""
    store: Store = conn.app.state.store
    return store


async def get_shop(conn: HTTPConnection) -> Shop:
    """The shop this app answers for."""
    shop: Shop = conn.app.state.shop
    return shop


async def get_catalog(conn: HTTPConnection) -> CatalogIndex:
    """Search over the shop's products."""
    catalog: CatalogIndex = conn.app.state.catalog
    return catalog


async def get_signer(conn: HTTPConnection) -> TokenSigner:
    """The conversation-token signer."""
    signer: TokenSigner = conn.app.state.signer
    return signer


async def get_model_health(conn: HTTPConnection) -> ModelHealth:
    """What is known of the chat model's health."""
    health: ModelHealth = conn.app.state.model_health
    return health


async def get_ws_config(conn: HTTPConnection) -> WsConfig:
    """Per-connection websocket limits."""
    config: WsConfig = conn.app.state.ws_config
    return config


async def get_limits(conn: HTTPConnection) -> ClientLimits:
    """Rate limits and connection caps shared by every socket."""
    limits: ClientLimits = conn.app.state.limits
    return limits


async def get_metrics(conn: HTTPConnection) -> PrometheusMetrics:
    """This app's Prometheus metrics."""
    metrics: PrometheusMetrics = conn.app.state.metrics
    return metrics


async def get_readiness(conn: HTTPConnection) -> ReadinessCheck:
    """This app's readiness check."""
    readiness: ReadinessCheck = conn.app.state.readiness
    return readiness


ChatDep = Annotated[ChatService, Depends(get_chat)]
StoreDep = Annotated[Store, Depends(get_store)]
ShopDep = Annotated[Shop, Depends(get_shop)]
CatalogDep = Annotated[CatalogIndex, Depends(get_catalog)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
WsConfigDep = Annotated[WsConfig, Depends(get_ws_config)]
ModelHealthDep = Annotated[ModelHealth, Depends(get_model_health)]
LimitsDep = Annotated[ClientLimits, Depends(get_limits)]
MetricsDep = Annotated[PrometheusMetrics, Depends(get_metrics)]
ReadinessDep = Annotated[ReadinessCheck, Depends(get_readiness)]
