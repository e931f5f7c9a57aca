"""The application factory: settings are read and services built once, in the lifespan."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from threadpoolctl import threadpool_limits

from app.bus.redis_broadcaster import RedisBroadcaster
from app.bus.redis_leases import RedisLeases
from app.conversation.confirmations import Confirmations
from app.conversation.handoff import HandoffDesk
from app.conversation.pipeline import AnswerPipeline, ChatConfig
from app.conversation.router import default_router
from app.conversation.service import TAKEOVER_CHECK_S, ChatService
from app.conversation.shoptools import ShopToolbox
from app.conversation.tools import Tools
from app.errors import ConfigError, ErrorCode
from app.llm.health import ModelHealth, MonitoredModel, Probeable
from app.llm.local import LocalChatModel
from app.llm.model import ChatModel
from app.llm.openai import OpenAIChatModel
from app.llm.prompts import PromptLibrary
from app.llm.tokens import TokenCounter, install_offline_encodings
from app.orders.backend import ShopBackend
from app.orders.demo import demo_backend
from app.orders.http import load_http_backend
from app.orders.tools import ShopTools
from app.settings import SHIPPED_STATIC_DIR, Settings, load_settings
from app.shop.catalog import DEMO_SHOP_DIR, Shop, load_shop
from app.shop.embedding import Encoder, EncoderProcess, SharedEmbeddings, default_encoder
from app.shop.hours import load_support_hours
from app.shop.knowledge import KnowledgeBase
from app.shop.recommend.service import ShopRecommender, build_demo_model
from app.shop.recommender import PopularityRecommender, Recommender
from app.store.actions import ActionStore
from app.store.migrate import upgrade
from app.store.operators import OperatorStore
from app.store.orders import OrderStore
from app.store.owners import OwnerStore
from app.store.store import Store
from app.web import inbox_routes, logfilter, operator_routes, operator_socket, routes, socket
from app.web.auth import DAY_S, TokenSigner
from app.web.handoffs import NotifyingHandoffs
from app.web.headers import SecurityHeaders, docs_policy, security_headers
from app.web.inbox import Inbox, OperatorPresence
from app.web.limits import WsConfig
from app.web.metrics import PrometheusMetrics
from app.web.operator_auth import OperatorAuth, OperatorAuthConfig
from app.web.ratelimit import ClientLimits, ClientLimitsConfig
from app.web.readiness import Ping, ReadinessCheck
from app.web.redis_counters import RedisCounters
from app.web.redis_presence import RedisPresence
from app.web.routes import ApiError
from app.web.webhook import HandoffWebhook

log = logging.getLogger("shopchat")

FALLBACK_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shopchat</title></head>
<body><h1>shopchat is running</h1><p>The demo page (static/index.html) is missing. The websocket is at
<code>/ws/chat</code>.</p></body></html>"""


class CachedStaticFiles(StaticFiles):
    """Static files with caching suited to an unversioned widget URL: revalidate code, cache images."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith((".js", ".css", ".html", ".json")):
            # Shops embed /static/widget.js without a version: browsers must revalidate (ETag → 304) so an
            # upgrade reaches every storefront at once.
            response.headers["Cache-Control"] = "no-cache"
        else:
            response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def build_model(
    settings: Settings, knowledge: KnowledgeBase, prompts: PromptLibrary, cpu: Executor | None = None
) -> ChatModel:
    """The chat model the settings ask for."""
    if settings.llm_backend == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if key is None and settings.openai_base_url is None:
            raise ConfigError(
                "SHOPCHAT_LLM_BACKEND=openai needs OPENAI_API_KEY (for api.openai.com) or OPENAI_BASE_URL "
                "(for a local OpenAI-compatible server such as Ollama, vLLM or llama.cpp)"
            )
        return OpenAIChatModel(
            model=settings.llm_model,
            api_key=key,
            base_url=settings.openai_base_url,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            temperature=settings.llm_temperature,
            streaming=settings.llm_stream,
        )
    return LocalChatModel(
        knowledge,
        prompts,
        confidence=settings.local_confidence,
        delay_s=settings.local_stream_delay_ms / 1000,
        cpu=cpu,
    )


def build_health(settings: Settings, model: ChatModel) -> ModelHealth:
    """The model's health: the built-in responder is always up; a server is probed when it can be."""
    return ModelHealth(
        model.name,
        model.probe if isinstance(model, Probeable) else None,
        interval_s=settings.llm_health_interval_s,
        always_ok=isinstance(model, LocalChatModel),
    )


