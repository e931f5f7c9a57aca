"""The turn before the current message: what the customer asked and what the assistant replied.

The built-in responder keeps no state of its own: the conversation's history (the request's messages) is the
state, so a reply to "Would you like me to …?" or "do you mean A or B?" is read against the question it answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.llm.tokens import ChatMessage


@dataclass(frozen=True, slots=True)
class Exchange:
    """The customer's previous message and the assistant's text reply to it ("" when there is none)."""

    question: str = ""
    reply: str = ""

    @classmethod
    def before(cls, messages: Sequence[ChatMessage]) -> Exchange:
        """The exchange before the last customer message of ``messages`` (a tool step's text is skipped)."""
        turns = [m for m in messages if m["role"] in ("user", "assistant") and m.get("content")]
        if turns and turns[-1]["role"] == "user":
            turns = turns[:-1]
        reply = question = ""
        for message in reversed(turns):
            if message["role"] == "assistant" and not reply and not question:
                reply = message["content"]
            elif message["role"] == "user":
                question = message["content"]
                break
        return cls(question.strip(), reply.strip())
