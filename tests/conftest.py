"""Test-wide setup: route ``httpx`` to ``httpx2`` so respx can mock the openai SDK, and share fixtures."""

from __future__ import annotations

# openai >= 3 talks through httpx2; respx patches whatever ``httpx`` is. Aliasing must happen before anything
# imports httpx, which is why pytest runs with ``-p no:respx`` and the plugin is loaded here instead.
import httpx2

httpx2.alias_httpx()

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ["respx.plugin"]

os.environ.setdefault(
    "TIKTOKEN_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".venv" / "tiktoken-cache")
)

from app.embedding import Encoder, default_encoder  # noqa: E402
from app.settings import Settings, load_settings  # noqa: E402
from app.tokens import install_offline_encodings  # noqa: E402

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
    )


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL from ``SHOPCHAT_TEST_POSTGRES_URL``; skips when unset."""
    url = os.environ.get("SHOPCHAT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHOPCHAT_TEST_POSTGRES_URL is not set (CI sets it; PostgreSQL tests skipped)")
    return url
