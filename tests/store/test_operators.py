"""Operator accounts and sessions on SQLite and, when ``SHOPCHAT_TEST_POSTGRES_URL`` is set, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from app.store.migrate import alembic_config, current, upgrade
from app.store.operators import SESSIONS, OperatorError, OperatorStore, normalize_name, token_hash
from app.store.password import ScryptCost, hash_password, new_password, verify_password
from app.store.store import Store
from tests.conftest import reset_database, sqlite_url
from tests.store.test_migrations import alembic, on_connection

CHEAP = ScryptCost(log_n=4, r=1, p=1)
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    """A settable now."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "operators.db")
    else:
        url = request.getfixturevalue("postgres_url")
        await reset_database(url)
    await upgrade(url)
    store = Store.from_url(url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def operators(store: Store, clock: Clock) -> OperatorStore:
    return OperatorStore(store, clock=clock)


# ---- passwords -------------------------------------------------------------------------------------------


def test_a_password_verifies_against_its_hash_with_the_default_cost() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$scrypt$ln=15,r=8,p=1$")
    assert verify_password("correct horse", stored)


def test_a_wrong_password_does_not_verify() -> None:
    assert not verify_password("correct hors", hash_password("correct horse", CHEAP))


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same", CHEAP) != hash_password("same", CHEAP)


def test_a_hash_is_checked_with_the_cost_it_names() -> None:
    stored = hash_password("pw", ScryptCost(log_n=5, r=2, p=1))
    assert stored.startswith("$scrypt$ln=5,r=2,p=1$")
    assert verify_password("pw", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "$scrypt$ln=15,r=8,p=1$AAAA", "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43],
)
def test_a_malformed_or_too_costly_hash_never_verifies(stored: str) -> None:
    assert not verify_password("pw", stored)


def test_new_passwords_are_long_and_different() -> None:
    first, second = new_password(), new_password()
    assert len(first) >= 16
    assert first != second


# ---- names -----------------------------------------------------------------------------------------------


def test_names_are_lower_cased() -> None:
    assert normalize_name("  Alice.B ") == "alice.b"


@pytest.mark.parametrize("name", ["", "-alice", "a b", "x" * 33, "ælice", "a/b"])
def test_bad_names_are_refused_with_a_message(name: str) -> None:
    with pytest.raises(OperatorError, match="invalid operator name"):
        normalize_name(name)


# ---- accounts --------------------------------------------------------------------------------------------


async def test_an_added_operator_is_found_by_name_with_its_hash(operators: OperatorStore) -> None:
    stored = hash_password("pw", CHEAP)
    added = await operators.add("Alice", stored)
    assert (added.name, added.created_at, added.removed_at) == ("alice", T0, None)
    found = await operators.credentials("ALICE")
    assert found == (added, stored)


async def test_a_duplicate_name_is_refused(operators: OperatorStore) -> None:
    await operators.add("alice", hash_password("pw", CHEAP))
    with pytest.raises(OperatorError, match="already exists"):
        await operators.add("Alice", hash_password("other", CHEAP))
    assert [o.name for o in await operators.all()] == ["alice"]


async def test_all_lists_active_operators_by_name(operators: OperatorStore) -> None:
    for name in ("carol", "alice", "bob"):
        await operators.add(name, hash_password("pw", CHEAP))
    await operators.remove("bob")
    assert [o.name for o in await operators.all()] == ["alice", "carol"]
    everyone = await operators.all(removed=True)
    assert [(o.name, o.removed_at is not None) for o in everyone] == [
        ("alice", False),
        ("bob", True),
        ("carol", False),
    ]


async def test_a_removed_operator_cannot_be_found_and_ends_its_sessions(operators: OperatorStore) -> None:
    added = await operators.add("alice", hash_password("pw", CHEAP))
    token, _ = await operators.start_session(added.id, timedelta(hours=1))
    assert await operators.remove("alice")
    assert await operators.credentials("alice") is None
    assert await operators.session(token) is None
    assert not await operators.remove("alice")


async def test_removing_an_unknown_operator_says_so(operators: OperatorStore) -> None:
    assert not await operators.remove("nobody")
    assert not await operators.remove("not a name")


async def test_a_removed_name_can_be_added_again_with_a_new_password(operators: OperatorStore) -> None:
    first = await operators.add("alice", hash_password("old", CHEAP))
    await operators.remove("alice")
    again = await operators.add("alice", hash_password("new", CHEAP))
    assert again.id == first.id
    found = await operators.credentials("alice")
    assert found is not None
    assert verify_password("new", found[1])


async def test_reset_replaces_the_password_and_ends_every_session(
    operators: OperatorStore, clock: Clock
) -> None:
    added = await operators.add("alice", hash_password("old", CHEAP))
    tokens = [(await operators.start_session(added.id, timedelta(hours=1)))[0] for _ in range(2)]
    clock.now = T0 + timedelta(minutes=5)
    assert await operators.set_password("alice", hash_password("new", CHEAP))
    found = await operators.credentials("alice")
    assert found is not None
    assert (verify_password("old", found[1]), verify_password("new", found[1])) == (False, True)
    assert found[0].password_changed_at == clock.now
    assert [await operators.session(t) for t in tokens] == [None, None]


async def test_reset_of_an_unknown_operator_says_so(operators: OperatorStore) -> None:
    assert not await operators.set_password("nobody", hash_password("pw", CHEAP))


# ---- sessions --------------------------------------------------------------------------------------------


async def test_a_session_token_opens_its_session_until_it_expires(
    operators: OperatorStore, clock: Clock
) -> None:
    added = await operators.add("alice", hash_password("pw", CHEAP))
    token, expires_at = await operators.start_session(added.id, timedelta(hours=12))
    assert expires_at == T0 + timedelta(hours=12)
    session = await operators.session(token)
    assert session is not None
    assert (session.operator, session.expires_at) == (added, expires_at)
    clock.now = expires_at - timedelta(seconds=1)
    assert await operators.session(token) is not None
    clock.now = expires_at
    assert await operators.session(token) is None


async def test_only_the_token_s_hash_is_stored(operators: OperatorStore, store: Store) -> None:
    added = await operators.add("alice", hash_password("pw", CHEAP))
    token, _ = await operators.start_session(added.id, timedelta(hours=1))
    async with store.engine.connect() as conn:
        stored = list((await conn.execute(select(SESSIONS.c.token_hash))).scalars())
    assert stored == [token_hash(token)]
    assert token not in stored


async def test_an_unknown_token_opens_nothing(operators: OperatorStore) -> None:
    assert await operators.session("made-up") is None


async def test_ending_a_session_leaves_the_operator_s_others(operators: OperatorStore) -> None:
    added = await operators.add("alice", hash_password("pw", CHEAP))
    first, _ = await operators.start_session(added.id, timedelta(hours=1))
    second, _ = await operators.start_session(added.id, timedelta(hours=1))
    session = await operators.session(first)
    assert session is not None
    assert await operators.end_session(session.session_id)
    assert await operators.session(first) is None
    assert await operators.session(second) is not None
    assert not await operators.end_session(session.session_id)


async def test_purge_deletes_only_expired_sessions_and_counts_stay_right(
    operators: OperatorStore, clock: Clock
) -> None:
    alice = await operators.add("alice", hash_password("pw", CHEAP))
    bob = await operators.add("bob", hash_password("pw", CHEAP))
    await operators.start_session(alice.id, timedelta(minutes=10))
    await operators.start_session(alice.id, timedelta(hours=10))
    await operators.start_session(bob.id, timedelta(minutes=10))
    clock.now = T0 + timedelta(hours=1)
    assert await operators.session_counts() == {alice.id: 1}
    assert await operators.purge_expired() == 2
    assert await operators.purge_expired() == 0


# ---- revision 0005 ---------------------------------------------------------------------------------------


async def test_revision_0005_adds_the_operator_tables_and_its_downgrade_drops_only_them(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "migrated.db")
    previous = ScriptDirectory.from_config(alembic_config()).get_revision("0005").down_revision
    assert isinstance(previous, str)
    await on_connection(url, alembic(lambda config: command.upgrade(config, previous)))
    before = await on_connection(url, lambda conn: set(inspect(conn).get_table_names()))
    await on_connection(url, alembic(lambda config: command.upgrade(config, "0005")))
    after = await on_connection(url, lambda conn: set(inspect(conn).get_table_names()))
    assert after - before == {"operators", "operator_sessions"}
    await on_connection(url, alembic(lambda config: command.downgrade(config, previous)))
    assert await on_connection(url, lambda conn: set(inspect(conn).get_table_names())) == before
    assert await current(url) == previous
