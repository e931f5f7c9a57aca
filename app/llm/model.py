"""The one interface every chat model implements, and the typed events it streams."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from app.events import Route, Source
from app.llm.tokens import ChatMessage
from app.shop.recommender import Recommendation


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool to run: ``arguments`` is its JSON text, as the model wrote it (maybe invalid).

    A model sends its tool calls after any text of the same turn and before its ``Finished`` (whose
    ``finish_reason`` is then ``tool_calls``).
    """

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The answer ended; usage is the provider's count when it reports one."""

    finish_reason: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # The answer could not help (the built-in responder's "I can't answer that"): enough of these in a row
    # and the conversation is offered to a person (SHOPCHAT_HANDOFF_AFTER_FALLBACKS).
    helpless: bool = False


ModelEvent = TextDelta | ToolCall | Finished


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and its arguments as a JSON schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


# What no database or JSON encoder takes (lone surrogates; NUL for PostgreSQL) and what no answer needs (C0
# controls other than newline and tab).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]+")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Model text safe to store and send: lone surrogates become U+FFFD; C0 controls but newline and tab go."""
    if _UNSAFE.search(text) is None:
        return text
    if _SURROGATES.search(text) is not None:
        # Through UTF-16: a pair that arrived as two code points becomes its character, a lone half U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROLS.sub("", text)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything a model may use to answer: the fitted prompt plus the structured facts behind it."""

    messages: Sequence[ChatMessage]
    route: Route
    query: str
    customer_id: str | None = None
    recommendations: Sequence[Recommendation] = field(default_factory=tuple)
    max_output_tokens: int = 512
    # Functions the model may call; none sends no tools at all. "none" forbids calls (the loop's limit is hit).
    tools: Sequence[ToolSpec] = field(default_factory=tuple)
    tool_choice: Literal["auto", "none"] = "auto"
    # The shop data put in the prompt for this message (reported with the answer's ``done``).
    sources: Sequence[Source] = field(default_factory=tuple)


class ChatModel(Protocol):
    """A chat model that streams its answer; the stream ends with exactly one ``Finished``."""

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Stream the answer; raises ``ModelError`` (with a stable code) when the model fails."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...
