"""The in-memory transcript that prompts are built from."""

from __future__ import annotations

from datetime import UTC, datetime

from app.conversation.transcript import Transcript
from app.store.records import MessageRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(client_id: str, role: str, text: str, status: str = "done") -> MessageRecord:
    return MessageRecord(client_id, role, text, status, None, None, None, None, None, None, None, T0, None)


def test_history_is_each_earlier_message_with_its_answer() -> None:
    transcript = Transcript()
    transcript.asked("m1", "first")
    transcript.asked("m2", "second")  # sent while the first answer was still streaming
    transcript.answered("m1", "answer one")
    assert [(t.role, t.text) for t in transcript.before("m2")] == [
        ("user", "first"),
        ("assistant", "answer one"),
    ]


def test_unanswered_and_empty_answers_leave_only_the_question() -> None:
    transcript = Transcript()
    transcript.asked("m1", "first")
    transcript.answered("m1", "")
    transcript.asked("m2", "second")
    assert [t.text for t in transcript.before("m2")] == ["first"]


def test_stored_records_rebuild_the_same_history() -> None:
    transcript = Transcript.from_records(
        [
            record("m1", "user", "first"),
            record("m1", "assistant", "answer one"),
            record("m2", "user", "second"),
            record("m2", "assistant", "", status="failed"),
            record("m3", "user", "third"),
            record("m3", "assistant", "cut off", status="streaming"),
        ]
    )
    assert [t.text for t in transcript.before("m3")] == ["first", "answer one", "second"]


def test_history_keeps_the_newest_turns_within_the_limit() -> None:
    transcript = Transcript()
    for n in range(10):
        transcript.asked(f"m{n}", f"q{n}")
        transcript.answered(f"m{n}", f"a{n}")
    transcript.asked("last", "now")
    assert [t.text for t in transcript.before("last", limit=4)] == ["q8", "a8", "q9", "a9"]


def test_shown_cards_are_every_product_and_the_last_prices() -> None:
    transcript = Transcript()
    transcript.showed([("a", 12.75), ("b", 1.69)])
    transcript.showed([])  # an answer without cards changes nothing
    transcript.showed([("c", 0.85)])
    shown = transcript.shown()
    assert (shown.product_ids, shown.last_prices) == (frozenset({"a", "b", "c"}), (0.85,))


def test_stored_records_rebuild_the_shown_cards() -> None:
    cards = {"items": [{"product_id": "a", "price": 2.95}, {"product_id": "b", "price": 4.95}]}
    answer = MessageRecord(
        "m1", "assistant", "try these", "done", "recommend", 1, 1, None, cards, None, None, T0, None
    )
    transcript = Transcript.from_records([record("m1", "user", "recommend me something"), answer])
    assert transcript.shown().product_ids == {"a", "b"}
    assert transcript.shown().last_prices == (2.95, 4.95)


def test_what_a_person_wrote_is_in_the_history_after_the_message_it_followed() -> None:
    transcript = Transcript()
    transcript.asked("m1", "my mug arrived broken")
    transcript.operator_said("I have sent you a new one, it arrives Friday.")
    transcript.asked("m2", "thanks! and when does it arrive again?")
    assert [(t.role, t.text) for t in transcript.before("m2")] == [
        ("user", "my mug arrived broken"),
        ("assistant", "[A colleague from the shop wrote:] I have sent you a new one, it arrives Friday."),
    ]


def test_stored_operator_messages_rebuild_into_the_history() -> None:
    transcript = Transcript.from_records(
        [
            record("m1", "user", "my mug arrived broken"),
            record("op-1", "operator", "A new one is on its way."),
            record("m2", "user", "thanks"),
        ]
    )
    assert [t.text for t in transcript.before("m2")] == [
        "my mug arrived broken",
        "[A colleague from the shop wrote:] A new one is on its way.",
    ]
