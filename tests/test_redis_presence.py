"""Operators online in one process count in every process: a customer anywhere can be handed to them."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from app.web.inbox import OperatorPresence
from app.web.redis_presence import RedisPresence


async def test_an_operator_on_one_process_makes_a_person_available_on_the_other(redis: Redis) -> None:
    here, there = OperatorPresence(), OperatorPresence()
    a, b = RedisPresence(redis, here), RedisPresence(redis, there)
    await a.beat()
    await b.beat()
    assert not there.available()
    here.online = 1
    await a.beat()
    await b.beat()
    assert there.available()
    assert there.elsewhere == 1


async def test_a_process_that_stops_takes_its_operators_out_of_the_count(redis: Redis) -> None:
    here, there = OperatorPresence(), OperatorPresence()
    a, b = RedisPresence(redis, here), RedisPresence(redis, there)
    here.online = 2
    await a.start()
    await b.beat()
    assert there.elsewhere == 2
    await a.aclose()
    await b.beat()
    assert not there.available()


async def test_a_dead_process_stops_counting_when_its_key_expires(redis: Redis) -> None:
    here, there = OperatorPresence(), OperatorPresence()
    dead = RedisPresence(redis, here)
    here.online = 1
    await dead.beat()  # then killed: nobody renews it
    await redis.pexpire(dead.key, 1)
    await asyncio.sleep(0.05)
    await RedisPresence(redis, there).beat()
    assert there.elsewhere == 0
