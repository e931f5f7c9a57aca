"""What the operators' inbox reads: the queue, a conversation's details beside its transcript, who is online.

``OperatorPresence`` counts this process's operator sockets; with the shop's hours it says whether a person
can come now (``available``), which the handoff desk asks before it puts a customer in the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from app.conversation.service import ChatService
from app.shop.hours import SupportHours
from app.shop.recommender import Recommender
from app.store.orders import OrderRecord
from app.store.owners import OwnerStore
from app.store.records import OwnerRecord
from app.store.tables import utcnow
from app.web.operator_frames import (
    ConversationInfo,
    OrderLine,
    OrderSummary,
    Queue,
    QueueItem,
    Suggestion,
)

MAX_ORDERS = 10
SUGGESTIONS = 4


class OperatorPresence:
    """Operators connected (to this process: ``online``; to others: ``elsewhere``, kept by ``RedisPresence``) and
    the shop's hours: whether a person can join a chat now."""

    def __init__(self, hours: SupportHours | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.hours = hours or SupportHours()
        self.online = 0
        self.elsewhere = 0
        self._clock = clock

    def available(self) -> bool:
        """An operator is connected to some process and it is within the shop's hours."""
        return self.online + self.elsewhere > 0 and self.hours.open_at(self._clock())


def _item(record: OwnerRecord, now: datetime) -> QueueItem:
    return QueueItem(
        conversation_id=record.conversation_id,
        customer_id=record.customer_id,
        state=record.state,
        operator_name=record.operator_name,
        reason=record.reason,
        source=record.source,
        since=record.since.isoformat() if record.since is not None else None,
        waiting_s=round((now - record.since).total_seconds(), 1) if record.since is not None else None,
        ticket_email=record.ticket_email,
    )


class Inbox:
    """Reads for the inbox; ``orders`` looks up a customer's orders (none without an order store)."""

    def __init__(
        self,
        service: ChatService,
        presence: OperatorPresence,
        *,
        recommender: Recommender | None = None,
        orders: Callable[[str], Awaitable[list[OrderRecord]]] | None = None,
    ) -> None:
        self.service = service
        self.presence = presence
        self.owners = OwnerStore(service.store)
        self._recommender = recommender
        self._orders = orders

    async def queue(self) -> Queue:
        """The inbox's queue now."""
        now = utcnow()
        return Queue(items=[_item(r, now) for r in await self.owners.queue()])

    async def conversation(self, conversation_id: str, last_seq: int) -> ConversationInfo | None:
        """A stored conversation's details (None if nothing is stored)."""
        record = await self.service.store.get_conversation(conversation_id)
        if record is None:
            return None
        owner = await self.owners.get(conversation_id)
        customer_id = record.customer_id
        orders = await self._orders(customer_id) if customer_id and self._orders is not None else []
        suggestions = []
        if self._recommender is not None:
            recommender = self._recommender
            found = await asyncio.to_thread(lambda: recommender.recommend(customer_id, "", SUGGESTIONS))
            suggestions = [
                Suggestion(product_id=r.product_id, name=r.name, price=r.price, currency=r.currency)
                for r in found
            ]
        return ConversationInfo(
            conversation_id=conversation_id,
            customer_id=customer_id,
            state=owner.state if owner is not None else "bot",
            operator_name=owner.operator_name if owner is not None and owner.state == "human" else None,
            reason=owner.reason if owner is not None else None,
            ticket_email=owner.ticket_email if owner is not None else None,
            last_seq=last_seq,
            orders=[
                OrderSummary(
                    order_id=o.order_id,
                    status=o.status,
                    placed_at=o.placed_at.isoformat(),
                    items=[OrderLine(name=i.name, quantity=i.quantity) for i in o.items],
                )
                for o in orders[:MAX_ORDERS]
            ],
            recommendations=suggestions,
        )
