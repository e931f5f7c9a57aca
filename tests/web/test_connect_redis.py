"""``connect_redis``: the one Redis client every part of a process shares."""

from __future__ import annotations

import asyncio

from app.web.application import connect_redis


async def test_more_commands_in_flight_than_connections_wait_instead_of_failing(redis_url: str) -> None:
    redis = await connect_redis(redis_url)
    try:
        # 150 blocking commands at once on a pool of 100: the last 50 wait for a connection.
        results = await asyncio.gather(*(redis.blpop([f"nothing:{i}"], timeout=0.2) for i in range(150)))
    finally:
        await redis.aclose()
    assert results == [None] * 150
