"""Helpers for the browser tests: a real shopchat server in a subprocess and a page object for the widget."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from playwright.sync_api import Locator, Page, expect

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ShopchatServer:
    """``uvicorn app.web.application:create_app`` on a fixed port and database, which can be killed and restarted."""

    workdir: Path
    stream_delay_ms: int = 40
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPCHAT_", "OPENAI_"))}
        env.update(
            {
                "SHOPCHAT_PORT": str(self.port),
                # Same database and secret across restarts: conversations and tokens survive a kill -9.
                "SHOPCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{(self.workdir / 'shopchat.db').resolve()}",
                "SHOPCHAT_DATA_DIR": str(self.workdir / "data"),
                "SHOPCHAT_SECRET_KEY": "browser-tests-secret-key-0123456789",
                "SHOPCHAT_LLM_BACKEND": "local",
                "SHOPCHAT_LOCAL_STREAM_DELAY_MS": str(self.stream_delay_ms),
                "SHOPCHAT_ALLOWED_ORIGINS": f"http://127.0.0.1:{self.port},http://localhost:{self.port}",
                "SHOPCHAT_RATE_LIMIT_PER_MINUTE": "600",
                # The storefront's customer picker lists and switches demo customers without signatures.
                "SHOPCHAT_DEMO_MODE": "true",
                "SHOPCHAT_LOG_LEVEL": "warning",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until ``/healthz`` answers."""
        assert self.process is None or self.process.poll() is not None, "server already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.web.application:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=PROJECT_ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"shopchat exited with {self.process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"shopchat did not become healthy in {timeout_s:.0f} s:\n{self.log_tail()}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        """Whether ``/healthz`` answers 200 right now."""
        url = self.url + "/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
        return False

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks, no goodbye frames — like a crashed host."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Graceful stop (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def get_json(self, path: str, token: str | None = None) -> Any:
        request = urllib.request.Request(self.url + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def conversation(self, conversation_id: str, token: str) -> dict[str, Any]:
        """``GET /api/conversations/{id}`` with the conversation's bearer token."""
        return cast(dict[str, Any], self.get_json(f"/api/conversations/{conversation_id}", token))


class Widget:
    """Page object for the chat widget (Playwright CSS selectors pierce its open shadow root)."""

    def __init__(self, page: Page, server: ShopchatServer) -> None:
        self.page = page
        self.server = server

    # ---- locators ----
    @property
    def launcher(self) -> Locator:
        return self.page.locator(".sc-launcher")

    @property
    def panel(self) -> Locator:
        return self.page.locator(".sc-panel")

    @property
    def input(self) -> Locator:
        return self.page.locator(".sc-input")

    @property
    def send_button(self) -> Locator:
        return self.page.locator(".sc-send")

    @property
    def stop_button(self) -> Locator:
        return self.page.locator(".sc-stop")

    @property
    def banner(self) -> Locator:
        return self.page.locator(".sc-banner")

    @property
    def answers(self) -> Locator:
        return self.page.locator(".sc-msg--bot[data-reply-to]")

    @property
    def done_answers(self) -> Locator:
        return self.page.locator('.sc-msg--bot[data-state="done"]')

    @property
    def user_messages(self) -> Locator:
        return self.page.locator(".sc-msg--user")

    def answer_to(self, text: str) -> Locator:
        """The assistant message answering the user message with exactly ``text``."""
        message_id = self.message_id_of(text)
        return self.page.locator(f'.sc-msg--bot[data-reply-to="{message_id}"]')

    def message_id_of(self, text: str) -> str:
        user = self.user_messages.filter(has=self.page.locator(".sc-bubble", has_text=text)).first
        expect(user).to_have_attribute("data-message-id", re.compile(r".+"))
        message_id = user.get_attribute("data-message-id")
        assert message_id
        return message_id

    # ---- actions ----
    def goto_demo(self) -> None:
        self.page.goto(self.server.url + "/")
        self.page.wait_for_function("() => !!window.ShopChat")

    def pick_customer(self, index: int = 1) -> str:
        """Choose a customer in the storefront's "Shopping as" picker (index 0 is Guest); returns the id."""
        picker = self.page.locator("#customer-picker")
        expect(picker.locator("option").nth(index)).to_be_attached()
        value = picker.locator("option").nth(index).get_attribute("value")
        assert value
        picker.select_option(value)
        return value

    def open(self) -> None:
        if self.panel.is_hidden():
            self.launcher.click()
            expect(self.input).to_be_focused()
        # (After a reload the panel is restored open, without taking the page's focus.)
        expect(self.panel).to_be_visible()

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def wait_done(self, count: int, timeout_ms: float = 30_000) -> None:
        expect(self.done_answers).to_have_count(count, timeout=timeout_ms)

    def stored(self) -> dict[str, Any]:
        """What the widget keeps in localStorage for this server."""
        raw = self.page.evaluate("key => localStorage.getItem(key)", f"shopchat:v1:{self.server.url}")
        assert raw, "the widget stored nothing"
        return cast(dict[str, Any], json.loads(raw))

    def rendered(self, markdown: str) -> str:
        """The text the widget's own renderer makes of ``markdown`` (to compare stored answers with the screen)."""
        return str(
            self.page.evaluate(
                """(md) => {
                    const box = document.createElement('div');
                    box.append(window.ShopChat._renderMarkdown(md));
                    return box.textContent;
                }""",
                markdown,
            )
        )

    def server_conversation(self) -> dict[str, Any]:
        stored = self.stored()
        return self.server.conversation(stored["conv"]["id"], stored["conv"]["token"])


def record_text_states(page: Page, selector: str) -> None:
    """Record every distinct textContent of the first element in the widget matching ``selector``."""
    page.evaluate(
        """(selector) => {
            const root = document.querySelector('shopchat-widget').shadowRoot;
            window.__states = [];
            const seen = () => {
              const node = root.querySelector(selector);
              const text = node ? node.textContent : null;
              if (text && window.__states[window.__states.length - 1] !== text) window.__states.push(text);
            };
            new MutationObserver(seen).observe(root, {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )


def recorded_states(page: Page) -> list[str]:
    return cast(list[str], page.evaluate("() => window.__states"))


def eventually(probe: Callable[[], T], ok: Callable[[T], bool], timeout_s: float = 10.0) -> T:
    """Call ``probe`` until ``ok(result)`` (or the timeout), and return the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
