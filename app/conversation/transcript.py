"""A conversation's finished turns, kept in memory so building a prompt reads nothing from the database."""

from __future__ import annotations

from collections.abc import Iterable

from app.store.records import HistoryTurn, MessageRecord

_ANSWERED = frozenset({"done", "stopped"})


class Transcript:
    """Customer messages in the order they were accepted, each with its answer once it is finished."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._questions: dict[str, str] = {}
        self._answers: dict[str, str] = {}

    @classmethod
    def from_records(cls, records: Iterable[MessageRecord]) -> Transcript:
        """Rebuild from stored messages (oldest first)."""
        transcript = cls()
        for record in records:
            if record.role == "user":
                transcript.asked(record.client_id, record.text)
            elif record.status in _ANSWERED:
                transcript.answered(record.client_id, record.text)
        return transcript

    def asked(self, message_id: str, text: str) -> None:
        """A customer message was stored."""
        if message_id not in self._questions:
            self._order.append(message_id)
            self._questions[message_id] = text

    def answered(self, message_id: str, text: str) -> None:
        """The answer to ``message_id`` finished (done or stopped); empty answers are not part of history."""
        if text:
            self._answers[message_id] = text

    def before(self, message_id: str, limit: int = 200) -> list[HistoryTurn]:
        """The turns before ``message_id``: each earlier message and its answer, oldest first, at most ``limit``."""
        turns: list[HistoryTurn] = []
        for earlier in self._order:
            if earlier == message_id:
                break
            turns.append(HistoryTurn(role="user", text=self._questions[earlier]))
            answer = self._answers.get(earlier)
            if answer is not None:
                turns.append(HistoryTurn(role="assistant", text=answer))
        return turns[-limit:]
