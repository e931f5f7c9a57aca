"""Handoff requests are stored, then sent to the shop's webhook."""

from __future__ import annotations

from app.store.orders import HandoffRecord, OrderStore
from app.store.store import Store
from app.web.handoffs import NotifyingHandoffs


class Recorder:
    """A webhook that records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[HandoffRecord] = []

    def send(self, handoff: HandoffRecord) -> None:
        self.sent.append(handoff)


async def test_a_handoff_is_stored_then_sent_to_the_webhook(store: Store) -> None:
    webhook = Recorder()
    handoffs = NotifyingHandoffs(OrderStore(store), webhook)
    handoff_id = await handoffs.add_handoff("c1", "12347", "wants a refund for a broken mug")
    stored = await OrderStore(store).handoffs("c1")
    assert [h.id for h in stored] == [handoff_id]
    assert [(h.id, h.conversation_id, h.summary) for h in webhook.sent] == [
        (handoff_id, "c1", "wants a refund for a broken mug")
    ]
