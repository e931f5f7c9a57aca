"""Tools the model may call while it answers, and the loop that runs its calls within limits it cannot lift.

A ``Tools`` implementation (the shop's orders backend, say) says which functions a conversation offers and runs
one call. ``ToolLoop`` runs one answer's calls: each is stored as a ``tool_call`` event before it runs and a
``tool_result`` after, so customers see it and a reconnect replays it. What goes wrong with a call (a tool that
fails, times out or does not exist, arguments that are not JSON, one call too many) becomes a result the model
reads, never an error of the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from app.conversation.hub import Hub
from app.conversation.metrics import Metrics, NoMetrics
from app.events import Source, ToolCalled, ToolResult
from app.llm.model import ToolCall, ToolSpec, clean_text
from app.llm.tokens import ChatMessage, ToolCallMessage
from app.store.actions import ActionRecord

if TYPE_CHECKING:
    from app.conversation.confirmations import Confirmations

log = logging.getLogger("shopchat.tools")

# Per answer: calls the model may make in all, and times it may make the very same call (name and arguments).
MAX_CALLS = 8
MAX_IDENTICAL = 2
# A tool gets this long (and never longer than most of the model's idle timeout, which counts while it runs).
TOOL_TIMEOUT_S = 20.0
IDLE_SHARE = 0.75
# What the model wrote and what a tool returned are bounded before they are stored or read back.
MAX_ARGUMENT_CHARS = 4000
MAX_RESULT_CHARS = 8000
MAX_SUMMARY_CHARS = 300
MAX_ID_CHARS = 128
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
WAITING = "Waiting for your confirmation."


@dataclass(frozen=True, slots=True)
class Proposal:
    """A change checked but not made: ``summary`` is what the customer confirms, ``customer_id`` for whom."""

    summary: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool's result: ``content`` is what the model reads (JSON), ``summary`` what the customer sees.

    With ``proposal`` the tool changed nothing: the change waits for the customer's confirmation.
    """

    ok: bool
    content: str
    summary: str
    proposal: Proposal | None = None


