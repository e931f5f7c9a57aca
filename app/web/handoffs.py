"""Handoff requests recorded in the database and, when a webhook is set, posted to the shop's helpdesk."""

from __future__ import annotations

from typing import Protocol

from app.store.orders import HandoffRecord, OrderStore
from app.store.tables import utcnow


class Notifier(Protocol):
    """Where handoffs are announced (``HandoffWebhook``)."""

    def send(self, handoff: HandoffRecord) -> None:
        """Deliver in the background; never raises."""
        ...


class NotifyingHandoffs:
    """The tools' ``Handoffs``: each request is stored first, then sent to ``webhook`` in the background."""

    def __init__(self, orders: OrderStore, webhook: Notifier | None) -> None:
        self._orders = orders
        self._webhook = webhook

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """Record the request (its id); the webhook's delivery never delays or fails it."""
        handoff_id = await self._orders.add_handoff(conversation_id, customer_id, summary)
        if self._webhook is not None:
            self._webhook.send(
                HandoffRecord(
                    id=handoff_id,
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    summary=summary,
                    status="open",
                    created_at=utcnow(),
                )
            )
        return handoff_id
