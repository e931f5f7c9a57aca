"""The shop's tools (``app/orders``) offered to the model through the tool loop's ``Tools`` port.

Which tools a conversation gets is decided here, in code: order look-ups only when the shop has an order
backend and only for a verified customer (the backend refuses the rest), and no tool that changes an order
until the customer can confirm it — a write never runs on the model's word.
"""

from __future__ import annotations

import orjson

from app.conversation.hub import Hub
from app.conversation.tools import ToolOutcome
from app.llm.model import ToolCall, ToolSpec
from app.orders.tools import ORDER_TOOLS, TOOLS, ShopTools


class ShopToolbox:
    """``Tools`` over ``ShopTools``; ``orders`` says whether the shop has an order backend to look in."""

    def __init__(self, tools: ShopTools, *, orders: bool) -> None:
        self._tools = tools
        # The customer's confirmation of a change is not built yet: no write tool is offered at all.
        self._specs = [
            ToolSpec(name=spec.name, description=spec.description, parameters=spec.parameters)
            for spec in TOOLS
            if not spec.writes and (orders or spec.name not in ORDER_TOOLS)
        ]

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """The same tools in every conversation; identity is checked when a call runs."""
        return self._specs

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Run the call for the conversation's customer (verified: a signed id, or the demo's)."""
        arguments = orjson.loads(call.arguments or "{}")
        result = await self._tools.dispatch(
            call.name,
            arguments,
            customer_id=hub.customer_id,
            verified=hub.customer_id is not None,
            conversation_id=hub.conversation_id,
        )
        return ToolOutcome(
            ok=result.ok, content=orjson.dumps(result.content).decode(), summary=result.summary
        )