class Tools(Protocol):
    """The functions a conversation offers the model, and how one call runs."""

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """The functions offered in this conversation (none: the model gets no tools)."""
        ...

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Run one call (its name is one of ``specs``, its arguments a JSON object); may raise.

        A call that would change something is only checked: its outcome carries a ``Proposal``.
        """
        ...

    async def confirmed(self, hub: Hub, action: ActionRecord) -> ToolOutcome:
        """Make a change the customer approved (identity and the shop's rules are checked again); may raise."""
        ...


class NoTools:
    """No tools: requests carry none, and a call the model makes anyway is answered as unknown."""

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """None."""
        return []

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Never called: the loop answers calls to unknown tools itself."""
        return _failure("unknown tool", "That is not something I can do here.")

    async def confirmed(self, hub: Hub, action: ActionRecord) -> ToolOutcome:
        """Nothing was ever proposed."""
        return _failure("unknown tool", "That is not something I can do here.")


def _failure(error: str, summary: str, **more: str) -> ToolOutcome:
    return ToolOutcome(
        ok=False, content=orjson.dumps({"ok": False, "error": error, **more}).decode(), summary=summary
    )


NO_CONFIRMATIONS = _failure(
    "this change needs the customer's confirmation, which this conversation cannot ask for",
    "That change cannot be made here.",
)


LIMIT_REACHED = _failure(
    f"at most {MAX_CALLS} tool calls per answer: answer the customer with what you have", ""
)

TOO_LONG = _failure("the result was too long for the conversation's context and was left out", "")


def _products(content: str) -> list[Source]:
    """The products a tool's result lists ({"products": [{product_id, name, …}]}), as an answer's sources."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return []
    products = value.get("products") if isinstance(value, dict) else None
    if not isinstance(products, list):
        return []
    return [
        Source(kind="product", id=str(p["product_id"]), title=str(p.get("name", "")))
        for p in products
        if isinstance(p, dict) and p.get("product_id") is not None
    ]


def tool_timeout(idle_timeout_s: float) -> float:
    """How long one call may run, given how long the answer may stay silent."""
    return min(TOOL_TIMEOUT_S, idle_timeout_s * IDLE_SHARE)


def parse_arguments(text: str) -> dict[str, Any] | None:
    """The call's arguments as a JSON object (empty text is no arguments), or None when they are not one."""
    if not text.strip():
        return {}
    if len(text) > MAX_ARGUMENT_CHARS or clean_text(text) != text:
        return None  # too long to be a real request, or characters no store takes
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _bounded(text: str, limit: int) -> str:
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ToolLoop:
    """One answer's tool calls, within ``MAX_CALLS`` and ``MAX_IDENTICAL``; ``tail`` is what the model reads back.

    ``tail`` holds, per round, the assistant turn with its calls and one ``tool`` result per call, in order.
    Once the limit is reached, ``choice`` becomes "none": the model must answer with what it has.
    """

    def __init__(
        self,
        tools: Tools,
        hub: Hub,
        message_id: str,
        *,
        timeout_s: float,
        metrics: Metrics | None = None,
        confirmations: Confirmations | None = None,
    ) -> None:
        self.tools = tools
        self.confirmations = confirmations
        self.metrics: Metrics = metrics or NoMetrics()
        self.hub = hub
        self.message_id = message_id
        self.timeout_s = timeout_s
        self.calls = 0
        self.tail: list[ChatMessage] = []
        self.sources: list[Source] = []
        self._seen: Counter[tuple[str, str]] = Counter()

    @property
    def choice(self) -> Literal["auto", "none"]:
        """The request's ``tool_choice``: "none" once the answer has made all the calls it may."""
        return "none" if self.calls >= MAX_CALLS else "auto"

    def shrink(self) -> bool:
        """Replace the longest tool result with a short notice, so the rounds fit the context; False if none left."""
        results = [m for m in self.tail if m["role"] == "tool" and m["content"] != TOO_LONG.content]
        if not results:
            return False
        max(results, key=lambda m: len(m["content"]))["content"] = TOO_LONG.content
        return True

    async def round(self, text: str, calls: Sequence[ToolCall]) -> AsyncIterator[ToolCall]:
        """Run one turn's calls in order, yielding each once it has its result (the answer is not silent)."""
        self.tail.append(
            ChatMessage(
                role="assistant",
                content=text,
                tool_calls=[
                    ToolCallMessage(
                        id=call.call_id,
                        type="function",
                        function={"name": call.name, "arguments": call.arguments},
                    )
                    for call in calls
                ],
            )
        )
        for call in calls:
            content = await self._one(call)
            self.tail.append(ChatMessage(role="tool", tool_call_id=call.call_id, content=content))
            yield call

    async def _one(self, call: ToolCall) -> str:
        if self.calls >= MAX_CALLS:
            return LIMIT_REACHED.content  # not run and not shown: the model is told, the customer need not be
        self.calls += 1
        journal = self.hub.journal
        message_id = self.message_id
        call_id = _bounded(call.call_id, MAX_ID_CHARS)
        name = _bounded(call.name, 64)
        arguments = parse_arguments(call.arguments)
        shown = arguments if arguments is not None else {}
        # Stored before the tool acts: a reconnect shows what is being done, even if it never returns.
        await journal.event(
            lambda seq: ToolCalled(
                seq=seq, message_id=message_id, call_id=call_id, name=name, arguments=shown
            )
        )
        key = (call.name, orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode() if arguments else "")
        self._seen[key] += 1
        offered = {spec.name for spec in self.tools.specs(self.hub)}
        if arguments is None:
            outcome = _failure("the arguments are not a JSON object", "The request could not be read.")
        elif _NAME.fullmatch(call.name) is None or call.name not in offered:
            outcome = _failure(f"unknown tool {name!r}", "That is not something I can do here.")
        elif self._seen[key] > MAX_IDENTICAL:
            outcome = _failure(
                f"this exact call was already made {MAX_IDENTICAL} times: use its earlier result",
                "Already looked up.",
            )
        else:
            outcome = await self._run(call, call_id)
        # Names the model made up are one label, so they cannot grow the metric without bound.
        self.metrics.tool_called(call.name if call.name in offered else "unknown", outcome.ok)
        proposal = outcome.proposal
        if proposal is not None and self.confirmations is None:
            outcome, proposal = NO_CONFIRMATIONS, None
        summary = _bounded(outcome.summary if proposal is None else WAITING, MAX_SUMMARY_CHARS)
        await journal.event(
            lambda seq: ToolResult(
                seq=seq, message_id=message_id, call_id=call_id, ok=outcome.ok, summary=summary
            )
        )
        if outcome.ok:
            self.sources.extend(_products(outcome.content))
        if proposal is not None and self.confirmations is not None:
            # Nothing changed: the customer is asked, and the model told to ask them too.
            return await self.confirmations.propose(
                self.hub, message_id, call_id, name, shown, _bounded(proposal.summary, MAX_SUMMARY_CHARS),
                proposal.customer_id,
            )  # fmt: skip
        return _bounded(outcome.content, MAX_RESULT_CHARS)

    async def settle(self, action: ActionRecord, approve: bool, decided: bool) -> None:
        """A change the customer answered: it becomes this answer's call, made only when approved and
        ``decided`` (claimed now, exactly once); the model reads its result like any other."""
        self.calls += 1
        journal = self.hub.journal
        message_id = self.message_id
        call_id = _bounded(f"{action.call_id}-{action.action_id}", MAX_ID_CHARS)
        arguments = dict(action.arguments)
        await journal.event(
            lambda seq: ToolCalled(
                seq=seq, message_id=message_id, call_id=call_id, name=action.tool, arguments=arguments
            )
        )
        if not decided:
            outcome = _failure(
                "confirmation_expired",
                "Nothing was changed: the confirmation had expired or was already answered.",
                message="Nothing was changed. Ask the customer whether they still want it.",
            )
        elif not approve:
            outcome = _failure(
                "declined",
                "Nothing was changed.",
                message="The customer declined: nothing was changed.",
            )
        else:
            outcome = await self._guarded(
                action.tool, call_id, lambda: self.tools.confirmed(self.hub, action)
            )
        self.metrics.tool_called(action.tool, outcome.ok)
        summary = _bounded(outcome.summary, MAX_SUMMARY_CHARS)
        await journal.event(
            lambda seq: ToolResult(
                seq=seq, message_id=message_id, call_id=call_id, ok=outcome.ok, summary=summary
            )
        )
        self.tail.append(
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[
                    ToolCallMessage(
                        id=call_id,
                        type="function",
                        function={"name": action.tool, "arguments": orjson.dumps(arguments).decode()},
                    )
                ],
            )
        )
        self.tail.append(
            ChatMessage(
                role="tool", tool_call_id=call_id, content=_bounded(outcome.content, MAX_RESULT_CHARS)
            )
        )

    async def _run(self, call: ToolCall, call_id: str) -> ToolOutcome:
        return await self._guarded(call.name, call_id, lambda: self.tools.run(self.hub, call))

    async def _guarded(
        self, name: str, call_id: str, run: Callable[[], Awaitable[ToolOutcome]]
    ) -> ToolOutcome:
        try:
            async with asyncio.timeout(self.timeout_s):
                outcome = await run()
        except asyncio.CancelledError:
            # The answer is stopping: its tool call still ends, before the answer's own end.
            message_id = self.message_id
            stored = self.hub.journal.event(
                lambda seq: ToolResult(
                    seq=seq, message_id=message_id, call_id=call_id, ok=False, summary="Stopped."
                )
            )
            stored.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        except TimeoutError:
            log.warning("tool %s timed out after %gs in %s", name, self.timeout_s, self.hub.conversation_id)
            return _failure("the tool timed out", "That took too long; please try again later.")
        except Exception:
            log.exception("tool %s failed in %s", name, self.hub.conversation_id)
            return _failure("the tool failed", "That did not work; please try again later.")
        if not isinstance(outcome, ToolOutcome):
            log.error("tool %s returned %s, not a ToolOutcome", name, type(outcome).__name__)
            return _failure("the tool failed", "That did not work; please try again later.")
        return outcome
