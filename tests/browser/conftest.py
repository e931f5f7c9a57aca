"""Fixtures for the browser tests: Debian's Chromium through pytest-playwright, and real shopchat servers.

Run with ``pytest -m browser tests/browser`` (a separate invocation: sync Playwright keeps an event loop
running, which would upset pytest-asyncio tests in the same process).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from .widget_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ShopchatServer, Widget

BROWSER_TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip (not fail) every browser test when there is no Chromium to drive."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if BROWSER_TESTS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium (there is no network for ``playwright install``), quiet and sandbox-free."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopchatServer]:
    """One server for the whole run (starting one takes seconds); answers stream a word every 40 ms.

    The resilience tests ``kill -9`` and restart it on the same port and database.
    """
    instance = ShopchatServer(workdir=tmp_path_factory.mktemp("shopchat-server"), stream_delay_ms=40)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def server(shared_server: ShopchatServer) -> ShopchatServer:
    """The shared server, restarted first if an earlier test killed it and failed before restarting it."""
    if not shared_server.running():
        shared_server.start()
    return shared_server


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (a hostile string that runs script would open one)."""
    opened: list[str] = []

    def on_dialog(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return opened


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """Uncaught exceptions in the page; tests assert there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def widget(page: Page, server: ShopchatServer, page_errors: list[str]) -> Iterator[Widget]:
    """The demo storefront with the widget loaded, on the shared server."""
    chat = Widget(page, server)
    chat.goto_demo()
    yield chat
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"
