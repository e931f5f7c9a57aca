"""Long stored conversations for replay tests, written in one batch through the store's write API."""

from __future__ import annotations

from datetime import UTC, datetime

from app.events import Accepted, Delta, Done, StoredEvent, Usage, event_message_id
from app.store.records import AnswerFinished, AnswerStarted, NewConversation, NewEvent, NewUserMessage, Write
from app.store.store import Store

EVENTS_PER_TURN = 12  # accepted, ten deltas, done
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _event(conversation_id: str, frame: StoredEvent) -> NewEvent:
    assert frame.seq is not None
    return NewEvent(conversation_id, frame.seq, frame.type, event_message_id(frame), frame.model_dump_json())


async def write_long_conversation(store: Store, conversation_id: str, events: int = 12_000) -> None:
    """Store a finished conversation of exactly ``events`` events (whole turns); its seqs are 1..events."""
    assert events % EVENTS_PER_TURN == 0, f"events must be a multiple of {EVENTS_PER_TURN}"
    writes: list[Write] = [NewConversation(conversation_id, None)]
    seq = 0
    for turn in range(events // EVENTS_PER_TURN):
        message_id = f"m{turn}"
        text = f"question {turn}"
        seq += 1
        accepted = Accepted(seq=seq, message_id=message_id, text=text, created_at=NOW.isoformat())
        writes += [NewUserMessage(conversation_id, message_id, text, NOW), _event(conversation_id, accepted)]
        writes.append(AnswerStarted(conversation_id, message_id, "chat"))
        pieces = []
        for _ in range(EVENTS_PER_TURN - 2):
            seq += 1
            pieces.append(f"piece {seq} ")
            writes.append(_event(conversation_id, Delta(seq=seq, message_id=message_id, text=pieces[-1])))
        seq += 1
        answer = "".join(pieces)
        usage = Usage(prompt_tokens=10, completion_tokens=EVENTS_PER_TURN - 2)
        done = Done(seq=seq, message_id=message_id, route="chat", text=answer, usage=usage)
        writes += [
            AnswerFinished(conversation_id, message_id, answer, "done", "chat", 10, EVENTS_PER_TURN - 2),
            _event(conversation_id, done),
        ]
    await store.write(writes)
