"""A running ``ChatService`` over a real store, with the scripted fakes for everything else."""

from __future__ import annotations

from app.bus.redis_broadcaster import RedisBroadcaster
from app.conversation.confirmations import Confirmations
from app.conversation.handoff import HandoffDesk
from app.conversation.leases import Leases
from app.conversation.metrics import Metrics
from app.conversation.pipeline import AnswerPipeline, ChatConfig
from app.conversation.router import Router
from app.conversation.service import ChatService
from app.conversation.tools import Tools
from app.llm.model import ChatModel
from app.llm.prompts import PromptLibrary
from app.llm.tokens import TokenCounter
from app.shop.catalog import load_shop
from app.shop.recommender import Recommender
from app.store.actions import ActionStore
from app.store.store import Store
from tests.fakes import FixedRecommender, FixedRouter, RecordingBroadcaster


def start_service(
    store: Store,
    model: ChatModel,
    config: ChatConfig,
    *,
    router: Router | None = None,
    recommender: Recommender | None = None,
    counter: TokenCounter | None = None,
    tools: Tools | None = None,
    metrics: Metrics | None = None,
    confirmations: Confirmations | None = None,
    desk: HandoffDesk | None = None,
    bus: RedisBroadcaster | None = None,
    leases: Leases | None = None,
) -> tuple[ChatService, RecordingBroadcaster]:
    """The service (started) and the fan-out that records what it published (with ``bus``, one process of
    several: events and control messages go through it instead, and the recorder stays empty)."""
    pipeline = AnswerPipeline(
        store=store,
        model=model,
        router=router or FixedRouter(),
        recommender=recommender or FixedRecommender(),
        prompts=PromptLibrary(),
        shop=load_shop(),
        counter=counter or TokenCounter("gpt-4o-mini"),
        config=config,
        tools=tools,
        metrics=metrics,
        confirmations=confirmations or Confirmations(ActionStore(store)),
    )
    broadcaster = RecordingBroadcaster()
    service = ChatService(
        store=store,
        pipeline=pipeline,
        config=config,
        broadcaster=bus or broadcaster,
        peers=bus,
        leases=leases,
        desk=desk,
    )
    service.start()
    return service, broadcaster
