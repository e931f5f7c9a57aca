"""A conversation's finished turns, kept in memory so building a prompt reads nothing from the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from app.shop.recommender import Shown
from app.store.records import HistoryTurn, MessageRecord

_ANSWERED = frozenset({"done", "stopped"})


class Transcript:
    """Customer messages in the order they were accepted, each with its answer once it is finished."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._questions: dict[str, str] = {}
        self._answers: dict[str, str] = {}
        # What people of the shop wrote, after the customer message they followed ("" before any).
        self._said: dict[str, list[str]] = {}
        self._shown_ids: set[str] = set()
        self._last_prices: tuple[float, ...] = ()

    @classmethod
    def from_records(cls, records: Iterable[MessageRecord]) -> Transcript:
        """Rebuild from stored messages (oldest first)."""
        transcript = cls()
        for record in records:
            if record.role == "user":
                transcript.asked(record.client_id, record.text)
            elif record.role == "operator":
                transcript.operator_said(record.text)
            else:
                transcript.showed(_stored_cards(record.recommendations))
                if record.status in _ANSWERED:
                    transcript.answered(record.client_id, record.text)
        return transcript

    def asked(self, message_id: str, text: str) -> None:
        """A customer message was stored."""
        if message_id not in self._questions:
            self._order.append(message_id)
            self._questions[message_id] = text

    def has(self, message_id: str) -> bool:
        """Whether the customer message ``message_id`` is stored."""
        return message_id in self._questions

    def latest_question(self) -> str | None:
        """The text of the customer's newest stored message, or None."""
        return self._questions[self._order[-1]] if self._order else None

    def previous(self, message_id: str) -> str | None:
        """The customer message stored just before ``message_id`` (None for the first, or an unknown id)."""
        if message_id not in self._questions:
            return None
        index = self._order.index(message_id)
        return self._order[index - 1] if index else None

    def answered(self, message_id: str, text: str) -> None:
        """The answer to ``message_id`` finished (done or stopped); empty answers are not part of history."""
        if text:
            self._answers[message_id] = text

    def operator_said(self, text: str) -> None:
        """A person of the shop wrote to the customer: the assistant sees it in the history after a hand-back."""
        after = self._order[-1] if self._order else ""
        self._said.setdefault(after, []).append(text)

    def showed(self, cards: Sequence[tuple[str, float]]) -> None:
        """Product cards (id, price) went out with an answer; "cheaper" and "more" refer to them from now on."""
        if cards:
            self._shown_ids.update(product_id for product_id, _ in cards)
            self._last_prices = tuple(price for _, price in cards)

    def shown(self) -> Shown:
        """Every product shown in this conversation so far, and the prices of the last cards."""
        return Shown(product_ids=frozenset(self._shown_ids), last_prices=self._last_prices)

    def before(self, message_id: str, limit: int = 200) -> list[HistoryTurn]:
        """The turns before ``message_id``: each earlier message and its answer, oldest first, at most ``limit``."""
        turns: list[HistoryTurn] = [_colleague(text) for text in self._said.get("", [])]
        for earlier in self._order:
            if earlier == message_id:
                break
            turns.append(HistoryTurn(role="user", text=self._questions[earlier]))
            answer = self._answers.get(earlier)
            if answer is not None:
                turns.append(HistoryTurn(role="assistant", text=answer))
            turns.extend(_colleague(text) for text in self._said.get(earlier, []))
        return turns[-limit:]


def _colleague(text: str) -> HistoryTurn:
    # The shop's side of the conversation, marked so the model knows a person said it, not itself.
    return HistoryTurn(role="assistant", text=f"[A colleague from the shop wrote:] {text}")


def _stored_cards(recommendations: dict[str, Any] | None) -> list[tuple[str, float]]:
    """(product id, price) of the cards an answer stored, as the store keeps them ({"items": [...]})."""
    items = (recommendations or {}).get("items") or []
    cards: list[tuple[str, float]] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("product_id"), str):
            price = item.get("price")
            if isinstance(price, int | float):
                cards.append((item["product_id"], float(price)))
    return cards
