"""REST endpoints: health, conversation read-back, and the demo storefront's catalog data."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.errors import ErrorCode
from app.llm.health import ModelState
from app.store.records import MessageRecord
from app.web.auth import TokenProblem
from app.web.deps import (
    CatalogDep,
    ChatDep,
    MetricsDep,
    ModelHealthDep,
    ReadinessDep,
    ShopDep,
    SignerDep,
    StoreDep,
    WsConfigDep,
)

router = APIRouter()


class ApiError(HTTPException):
    """An HTTP error with a stable code, rendered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code


class ModelHealthOut(BaseModel):
    """The chat model's state, checked in the background (``checked_at`` is null until first checked)."""

    name: str
    state: ModelState
    checked_at: datetime | None
    code: str | None


class Health(BaseModel):
    """Liveness: the process is up and its database answers; and whether the model answers."""

    status: str
    model: ModelHealthOut
    database: str


class MessageOut(BaseModel):
    """A stored message; assistant answers carry route, usage and feedback."""

    message_id: str
    role: str
    text: str
    status: str
    route: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    error_code: str | None
    feedback_rating: int | None
    feedback_comment: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, record: MessageRecord) -> MessageOut:
        """The API's view of a stored message (its ``client_id`` is the ``message_id`` clients chose)."""
        fields = {k: v for k, v in asdict(record).items() if k in cls.model_fields}
        return cls(message_id=record.client_id, **fields)


class ConversationOut(BaseModel):
    """A conversation with all its messages, oldest first."""

    conversation_id: str
    customer_id: str | None
    created_at: datetime
    last_seq: int
    messages: list[MessageOut]


class ShopOut(BaseModel):
    """The shop's public facts, and what the chat widget shows for it."""

    name: str
    currency: str
    currency_symbol: str
    support_hours: str
    support_email: str
    greeting: str | None = Field(
        description="the widget's opening message (Markdown); null: its built-in one"
    )
    suggestions: list[str] = Field(
        description="suggestion chips under the greeting; empty: the built-in ones"
    )
    link_domains: list[str] = Field(
        description="links in answers are clickable only to these domains and their subdomains"
    )


class ProductOut(BaseModel):
    """A catalog product."""

    product_id: str
    name: str
    price: float
    currency: str
    n_customers: int


class CustomerOut(BaseModel):
    """A demo customer (for the storefront's customer picker)."""

    customer_id: str
    n_products: int


@router.get("/healthz", tags=["ops"])
async def healthz(chat: ChatDep, store: StoreDep, health: ModelHealthDep) -> Health:
    """200 when the server can reach its database; the model's state is reported, not required."""
    try:
        await store.ping()
    except Exception as exc:
        raise ApiError(503, ErrorCode.INTERNAL, "database unavailable") from exc
    report = health.report()
    model = ModelHealthOut(
        name=chat.model_name,
        state=report.state,
        checked_at=report.checked_at,
        code=str(report.code) if report.code else None,
    )
    return Health(status="ok", model=model, database=store.dialect)


class Ready(BaseModel):
    """Readiness: ``ready`` or ``unready``, each component's state (``ok`` or why it is down)."""

    status: str
    components: dict[str, str]
    down: list[str]


@router.get("/readyz", tags=["ops"], responses={503: {"model": Ready}})
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    """200 when the database, Redis (if configured) and the model are up; else 503 naming what is down."""
    result = await readiness.check()
    body = Ready(
        status="ready" if result.ready else "unready", components=result.components, down=result.down
    )
    # The widget asks from the storefront's origin; what it reads is what any probe may read.
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
    return JSONResponse(body.model_dump(), status_code=200 if result.ready else 503, headers=headers)


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(registry: MetricsDep) -> Response:
    """This process's metrics in Prometheus' text format."""
    return Response(registry.render(), media_type=registry.content_type)


@router.get("/api/conversations/{conversation_id}", tags=["conversations"])
async def get_conversation(
    conversation_id: str,
    store: StoreDep,
    signer: SignerDep,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[
        str | None, Query(description="the conversation token, if no Authorization header")
    ] = None,
) -> ConversationOut:
    """The conversation and its messages; needs the conversation token (``Authorization: Bearer …``)."""
    supplied = token
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, ErrorCode.UNAUTHORIZED, "use 'Authorization: Bearer <conversation token>'")
        supplied = value.strip()
    if not supplied:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "the conversation token is required")
    claims = signer.check(conversation_id, supplied)
    if claims is TokenProblem.EXPIRED:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "the conversation token has expired")
    if isinstance(claims, TokenProblem):
        raise ApiError(403, ErrorCode.UNAUTHORIZED, "the token does not match this conversation")
    conversation = await store.get_conversation(conversation_id)
    # A token from before tokens expired is good while its conversation is within the token lifetime.
    if claims.legacy and (conversation is None or signer.legacy_expired(conversation.created_at)):
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "the conversation token has expired")
    if conversation is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no messages in this conversation yet")
    rows = await store.messages(conversation_id)
    return ConversationOut(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        created_at=conversation.created_at,
        last_seq=conversation.last_seq,
        messages=[MessageOut.of(m) for m in rows],
    )


@router.get("/api/shop", tags=["shop"])
async def shop_info(shop: ShopDep, request: Request, response: Response) -> ShopOut:
    """Name and currency of the shop, and the chat widget's greeting, suggestions and link domains."""
    # Public facts the widget fetches from the storefront's origin, which is another origin than ours.
    response.headers["Access-Control-Allow-Origin"] = "*"
    # By default links may go to this server and to the shop's own website; shop.toml can name others.
    defaults = [request.url.hostname, shop.site_domain()]
    domains = list(shop.link_domains) or list(dict.fromkeys(d for d in defaults if d))
    return ShopOut(
        name=shop.name,
        currency=shop.currency,
        currency_symbol=shop.currency_symbol,
        support_hours=shop.support_hours,
        support_email=shop.support_email,
        greeting=shop.greeting or None,
        suggestions=list(shop.suggestions),
        link_domains=domains,
    )


@router.get("/api/products", tags=["shop"])
async def products(
    shop: ShopDep,
    catalog: CatalogDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 12,
) -> list[ProductOut]:
    """Best sellers, or products matching ``q``."""
    if q:
        found = [hit.product for hit in catalog.search(q, n=limit)]
    else:
        found = sorted(shop.for_sale(), key=lambda p: (-p.n_customers, p.product_id))[:limit]
    return [
        ProductOut(
            product_id=p.product_id,
            name=p.name,
            price=p.price,
            currency=shop.currency,
            n_customers=p.n_customers,
        )
        for p in found
    ]


@router.get("/api/customers", tags=["shop"])
async def customers(
    shop: ShopDep, config: WsConfigDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[CustomerOut]:
    """Demo customers with the longest purchase histories; only in demo mode (``SHOPCHAT_DEMO_MODE``)."""
    if not config.demo_mode:
        # With real customers, a list of ids is the first step to reading their purchase histories.
        raise ApiError(404, ErrorCode.NOT_FOUND, "the customer list is only served in demo mode")
    ranked = sorted(shop.customer_ids(), key=lambda c: (-len(shop.customer_purchases(c)), c))[:limit]
    return [CustomerOut(customer_id=c, n_products=len(shop.customer_purchases(c))) for c in ranked]