def build_counter(settings: Settings) -> TokenCounter:
    """The token counter for the configured model; says so once when its tokenizer is only a guess."""
    counter = TokenCounter(settings.llm_model, tokenizer=settings.llm_tokenizer)
    if counter.guessed and settings.llm_backend == "openai":
        log.warning(
            "counting %s's tokens with %s, a guess (it under-counts many models, non-English text most): set "
            "SHOPCHAT_LLM_TOKENIZER to the model's tokenizer.json; until then budgets calibrate from the "
            "server's reported usage",
            settings.llm_model, counter.tokenizer.name,
        )  # fmt: skip
    return counter


def build_recommender(shop: Shop, shop_dir: Path) -> Recommender:
    """Collaborative filtering from the shop's prebuilt ``model.npz``, else fitted now; best sellers if no history."""
    if not shop.purchases:
        return PopularityRecommender(shop)
    model_path = shop_dir / "model.npz"
    # A model is only valid for the purchase history it was built from, so never borrow the demo's.
    return ShopRecommender(shop, model_path if model_path.exists() else build_demo_model(shop))


def warn_about_customer_ids(settings: Settings, shop_dir: Path) -> None:
    """Say loudly at start-up when anyone may claim any customer id (demo mode)."""
    if settings.customer_signing_key is not None:
        return
    if not settings.demo_mode:
        log.info(
            "customer ids are refused (no SHOPCHAT_CUSTOMER_SIGNING_KEY): every conversation is a guest's"
        )
        return
    own_shop = "" if shop_dir == DEMO_SHOP_DIR else f" — and this is not the demo shop but {shop_dir}!"
    log.warning(
        "DEMO MODE (SHOPCHAT_DEMO_MODE=true): any visitor may chat as any customer_id without a signature and "
        "list customers at /api/customers, so every purchase history is readable by anyone%s "
        "With real customers, turn it off and set SHOPCHAT_CUSTOMER_SIGNING_KEY.",
        own_shop or ".",
    )


async def connect_redis(url: str) -> Redis:
    """A Redis client for ``SHOPCHAT_REDIS_URL``, checked now: a wrong URL stops start-up with one line."""
    # A blocking pool: past 100 commands in flight (hundreds of sockets sending at once) a command waits for a
    # connection instead of failing with MaxConnectionsError (limits failing open, leases taken without Redis).
    pool = BlockingConnectionPool.from_url(
        url, max_connections=100, timeout=5, health_check_interval=30, socket_connect_timeout=5
    )
    redis = Redis.from_pool(pool)
    try:
        await redis.ping()
    except Exception as exc:
        await redis.aclose()
        raise ConfigError(f"SHOPCHAT_REDIS_URL: cannot reach Redis: {type(exc).__name__}: {exc}") from exc
    return redis


def transcript_link(public_url: str | None) -> Callable[[str], str | None]:
    """Where an operator reads a conversation (None without ``SHOPCHAT_PUBLIC_URL``: no address to give)."""

    def link(conversation_id: str) -> str | None:
        return f"{public_url}/operator?conversation={conversation_id}" if public_url else None

    return link


