"""Pending actions and verifications in the database: decided once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.store.actions import ActionRecord, ActionStore
from app.store.store import Store
from app.store.tables import utcnow


def action(action_id: str, conversation_id: str = "c1", minutes: int = 15) -> ActionRecord:
    now = utcnow()
    return ActionRecord(
        action_id=action_id,
        conversation_id=conversation_id,
        message_id="m1",
        call_id="call_1",
        tool="cancel_pending_order",
        arguments={"order_id": "1234701", "reason": "x"},
        summary="Cancel order 1234701.",
        customer_id="12347",
        status="pending",
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )


async def test_a_proposed_action_is_pending_with_its_arguments(store: Store) -> None:
    actions = ActionStore(store)
    await actions.propose(action("a1"))
    stored = await actions.pending("c1")
    assert stored is not None
    assert (stored.action_id, stored.status, stored.arguments) == (
        "a1",
        "pending",
        {"order_id": "1234701", "reason": "x"},
    )


async def test_an_action_is_decided_once_even_by_racing_claims(store: Store) -> None:
    actions = ActionStore(store)
    await actions.propose(action("a1"))
    claims = await asyncio.gather(*(actions.decide("a1", approve=True) for _ in range(5)))
    assert sorted(claims) == [False, False, False, False, True]
    decided = await actions.get("a1")
    assert decided is not None
    assert decided.status == "approved"
    assert not await actions.decide("a1", approve=False)


async def test_an_expired_action_cannot_be_decided(store: Store) -> None:
    actions = ActionStore(store)
    await actions.propose(action("a1", minutes=-1))
    assert not await actions.decide("a1", approve=True)
    await actions.expire("a1")
    expired = await actions.get("a1")
    assert expired is not None
    assert expired.status == "expired"


async def test_a_new_proposal_supersedes_the_pending_one_of_its_conversation_only(store: Store) -> None:
    actions = ActionStore(store)
    await actions.propose(action("a1"))
    await actions.propose(action("b1", conversation_id="c2"))
    await actions.propose(action("a2"))
    first, other = await actions.get("a1"), await actions.get("b1")
    assert first is not None
    assert other is not None
    assert (first.status, other.status) == ("superseded", "pending")
    assert not await actions.decide("a1", approve=True)
    pending = await actions.pending("c1")
    assert pending is not None
    assert pending.action_id == "a2"


async def test_verification_records_the_customer_and_counts_failures(store: Store) -> None:
    actions = ActionStore(store)
    assert (await actions.verification("c1")).customer_id is None
    assert [await actions.failed("c1") for _ in range(3)] == [1, 2, 3]
    await actions.verified("c1", "12347")
    state = await actions.verification("c1")
    assert (state.customer_id, state.failures) == ("12347", 3)
    assert (await actions.verification("c2")).customer_id is None
