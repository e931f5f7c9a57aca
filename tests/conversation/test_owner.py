"""The owner state machine: every transition, and the ones refused with their stable codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.conversation import owner as owners
from app.conversation.owner import Operator, Owner, OwnerError
from app.errors import ErrorCode

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ANNA = Operator(1, "anna")
BEN = Operator(2, "ben")
WAITING = Owner(state="waiting", reason="refund", source="customer", since=NOW)
HUMAN = Owner(state="human", operator=ANNA, reason="refund", source="customer", since=NOW)
CLOSED = Owner(state="closed")


def test_a_new_conversation_is_the_assistants() -> None:
    assert Owner().state == "bot"
    assert Owner().bot_answers


def test_request_moves_bot_to_waiting_with_its_reason() -> None:
    changed = owners.request(Owner(), "wants a refund", "tool", NOW)
    assert (changed.state, changed.reason, changed.source, changed.since) == (
        "waiting",
        "wants a refund",
        "tool",
        NOW,
    )
    assert not changed.bot_answers


@pytest.mark.parametrize("start", [WAITING, HUMAN, CLOSED])
def test_request_is_refused_unless_the_assistant_answers(start: Owner) -> None:
    with pytest.raises(OwnerError) as caught:
        owners.request(start, "again", "customer", NOW)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    assert caught.value.state == start.state


@pytest.mark.parametrize("start", [Owner(), WAITING])
def test_take_moves_bot_or_waiting_to_human(start: Owner) -> None:
    changed = owners.take(start, ANNA, NOW)
    assert (changed.state, changed.operator) == ("human", ANNA)


def test_take_keeps_the_reason_a_person_was_asked_for() -> None:
    assert owners.take(WAITING, ANNA, NOW).reason == "refund"


def test_take_by_the_holder_again_changes_nothing() -> None:
    assert owners.take(HUMAN, ANNA, NOW) is HUMAN


def test_take_of_a_conversation_another_operator_holds_is_refused() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.take(HUMAN, BEN, NOW)
    assert caught.value.code == ErrorCode.NOT_OWNER
    assert "anna" in caught.value.message


def test_take_of_a_closed_conversation_is_refused() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.take(CLOSED, ANNA, NOW)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION


@pytest.mark.parametrize("start", [WAITING, HUMAN])
def test_release_hands_back_to_the_assistant(start: Owner) -> None:
    changed = owners.release(start, ANNA)
    assert changed == Owner(state="bot")


def test_release_keeps_a_ticket_email() -> None:
    ticket = Owner(state="waiting", ticket_email="a@example.com")
    assert owners.release(ticket, ANNA).ticket_email == "a@example.com"


@pytest.mark.parametrize("start", [Owner(), CLOSED])
def test_release_is_refused_when_no_person_was_involved(start: Owner) -> None:
    with pytest.raises(OwnerError) as caught:
        owners.release(start, ANNA)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION


def test_release_by_another_operator_is_refused() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.release(HUMAN, BEN)
    assert caught.value.code == ErrorCode.NOT_OWNER


@pytest.mark.parametrize("start", [Owner(), WAITING, HUMAN])
def test_close_ends_any_open_conversation(start: Owner) -> None:
    assert owners.close(start, ANNA).state == "closed"


def test_close_twice_is_refused() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.close(CLOSED, ANNA)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION


def test_close_by_another_operator_is_refused() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.close(HUMAN, BEN)
    assert caught.value.code == ErrorCode.NOT_OWNER


def test_reopen_gives_a_closed_conversation_back_to_the_assistant() -> None:
    assert owners.reopen(CLOSED) == Owner(state="bot")


@pytest.mark.parametrize("start", [Owner(), WAITING, HUMAN])
def test_reopen_is_refused_unless_closed(start: Owner) -> None:
    with pytest.raises(OwnerError) as caught:
        owners.reopen(start)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION


def test_only_the_holder_may_write_to_the_customer() -> None:
    owners.may_say(HUMAN, ANNA)  # no error
    with pytest.raises(OwnerError) as other:
        owners.may_say(HUMAN, BEN)
    with pytest.raises(OwnerError) as waiting:
        owners.may_say(WAITING, ANNA)
    assert (other.value.code, waiting.value.code) == (ErrorCode.NOT_OWNER, ErrorCode.NOT_OWNER)


def test_owner_errors_are_written_for_the_reader() -> None:
    with pytest.raises(OwnerError) as caught:
        owners.close(CLOSED, ANNA)
    assert caught.value.public
    assert caught.value.message == "cannot close a conversation that is closed"
