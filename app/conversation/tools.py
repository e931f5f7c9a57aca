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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from app.conversation.hub import Hub
from app.conversation.metrics import Metrics, NoMetrics
from app.events import ToolCalled, ToolResult
from app.llm.model import ToolCall, ToolSpec, clean_text
from app.llm.tokens import ChatMessage, ToolCallMessage

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


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool's result: ``content`` is what the model reads (JSON), ``summary`` what the customer sees."""

    ok: bool
    content: str
    summary: str


class Tools(Protocol):
    """The functions a conversation offers the model, and how one call runs."""

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """The functions offered in this conversation (none: the model gets no tools)."""
        ...

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Run one call (its name is one of ``specs``, its arguments a JSON object); may raise."""
        ...


class NoTools:
    """No tools: requests carry none, and a call the model makes anyway is answered as unknown."""

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """None."""
        return []

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Never called: the loop answers calls to unknown tools itself."""
        return _failure("unknown tool", "That is not something I can do here.")


def _failure(error: str, summary: str) -> ToolOutcome:
    return ToolOutcome(
        ok=False, content=orjson.dumps({"ok": False, "error": error}).decode(), summary=summary
    )


LIMIT_REACHED = _failure(
    f"at most {MAX_CALLS} tool calls per answer: answer the customer with what you have", ""
)

TOO_LONG = _failure("the result was too long for the conversation's context and was left out", "")


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
        self, tools: Tools, hub: Hub, message_id: str, *, timeout_s: float, metrics: Metrics | None = None
    ) -> None:
        self.tools = tools
        self.metrics: Metrics = metrics or NoMetrics()
        self.hub = hub
        self.message_id = message_id
        self.timeout_s = timeout_s
        self.calls = 0
        self.tail: list[ChatMessage] = []
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
        summary = _bounded(outcome.summary, MAX_SUMMARY_CHARS)
        await journal.event(
            lambda seq: ToolResult(
                seq=seq, message_id=message_id, call_id=call_id, ok=outcome.ok, summary=summary
            )
        )
        return _bounded(outcome.content, MAX_RESULT_CHARS)

    async def _run(self, call: ToolCall, call_id: str) -> ToolOutcome:
        try:
            async with asyncio.timeout(self.timeout_s):
                outcome = await self.tools.run(self.hub, call)
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
            log.warning(
                "tool %s timed out after %gs in %s", call.name, self.timeout_s, self.hub.conversation_id
            )
            return _failure("the tool timed out", "That took too long; please try again later.")
        except Exception:
            log.exception("tool %s failed in %s", call.name, self.hub.conversation_id)
            return _failure("the tool failed", "That did not work; please try again later.")
        if not isinstance(outcome, ToolOutcome):
            log.error("tool %s returned %s, not a ToolOutcome", call.name, type(outcome).__name__)
            return _failure("the tool failed", "That did not work; please try again later.")
        return outcome
