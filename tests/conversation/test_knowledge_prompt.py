"""A remote model answers from the shop's data: the FAQ entries and products found for a chat message are in its
prompt (as system data, never with the customer's words), and ``done`` lists what it was given."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from app.conversation.hub import Hub
from app.conversation.router import RouteDecision
from app.events import Done, Source
from app.llm.model import ToolCall
from app.shop.catalog import load_shop
from app.shop.embedding import Encoder, SharedEmbeddings
from app.shop.knowledge import KnowledgeBase
from app.shop.recommender import Recommendation
from tests.conversation import test_service
from tests.conversation.test_service import Rig, connect
from tests.fakes import FakeTools, FixedRouter, ScriptedModel

make_rig = test_service.make_rig


async def ask(rig: Rig, text: str) -> tuple[Hub, Done]:
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", text)
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    return hub, done


async def with_knowledge(make: Callable[..., object], encoder: Encoder, **kwargs: object) -> Rig:
    rig: Rig = await make(**kwargs)  # type: ignore[misc]
    rig.service.pipeline.knowledge = KnowledgeBase(load_shop(), encoder)
    return rig


async def test_matching_products_reach_the_model_and_the_done(
    make_rig: Callable[..., object], encoder: Encoder
) -> None:
    rig = await with_knowledge(make_rig, encoder)
    _, done = await ask(rig, "do you sell lunch boxes?")
    system = "\n".join(m["content"] for m in rig.model.requests[0].messages if m["role"] == "system")
    assert "Lunch Box" in system
    assert "do you sell lunch boxes" not in system  # the customer's words stay in their own message
    products = [s for s in done.sources if s.kind == "product"]
    assert products
    assert all("Lunch Box" in s.title for s in products)


async def test_a_matching_faq_entry_reaches_the_model_and_the_done(
    make_rig: Callable[..., object], encoder: Encoder
) -> None:
    rig = await with_knowledge(make_rig, encoder)
    shop = load_shop()
    entry = next(e for e in shop.faq if "return" in e.questions[0].lower())
    _, done = await ask(rig, entry.questions[0])
    system = "\n".join(m["content"] for m in rig.model.requests[0].messages if m["role"] == "system")
    assert entry.answer[:60] in system
    assert Source(kind="faq", id=entry.faq_id, title=entry.questions[0]) in done.sources


async def test_without_knowledge_the_prompt_has_no_shop_search(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    _, done = await ask(rig, "do you sell lunch boxes?")
    system = "\n".join(m["content"] for m in rig.model.requests[0].messages if m["role"] == "system")
    assert "Lunch Box" not in system
    assert done.sources == []


async def test_products_a_tool_returned_are_sources(make_rig: Callable[..., object]) -> None:
    class Catalog(FakeTools):
        async def run(self, hub: Hub, call: ToolCall):  # type: ignore[no-untyped-def]
            outcome = await super().run(hub, call)
            return type(outcome)(
                ok=True,
                content='{"products": [{"product_id": "21558", "name": "Skull Lunch Box with Cutlery"}]}',
                summary="Found 1 product.",
            )

    search = ToolCall("call_1", "search_products", '{"query": "lunch box"}')
    rig: Rig = await make_rig(  # type: ignore[misc]
        model=ScriptedModel(turns=[[search], ["We have the Skull Lunch Box."]]),
        tools=Catalog(names=("search_products",)),
    )
    _, done = await ask(rig, "lunch boxes?")
    assert Source(kind="product", id="21558", title="Skull Lunch Box with Cutlery") in done.sources


async def test_recommended_cards_are_sources(make_rig: Callable[..., object]) -> None:
    item = Recommendation(
        product_id="21558",
        name="Skull Lunch Box with Cutlery",
        price=2.55,
        currency="GBP",
        reason="popular",
        score=1.0,
    )
    rig: Rig = await make_rig(router=FixedRouter("recommend"))  # type: ignore[misc]
    rig.service.pipeline.recommender.items = [item]  # type: ignore[attr-defined]
    _, done = await ask(rig, "suggest something")
    assert done.sources == [Source(kind="product", id="21558", title="Skull Lunch Box with Cutlery")]


class SureRouter(FixedRouter):
    """Routes every message to recommendations, sure of it or not."""

    def __init__(self, confident: bool) -> None:
        super().__init__("recommend")
        self.confident = confident

    async def route(self, text: str) -> RouteDecision:
        return RouteDecision(
            route="recommend", p_recommend=0.9, by_rule=False, intent="recommend", confident=self.confident
        )


async def test_a_model_with_tools_decides_on_an_unsure_recommendation_itself(
    make_rig: Callable[..., object],
) -> None:
    config = dataclasses.replace(test_service.CONFIG, tools_decide=True)
    rig: Rig = await make_rig(  # type: ignore[misc]
        router=SureRouter(confident=False), config=config, tools=FakeTools(names=("recommend_products",))
    )
    _, done = await ask(rig, "anything nice for my sister?")
    assert done.route == "chat"
    assert [t.name for t in rig.model.requests[0].tools] == ["recommend_products"]


async def test_a_confident_recommendation_still_shows_cards_at_once(make_rig: Callable[..., object]) -> None:
    config = dataclasses.replace(test_service.CONFIG, tools_decide=True)
    rig: Rig = await make_rig(  # type: ignore[misc]
        router=SureRouter(confident=True), config=config, tools=FakeTools(names=("recommend_products",))
    )
    _, done = await ask(rig, "recommend me something")
    assert done.route == "recommend"


async def test_without_a_ready_vector_the_faq_is_found_by_its_words(
    make_rig: Callable[..., object], encoder: Encoder
) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    shared = SharedEmbeddings(encoder)  # nothing embedded yet: the first token does not wait for it
    rig.service.pipeline.knowledge = KnowledgeBase(load_shop(), shared)
    _, done = await ask(rig, "what is your return policy?")
    assert [s.id for s in done.sources if s.kind == "faq"][:1] == ["returns"]
