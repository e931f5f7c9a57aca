"""The shop's tools (``app/orders``) offered to the model through the tool loop's ``Tools`` port.

Who the customer is, is decided here, in code: a conversation opened with a signed customer id, or one whose
customer proved an order is theirs (``verify_customer``: the order number with the email address or delivery
postcode on it; a few failures and it stops trying). Order tools act only for that customer. A tool that
changes an order is checked and proposed, never run on the model's word: it runs once the customer confirms
(see ``confirmations.py``), for the customer it was proposed for.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.conversation.hub import Hub
from app.conversation.tools import Proposal, ToolOutcome
from app.llm.model import ToolCall, ToolSpec
from app.orders.tools import ORDER_TOOLS, TOOLS, VERIFY_TOOL, WRITE_TOOLS, ShopTools, ToolResult, problems
from app.store.actions import ActionRecord, ActionStore

MAX_VERIFY_FAILURES = 5
"""Failed proofs a conversation may make; then only a person can help (no guessing emails by the hundred)."""


def _spec(spec: Any) -> ToolSpec:
    return ToolSpec(name=spec.name, description=spec.description, parameters=spec.parameters)


def _outcome(result: ToolResult) -> ToolOutcome:
    return ToolOutcome(ok=result.ok, content=orjson.dumps(result.content).decode(), summary=result.summary)


def _refused(error: str, message: str, summary: str, **more: Any) -> ToolOutcome:
    return ToolOutcome(
        ok=False,
        content=orjson.dumps({"error": error, "message": message, **more}).decode(),
        summary=summary,
    )


class ShopToolbox:
    """``Tools`` over ``ShopTools``; ``orders`` says whether the shop has an order backend to look in.

    ``actions`` stores verifications; without it nobody can verify in a conversation (signed ids still work).
    """

    def __init__(self, tools: ShopTools, *, orders: bool, actions: ActionStore | None = None) -> None:
        self._tools = tools
        self._actions = actions
        offered = [spec for spec in TOOLS if orders or spec.name not in ORDER_TOOLS]
        if orders and actions is not None:
            offered.insert(0, VERIFY_TOOL)
        self._specs = [_spec(spec) for spec in offered]

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """The same tools in every conversation; identity is checked when a call runs."""
        return self._specs

    async def customer(self, hub: Hub) -> str | None:
        """Whom the conversation acts for: its signed customer, else the one it proved to be, else nobody."""
        if hub.customer_id is not None:
            return hub.customer_id
        if self._actions is None:
            return None
        return (await self._actions.verification(hub.conversation_id)).customer_id

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Run a call for the conversation's customer; a change is only checked and proposed."""
        arguments = orjson.loads(call.arguments or "{}")
        if call.name == VERIFY_TOOL.name:
            return await self._verify(hub, arguments)
        customer_id = await self.customer(hub)
        if call.name in WRITE_TOOLS:
            result = await self._tools.prepare(call.name, arguments, customer_id)
            if not result.ok or customer_id is None:
                return _outcome(result)
            return ToolOutcome(
                ok=True,
                content=orjson.dumps(result.content).decode(),
                summary=result.summary,
                proposal=Proposal(summary=result.summary, customer_id=customer_id),
            )
        result = await self._tools.dispatch(
            call.name,
            arguments,
            customer_id=customer_id,
            verified=customer_id is not None,
            conversation_id=hub.conversation_id,
        )
        return _outcome(result)

    async def confirmed(self, hub: Hub, action: ActionRecord) -> ToolOutcome:
        """Make the approved change, only for the customer it was proposed for."""
        if await self.customer(hub) != action.customer_id:
            return _refused(
                "verification_required",
                "The customer's identity changed since the change was proposed; nothing was changed.",
                "Nothing was changed.",
            )
        result = await self._tools.dispatch(
            action.tool,
            dict(action.arguments),
            customer_id=action.customer_id,
            verified=True,
            conversation_id=hub.conversation_id,
        )
        return _outcome(result)

    async def _verify(self, hub: Hub, arguments: dict[str, Any]) -> ToolOutcome:
        found = problems(VERIFY_TOOL.parameters, arguments)
        if found:
            return _refused(
                "bad_arguments",
                f"Invalid arguments for verify_customer: {'; '.join(found)}.",
                "The details could not be read.",
            )
        if self._actions is None:
            return _refused("not_verified", "Verification is not available here.", "Not verified.")
        conversation_id = hub.conversation_id
        state = await self._actions.verification(conversation_id)
        if state.failures >= MAX_VERIFY_FAILURES:
            return _locked()
        order_id = arguments["order_id"].strip()
        owner = await self._tools.verify(order_id, arguments["email_or_postcode"])
        current = hub.customer_id or state.customer_id
        if owner is not None and current in (None, owner):
            if current is None:
                await self._actions.verified(conversation_id, owner)
            return ToolOutcome(
                ok=True,
                content=orjson.dumps(
                    {"verified": True, "message": "The customer is verified: order tools now work."}
                ).decode(),
                summary="Thanks, you're verified.",
            )
        failures = await self._actions.failed(conversation_id)
        if failures >= MAX_VERIFY_FAILURES:
            return _locked()
        # The same words for a wrong order number and a wrong email: the answer must not tell them apart.
        return _refused(
            "not_verified",
            "That order number and email address or postcode do not match an order. Ask the customer to check "
            "them.",
            "Those details don't match an order.",
            attempts_left=MAX_VERIFY_FAILURES - failures,
        )


def _locked() -> ToolOutcome:
    return _refused(
        "too_many_attempts",
        "Too many failed verification attempts in this conversation. Offer to pass the customer to a person.",
        "Too many attempts: a person from the team can help.",
    )
