"""Never lose a message: the server is killed (``kill -9``) and restarted under the widget."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .widget_support import Widget, record_text_states, recorded_states

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_answer_interrupted_by_a_crash_completes_exactly_once(widget: Widget) -> None:
    page = widget.page
    widget.open()
    record_text_states(page, ".sc-msg--bot[data-reply-to] .sc-bubble")
    widget.send("What is your return policy?")
    answer = widget.answers.first
    expect(answer).to_have_attribute("data-state", "streaming", timeout=15_000)
    page.wait_for_function("() => (window.__states || []).length >= 3")

    widget.server.kill()

    expect(widget.banner).to_be_visible()
    expect(widget.banner).to_contain_text("Reconnecting")
    expect(page.locator(".sc-status-text")).to_have_text("Reconnecting…")
    assert answer.get_attribute("data-state") == "streaming"  # partial answer kept on screen meanwhile

    widget.server.start()

    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    expect(widget.banner).to_be_hidden()
    expect(widget.answers).to_have_count(1)
    expect(widget.user_messages).to_have_count(1)
    messages = widget.server_conversation()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [("user", "done"), ("assistant", "done")]
    stored_answer = messages[1]["text"]
    on_screen = answer.locator(".sc-bubble").text_content() or ""
    assert on_screen == widget.rendered(stored_answer)
    # Exactly once: the final text does not contain the (restarted) answer twice.
    assert on_screen.count(on_screen[:40]) == 1
    assert recorded_states(page)[-1] == on_screen


def test_message_typed_while_the_server_is_down_is_delivered_once(widget: Widget) -> None:
    widget.open()
    widget.send("Hello")
    widget.wait_done(1)

    widget.server.kill()
    expect(widget.banner).to_contain_text("Reconnecting")
    widget.send("Do you ship to Germany?")

    pending = widget.user_messages.nth(1)
    expect(pending).to_have_attribute("data-state", "pending")
    expect(pending.locator(".sc-meta")).to_contain_text("Waiting for connection")
    outbox = widget.stored()["outbox"]
    assert [item["text"] for item in outbox] == ["Do you ship to Germany?"]

    widget.server.start()

    expect(pending).to_have_attribute("data-state", "sent", timeout=30_000)
    widget.wait_done(2)
    expect(widget.user_messages).to_have_count(2)
    assert widget.stored()["outbox"] == []
    texts = [m["text"] for m in widget.server_conversation()["messages"] if m["role"] == "user"]
    assert texts == ["Hello", "Do you ship to Germany?"]


def test_outbox_survives_a_reload_and_is_sent_once(widget: Widget) -> None:
    # A message queued in localStorage (e.g. typed just before the tab was closed while offline) is sent on
    # the next visit — and sending it twice with the same id stores it once.
    widget.open()
    widget.send("Hello")
    widget.wait_done(1)
    stored = widget.stored()
    message = {"id": "w-test-outbox-1", "text": "Is gift wrapping available?"}
    stored["outbox"] = [message, message]
    widget.page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [f"shopchat:v1:{widget.server.url}", json.dumps(stored)],
    )

    widget.page.reload()
    widget.open()

    widget.wait_done(2)
    expect(widget.user_messages).to_have_count(2)
    texts = [m["text"] for m in widget.server_conversation()["messages"] if m["role"] == "user"]
    assert texts == ["Hello", "Is gift wrapping available?"]
