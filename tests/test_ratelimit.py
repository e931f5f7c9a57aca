"""Limits shared by every socket: token buckets, socket counts, and what they are keyed by."""

from __future__ import annotations

import pytest

from app.web.ratelimit import ClientLimits, ClientLimitsConfig, LocalCounters, MessageBudget, Rate, client_key


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def spend(budget: MessageBudget, times: int) -> list[bool]:
    """Whether each of ``times`` messages was allowed."""
    return [await budget.take() is None for _ in range(times)]


async def test_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    counters = LocalCounters(clock=clock)
    rate = Rate(per_minute=60, burst=3)
    allowed = [await counters.take([("k", rate)]) is None for _ in range(4)]
    wait = await counters.take([("k", rate)])
    clock.now += 1.0
    assert allowed == [True, True, True, False]
    assert wait == pytest.approx(1.0)
    assert await counters.take([("k", rate)]) is None


async def test_several_buckets_are_spent_all_or_none() -> None:
    counters = LocalCounters(clock=Clock())
    small, large = Rate(60, 3), Rate(60, 10)
    for _ in range(3):
        assert await counters.take([("a", small), ("b", large)]) is None
    assert await counters.take([("a", small), ("b", large)]) is not None
    # The refusal by "a" spent nothing from "b": 10 - 3 left.
    assert [await counters.take([("b", large)]) is None for _ in range(8)] == [True] * 7 + [False]


async def test_refilled_buckets_are_forgotten_so_memory_follows_active_clients() -> None:
    clock = Clock()
    counters = LocalCounters(clock=clock, sweep_every_s=60)
    rate = Rate(per_minute=30, burst=6)
    for i in range(10_000):
        await counters.take([(f"ip:{i}", rate)])
    assert len(counters) == 10_000
    clock.now += 61  # every bucket has refilled (one token takes 2 s)
    await counters.take([("ip:new", rate)])
    assert len(counters) == 1


async def test_socket_counts_are_capped_and_dropped_at_zero() -> None:
    counters = LocalCounters(clock=Clock())
    assert [await counters.enter("ip", cap=2) for _ in range(3)] == [True, True, False]
    await counters.leave("ip")
    assert await counters.enter("ip", cap=2)
    await counters.leave("ip")
    await counters.leave("ip")
    assert len(counters) == 0


async def test_one_conversation_shares_its_budget_across_sockets() -> None:
    limits = ClientLimits(
        ClientLimitsConfig(messages_per_conversation_per_minute=15, messages_per_client_per_minute=10_000),
        LocalCounters(clock=Clock()),
    )
    first, second = MessageBudget(limits, "1.2.3.4", "conv"), MessageBudget(limits, "5.6.7.8", "conv")
    # A burst of 3 for the conversation, however many sockets it has.
    assert await spend(first, 2) + await spend(second, 2) == [True, True, True, False]


async def test_one_client_shares_its_budget_across_conversations() -> None:
    limits = ClientLimits(
        ClientLimitsConfig(messages_per_conversation_per_minute=10_000, messages_per_client_per_minute=20),
        LocalCounters(clock=Clock()),
    )
    allowed = []
    for conversation in ("a", "b", "c", "d", "e"):
        allowed += await spend(MessageBudget(limits, "1.2.3.4", conversation), 1)
    other_client = await spend(MessageBudget(limits, "9.9.9.9", "f"), 1)
    assert allowed == [True, True, True, True, False]
    assert other_client == [True]


async def test_sockets_and_new_conversations_per_client_are_capped() -> None:
    limits = ClientLimits(
        ClientLimitsConfig(sockets_per_client=3, new_conversations_per_client_per_minute=4),
        LocalCounters(clock=Clock()),
    )
    # A burst of half a minute's new conversations (at least 3): two here, then resumes until the cap.
    opened = [await limits.connect("1.2.3.4", new_conversation=True) for _ in range(2)]
    resumed = await limits.connect("1.2.3.4", new_conversation=False)
    over_cap = await limits.connect("1.2.3.4", new_conversation=False)
    assert opened == [None, None]
    assert resumed is None
    assert over_cap is not None
    assert over_cap.retry_after_s > 0
    await limits.disconnect("1.2.3.4")
    await limits.disconnect("1.2.3.4")
    assert await limits.connect("1.2.3.4", new_conversation=True) is None
    too_many_new = await limits.connect("1.2.3.4", new_conversation=True)
    assert too_many_new is not None
    assert "new conversations" in too_many_new.message


async def test_refused_new_conversation_does_not_keep_a_socket_slot() -> None:
    counters = LocalCounters(clock=Clock())
    limits = ClientLimits(
        ClientLimitsConfig(sockets_per_client=5, new_conversations_per_client_per_minute=1), counters
    )
    for _ in range(10):
        if await limits.connect("1.2.3.4", new_conversation=True) is None:
            await limits.disconnect("1.2.3.4")
    assert await limits.connect("1.2.3.4", new_conversation=False) is None


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_clients_are_keyed_by_ipv4_address_or_ipv6_subnet(host: str | None, key: str) -> None:
    assert client_key(host) == key