def create_app(
    settings: Settings | None = None,
    *,
    model: ChatModel | None = None,
    recommender: Recommender | None = None,
    encoder: Encoder | None = None,
    tools: Tools | None = None,
) -> FastAPI:
    """Build the ASGI app; services are created when it starts (so importing this module does nothing).

    ``tools`` are the functions the model may call while it answers (none by default).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings or load_settings()
        logging.basicConfig(
            level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logfilter.install()
        # One BLAS thread: embeddings then cost a few ms of one core instead of tens of ms of both, and the
        # event loop keeps its core. CPU work runs on worker threads beside the loop.
        threadpool_limits(limits=1, user_api="blas")
        # The database writer, the encoder's batcher and the model stream's transport hand results to the
        # event loop through threads; with the default 5 ms GIL switch interval each hand-off can wait that
        # long behind a busy loop, which showed up as added time to first token.
        sys.setswitchinterval(0.0005)
        # Threads that mostly wait on the encoder process, whose batches gather their concurrent requests.
        cpu = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shopchat-cpu")
        install_offline_encodings()
        shop_dir = config.shop_dir or DEMO_SHOP_DIR
        shop = load_shop(shop_dir)
        prompts = PromptLibrary(config.prompts_dir)
        # Embeddings run in a child process (another core) unless settings say otherwise.
        own_encoder = EncoderProcess() if encoder is None and config.encoder_process else None
        # Routing and the knowledge search embed a message once between them (in production's encoder process).
        embedder: Encoder = encoder or (
            SharedEmbeddings(own_encoder) if own_encoder is not None else default_encoder()
        )
        knowledge = KnowledgeBase(shop, embedder)
        bare_model = model or build_model(config, knowledge, prompts, cpu)
        health = build_health(config, bare_model)
        chat_model = MonitoredModel(bare_model, health)
        database_url = config.resolved_database_url()
        if database_url.startswith("sqlite") and not config.database_url:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.from_url(database_url)
        await upgrade(store.engine)
        chat_config = ChatConfig(
            context_tokens=config.llm_context_tokens,
            max_output_tokens=config.llm_max_output_tokens,
            max_message_chars=config.max_message_chars,
            abandon_after_s=config.abandon_after_s,
            recommendations_n=config.recommendations_n,
            early_start=config.llm_backend == "openai" and config.llm_early_start,
            tools_decide=config.llm_backend == "openai" and config.llm_tools,
            answer_timeout_s=config.llm_answer_timeout_s,
            idle_timeout_s=config.llm_idle_timeout_s,
        )
        ranker = recommender or build_recommender(shop, shop_dir)
        toolbox = tools
        actions = ActionStore(store)
        webhook = (
            HandoffWebhook(
                config.handoff_webhook_url,
                config.handoff_webhook_secret.get_secret_value() if config.handoff_webhook_secret else "",
                transcript_url=transcript_link(config.public_url),
            )
            if config.handoff_webhook_url
            else None
        )
        http_backend = (
            load_http_backend(config.orders_backend_file, return_window_days=shop.return_window_days)
            if config.orders_backend_file is not None
            else None
        )
        # Every handoff (customer, tool, fallbacks) goes through the desk: stored, announced, posted.
        presence = OperatorPresence(load_support_hours(shop_dir))
        desk = HandoffDesk(
            NotifyingHandoffs(OrderStore(store), webhook),
            available=presence.available,
            hours=shop.support_hours,
            after_fallbacks=config.handoff_after_fallbacks,
            waiting=OwnerStore(store).count_waiting,
        )
        if toolbox is None and config.llm_tools:
            # Orders come from the shop's own system when a backend file declares it, else only the demo shop
            # has any (its history, derived and stored on first use).
            backend: ShopBackend = http_backend or demo_backend(store, shop)
            shop_tools = ShopTools(backend, shop, ranker, desk)
            has_orders = http_backend is not None or shop_dir == DEMO_SHOP_DIR
            toolbox = ShopToolbox(shop_tools, orders=has_orders, actions=actions)
        metrics = PrometheusMetrics()
        redis = await connect_redis(config.redis_url) if config.redis_url else None
        broadcaster = RedisBroadcaster(redis) if redis is not None else None
        counters = RedisCounters(redis) if redis is not None else None
        shared_presence = RedisPresence(redis, presence) if redis is not None else None
        if broadcaster is not None and counters is not None and shared_presence is not None:
            await broadcaster.start()
            await counters.start()
            await shared_presence.start()
        pipeline = AnswerPipeline(
            store=store,
            model=chat_model,
            router=default_router(embedder),
            recommender=ranker,
            prompts=prompts,
            shop=shop,
            counter=build_counter(config),
            config=chat_config,
            cpu=cpu,
            tools=toolbox,
            metrics=metrics,
            confirmations=Confirmations(actions, ttl_s=config.confirm_ttl_s),
            # The built-in responder searches the FAQ and catalog itself; a remote model is given what matches.
            knowledge=knowledge if config.llm_backend == "openai" else None,
        )
        service = ChatService(
            store=store,
            pipeline=pipeline,
            config=chat_config,
            broadcaster=broadcaster,
            leases=RedisLeases(redis, ttl_s=config.answer_lease_s) if redis is not None else None,
            peers=broadcaster,
            takeover_check_s=min(TAKEOVER_CHECK_S, config.answer_lease_s / 3),
            desk=desk,
        )
        service.start()
        app.state.inbox = Inbox(service, presence, recommender=ranker, orders=OrderStore(store).for_customer)
        metrics.watch_conversations(lambda: service.active_conversations)
        app.state.metrics = metrics
        pings: dict[str, Ping] = {"database": lambda: store.ping()}
        if redis is not None:
            pings["redis"] = redis.ping
        app.state.readiness = ReadinessCheck(pings, health, ttl_s=config.ready_cache_s)
        health.start()
        app.state.settings = config
        app.state.model_health = health
        app.state.shop = shop
        app.state.catalog = knowledge.catalog
        app.state.chat = service
        app.state.store = store
        app.state.signer = TokenSigner(config.resolved_secret(), ttl_s=config.token_ttl_days * DAY_S)
        app.state.ws_config = WsConfig(
            allowed_origins=config.resolved_origins(),
            customer_signing_key=(
                config.customer_signing_key.get_secret_value().encode()
                if config.customer_signing_key
                else None
            ),
            max_frame_bytes=config.max_frame_bytes,
            rate_limit_per_minute=config.rate_limit_per_minute,
            max_message_chars=config.max_message_chars,
            demo_mode=config.demo_mode,
        )
        app.state.limits = ClientLimits(
            ClientLimitsConfig(
                messages_per_conversation_per_minute=config.rate_limit_per_minute,
                messages_per_client_per_minute=config.rate_limit_per_ip_per_minute,
                sockets_per_client=config.max_sockets_per_ip,
                new_conversations_per_client_per_minute=config.new_conversations_per_ip_per_minute,
            ),
            counters,
        )
        app.state.operator_auth = OperatorAuth(
            OperatorStore(store),
            OperatorAuthConfig(session_ttl=timedelta(hours=config.operator_session_hours)),
            counters=app.state.limits.counters,
        )
        app.state.security_headers = security_headers(app.state.ws_config.allowed_origins)
        app.state.api_docs = config.api_docs
        warn_about_customer_ids(config, shop_dir)
        index_page = SHIPPED_STATIC_DIR / "index.html"
        app.state.index_page = index_page if index_page.is_file() else None
        # Everything built so far lives as long as the process: keep it out of the collector's full scans,
        # which would otherwise pause every stream for tens of ms each time they walk these objects.
        if config.freeze_heap:
            gc.collect()
            gc.freeze()
        log.info(
            "shopchat ready: model=%s database=%s shop=%s (%d products)",
            chat_model.name, store.dialect, shop.name, len(shop.products),
        )  # fmt: skip
        try:
            yield
        finally:
            await health.stop()
            await service.close()
            if broadcaster is not None and counters is not None and redis is not None:
                if shared_presence is not None:
                    await shared_presence.aclose()
                await broadcaster.aclose()
                await counters.aclose()
                await redis.aclose()
            await chat_model.aclose()
            if webhook is not None:
                await webhook.aclose()
            if http_backend is not None:
                await http_backend.close()
            await store.close()
            cpu.shutdown(wait=False, cancel_futures=True)
            if own_encoder is not None:
                own_encoder.close()

    app = FastAPI(
        title="shopchat",
        summary="AI customer-service chat for online shops",
        version="0.1.0",
        lifespan=lifespan,
        # Off unless SHOPCHAT_API_DOCS: FastAPI's pages load Swagger UI from a public CDN (see docs()).
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders, default=security_headers(()))
    app.include_router(routes.router)
    app.include_router(socket.router)
    app.include_router(operator_routes.router)
    app.include_router(inbox_routes.router)
    app.include_router(operator_socket.router)
    app.mount("/static", CachedStaticFiles(directory=SHIPPED_STATIC_DIR, check_dir=False), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False, response_model=None)
    async def index(request: Request) -> Response:
        page: Path | None = request.app.state.index_page
        if page is not None:
            return FileResponse(page, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(FALLBACK_PAGE)

    @app.get("/docs", include_in_schema=False, response_model=None)
    async def docs(request: Request) -> Response:
        if not request.app.state.api_docs:
            raise ApiError(
                404, ErrorCode.NOT_FOUND, "the API docs are off (SHOPCHAT_API_DOCS=true turns them on)"
            )
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title="shopchat — API docs")
        page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode())
        page.headers["X-Frame-Options"] = "DENY"
        return page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = (
            exc.code
            if isinstance(exc, ApiError)
            else (ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.INVALID_VALUE)
        )
        return JSONResponse(
            {"error": {"code": str(code), "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ["?"], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            {"error": {"code": ErrorCode.INVALID_VALUE.value, "message": f"{where}: {first['msg']}"}},
            status_code=422,
        )

    return app
