"""The widget's status line tells the truth about the model behind it."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .widget_support import ShopchatServer, Widget, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server_without_model(tmp_path: Path) -> Iterator[ShopchatServer]:
    """A server whose OpenAI-compatible model is configured but not running."""
    instance = ShopchatServer(
        workdir=tmp_path / "server",
        extra_env={
            "SHOPCHAT_LLM_BACKEND": "openai",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "SHOPCHAT_LLM_MAX_RETRIES": "0",
            "SHOPCHAT_LLM_TOKENIZER": "o200k_base",
        },
    )
    instance.start()
    yield instance
    instance.stop()


def model_state(server: ShopchatServer) -> str:
    with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
        return str(json.load(response)["model"]["state"])


def test_a_model_that_is_down_shows_replies_may_be_delayed(
    page: Page, server_without_model: ShopchatServer
) -> None:
    deadline = time.monotonic() + 20
    while model_state(server_without_model) != "unreachable" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert model_state(server_without_model) == "unreachable"
    widget = Widget(page, server_without_model)
    widget.goto_demo()
    widget.open()
    status = page.locator(".sc-status-text")
    expect(status).to_have_text("Online · replies may be delayed")
    expect(page.locator(".sc-root")).to_have_attribute("data-model", "degraded")


def test_a_model_that_answers_shows_online(widget: Widget) -> None:
    widget.open()
    expect(widget.page.locator(".sc-status-text")).to_have_text("Online · replies instantly")
