"""Test-wide setup: route ``httpx`` to ``httpx2`` so respx can mock the openai SDK, and share fixtures."""

from __future__ import annotations

# openai >= 3 talks through httpx2; respx patches whatever ``httpx`` is. Aliasing must happen before anything
# imports httpx, which is why pytest runs with ``-p no:respx`` and the plugin is loaded here instead.
import httpx2

httpx2.alias_httpx()

import os  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ["respx.plugin"]

os.environ.setdefault(
    "TIKTOKEN_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".venv" / "tiktoken-cache")
)

from app.llm.tokens import install_offline_encodings  # noqa: E402
from app.settings import Settings, load_settings  # noqa: E402
from app.shop.embedding import Encoder, default_encoder  # noqa: E402

if TYPE_CHECKING:
    from redis.asyncio import Redis

install_offline_encodings()

TEST_SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real sentence encoder, loaded once per test run."""
    return default_encoder()


def sqlite_url(path: Path) -> str:
    """An aiosqlite URL for an absolute file path (four slashes)."""
    return f"sqlite+aiosqlite:///{path.resolve()}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own SQLite file, instant local streaming, a fixed secret."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url(tmp_path / "chat.db"),
        local_stream_delay_ms=0,
        secret_key=TEST_SECRET,
        port=8000,
        # One encoder for the whole test run, in this process; the child-process encoder has its own tests.
        encoder_process=False,
        # Many apps are built in one test process: frozen objects would never be freed.
        freeze_heap=False,
    )


# Parallel checkouts on one server each name their own database.
POSTGRES_TEST_DATABASE = os.environ.get("SHOPCHAT_TEST_POSTGRES_DB", "shopchat_test")


async def _create_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL URL from ``SHOPCHAT_TEST_POSTGRES_URL``; skips when unset."""
    url = os.environ.get("SHOPCHAT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHOPCHAT_TEST_POSTGRES_URL is not set (CI sets it; PostgreSQL tests skipped)")
    return url


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> str:
    """A database of the tests' own on that server (created once), so shared databases are never touched."""
    import asyncio
    import threading

    # Its own thread: the fixture may be set up from inside a running event loop (async fixtures).
    worker = threading.Thread(
        target=asyncio.run, args=(_create_database(postgres_server_url, POSTGRES_TEST_DATABASE),)
    )
    worker.start()
    worker.join()
    base, _, _ = postgres_server_url.rpartition("/")
    return f"{base}/{POSTGRES_TEST_DATABASE}"


async def reset_database(url: str) -> None:
    """Drop every table (migrations' bookkeeping included) so a test starts from an empty database."""
    from sqlalchemy import MetaData

    from app.store.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            metadata = MetaData()
            await conn.run_sync(metadata.reflect)
            await conn.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()


def fresh_redis_url() -> str:
    """``SHOPCHAT_TEST_REDIS_URL`` (a database of the tests' own, emptied first); skips the test when unset."""
    url = os.environ.get("SHOPCHAT_TEST_REDIS_URL")
    if not url:
        pytest.skip("SHOPCHAT_TEST_REDIS_URL is not set (CI sets it; Redis tests skipped)")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at SHOPCHAT_TEST_REDIS_URL is not reachable: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database of the tests' own; skips when none is configured."""
    return fresh_redis_url()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of that database."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
