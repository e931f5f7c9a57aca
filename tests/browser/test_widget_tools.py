"""The widget shows the assistant's tool calls as status lines with their outcome, as text, never as markup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from app.llm.model import ToolCall
from app.settings import Settings
from app.web.application import create_app
from tests.fakes import FakeTools, FixedRecommender, ScriptedModel
from tests.liveserver import LiveServer

from .widget_support import Widget

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class Served:
    url: str


@pytest.fixture
def tool_widget(page: Page, settings: Settings) -> Iterator[Widget]:
    model = ScriptedModel(
        turns=[
            ["Let me check.", ToolCall("call_1", "get_order_details", '{"order_id": "536365"}')],
            ["Still looking.", ToolCall("call_2", "get_order_details", json.dumps({"order_id": HOSTILE}))],
            ["It shipped on Monday."],
        ],
        delay_s=0.02,
    )
    # The widget's page is served by this server: its origin (known once it has a port) may open the websocket.
    origins: list[str] = []
    configured = settings.model_copy(update={"allowed_origins": origins})
    server = LiveServer(
        create_app(configured, model=model, recommender=FixedRecommender(), tools=FakeTools())
    )
    origins.append(f"http://127.0.0.1:{server.port}")
    server.start()
    try:
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.wait_for_function("() => !!window.ShopChat")
        yield Widget(page, Served(f"http://127.0.0.1:{server.port}"))  # type: ignore[arg-type]
    finally:
        server.stop()


def test_a_tool_call_shows_a_status_line_and_its_outcome_as_text(
    tool_widget: Widget, dialogs: list[str]
) -> None:
    tool_widget.open()
    tool_widget.send("where is my order 536365?")
    tool_widget.wait_done(1)
    lines = tool_widget.page.locator(".sc-msg--bot .sc-tool")
    expect(lines).to_have_count(2)
    expect(lines.nth(0).locator(".sc-tool-text")).to_have_text("Looking up order 536365…")
    expect(lines.nth(0)).to_have_class("sc-tool sc-tool--ok")
    expect(lines.nth(0).locator(".sc-tool-outcome")).to_contain_text("Found order")
    expect(lines.nth(1).locator(".sc-tool-text")).to_have_text(f"Looking up order {HOSTILE}…")
    assert tool_widget.page.locator(".sc-msg--bot img").count() == 0
    assert dialogs == []
    expect(tool_widget.answers.first.locator(".sc-bubble")).to_contain_text("It shipped on Monday.")
