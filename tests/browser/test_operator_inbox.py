"""A customer in the widget and an operator in the inbox, two browser contexts, the whole round trip: the
customer asks for a person, the operator sees them waiting, takes over, writes, and hands back."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import reset_database

from .widget_support import PROJECT_ROOT, ShopchatServer, Widget

pytestmark = pytest.mark.browser

_NAMES = itertools.count(1)
HOSTILE = 'Hello from Anna <img src=x onerror="alert(1)">'


@pytest.fixture
def server(request: pytest.FixtureRequest, shared_server: ShopchatServer) -> Iterator[ShopchatServer]:
    """The shared (SQLite) server, or with ``indirect`` "postgres" a server of its own on PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        if not shared_server.running():
            shared_server.start()
        yield shared_server
        return
    url = request.getfixturevalue("postgres_url")
    worker = threading.Thread(target=asyncio.run, args=(reset_database(url),))
    worker.start()
    worker.join()
    workdir = request.getfixturevalue("tmp_path") / "postgres-server"
    instance = ShopchatServer(workdir=workdir, stream_delay_ms=40, extra_env={"SHOPCHAT_DATABASE_URL": url})
    instance.start()
    yield instance
    instance.stop()


def add_operator(server: ShopchatServer, name: str) -> str:
    """Create an operator in the server's database with the CLI; their one-time password."""
    done = subprocess.run(
        [sys.executable, "-m", "app", "operator", "add", name],
        cwd=PROJECT_ROOT,
        env=server.env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = re.search(rf"one-time password for {name}: (\S+)", done.stdout)
    assert found, done.stdout
    return found.group(1)


@pytest.fixture
def inbox(browser: Browser, server: ShopchatServer) -> Iterator[Page]:
    """The operator's inbox, signed in, in its own browser context (its own cookies)."""
    # One server serves the whole run: each test signs in as a new operator (names are unique).
    name = f"anna{next(_NAMES)}-{server.port}"
    password = add_operator(server, name)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/operator")
    page.locator("#login-name").fill(name)
    page.locator("#login-password").fill(password)
    page.locator("#login-password").press("Enter")
    expect(page.locator("#connection")).to_have_text("Online", timeout=10_000)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert errors == [], errors


@pytest.mark.parametrize("server", ["sqlite", "postgres"], indirect=True)
def test_a_customer_and_an_operator_talk_through_a_handoff(
    widget: Widget, inbox: Page, dialogs: list[str]
) -> None:
    widget.open()
    widget.send("Can I speak to a human, please?")
    expect(widget.page.locator('.sc-handoff[data-status="waiting"]')).to_be_visible(timeout=15_000)
    expect(widget.page.locator(".sc-handoff-bar")).to_contain_text("Waiting for a person")
    expect(widget.done_answers).to_have_count(0)

    waiting = inbox.locator('.op-queue-item[data-state="waiting"]').first
    expect(waiting).to_contain_text("Can I speak to a human, please?")
    expect(inbox).to_have_title(re.compile(r"^\(\d+\) "))
    waiting.click()
    expect(inbox.locator("#transcript")).to_contain_text("Can I speak to a human, please?")
    inbox.locator("#take").click()

    expect(widget.page.locator('.sc-handoff[data-status="joined"]')).to_contain_text("joined the chat.")
    expect(widget.page.locator(".sc-handoff-bar")).to_contain_text("You are chatting with Anna")

    expect(inbox.locator("#reply-text")).to_be_enabled()
    inbox.locator("#reply-text").fill(HOSTILE)
    inbox.locator("#reply-text").press("Enter")
    agent = widget.page.locator(".sc-msg--agent .sc-bubble").last
    expect(agent).to_have_text(HOSTILE)
    expect(widget.page.locator(".sc-msg--agent img")).to_have_count(0)

    widget.send("Thanks, that helps")
    expect(inbox.locator("#transcript")).to_contain_text("Thanks, that helps")
    expect(widget.done_answers).to_have_count(0)  # the assistant stayed quiet

    inbox.locator("#release").click()
    expect(widget.page.locator('.sc-handoff[data-status="returned"]')).to_be_visible()
    expect(widget.page.locator(".sc-handoff-bar")).to_be_hidden()
    widget.send("How long does delivery take?")
    widget.wait_done(1)
    expect(inbox.locator("#transcript .op-line--bot").last).not_to_be_empty()
    assert dialogs == []


def test_the_inbox_fits_a_narrow_phone(inbox: Page) -> None:
    inbox.set_viewport_size({"width": 360, "height": 740})
    expect(inbox.locator(".op-queue")).to_be_visible()
    assert inbox.evaluate("() => document.documentElement.scrollWidth") <= 360
    inbox.locator("#logout").focus()
    inbox.keyboard.press("Enter")
    expect(inbox.locator("#login-form")).to_be_visible()


def test_with_nobody_online_the_customer_leaves_an_email(widget: Widget) -> None:
    widget.open()
    widget.send("I want to talk to a person")
    note = widget.page.locator('.sc-handoff[data-status="unavailable"]').first
    expect(note).to_contain_text("Nobody from the team is available", timeout=15_000)
    email = note.locator(".sc-ticket-input")
    email.fill("not an email")
    email.press("Enter")
    expect(note.locator(".sc-ticket-hint")).to_have_text("Please enter a valid email address.")
    email.fill("ann@example.com")
    email.press("Enter")
    expect(widget.page.locator('.sc-handoff[data-status="unavailable"]').last).to_contain_text(
        "The team will write to you at ann@example.com."
    )
    expect(widget.page.locator(".sc-ticket")).to_have_count(0)
    widget.wait_done(1)  # the assistant still answered the message
