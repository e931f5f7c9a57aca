"""The widget asks the customer to confirm a change (cancel an order) and sends their answer, on the demo shop
with the built-in responder; a reload shows the same answered question."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from playwright.sync_api import Locator, expect

from .widget_support import ShopchatServer, Widget

pytestmark = pytest.mark.browser

# Demo customers whose newest order is pending (app/orders/demo.py derives them from the purchase history).
CONFIRMING = ("12349", "1234901")
DECLINING = ("12350", "1235001")
SUPERSEDED = ("12357", "1235701")
EXPIRING = ("12361", "1236101")


def order_status(server: ShopchatServer, order_id: str) -> str | None:
    """The order's status in the server's database (None: never looked up, so never stored)."""
    with closing(sqlite3.connect(server.workdir / "shopchat.db")) as db:
        row = db.execute("SELECT status FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return None if row is None else str(row[0])


def ask_to_cancel(widget: Widget, customer: str, order_id: str) -> Locator:
    # What the storefront's "Shopping as" picker does (its list shows only the 20 longest histories).
    widget.page.evaluate(
        "id => { localStorage.setItem('hollybrook:customer', id); window.ShopChat.setCustomer(id); }",
        customer,
    )
    widget.open()
    widget.send(f"Please cancel my order {order_id}")
    widget.wait_done(1)
    box = widget.page.locator(".sc-confirm")
    expect(box).to_have_count(1)
    expect(box).to_have_attribute("data-state", "open")
    expect(box.locator(".sc-confirm-summary")).to_contain_text(f"Cancel order {order_id}")
    return widget.page.locator(f'.sc-confirm[data-action-id="{box.get_attribute("data-action-id")}"]')


def test_confirm_sends_the_answer_and_the_order_is_cancelled(widget: Widget) -> None:
    customer, order_id = CONFIRMING
    box = ask_to_cancel(widget, customer, order_id)
    assert order_status(widget.server, order_id) == "pending"

    box.locator(".sc-confirm-yes").click()

    widget.wait_done(2)
    expect(widget.done_answers.nth(1).locator(".sc-bubble")).to_contain_text(f"order {order_id} is cancelled")
    expect(box).to_have_attribute("data-state", "confirmed")
    expect(box.locator("button")).to_have_count(2)
    for button in box.locator("button").all():
        expect(button).to_be_disabled()
    assert order_status(widget.server, order_id) == "cancelled"
    expect(widget.user_messages.nth(1)).to_contain_text("Yes, go ahead.")


def test_cancel_by_keyboard_leaves_the_order_unchanged_and_a_reload_shows_it_answered(widget: Widget) -> None:
    customer, order_id = DECLINING
    box = ask_to_cancel(widget, customer, order_id)

    box.locator(".sc-confirm-no").focus()
    widget.page.keyboard.press("Enter")

    widget.wait_done(2)
    expect(box).to_have_attribute("data-state", "declined")
    expect(box.locator(".sc-confirm-no")).to_be_disabled()
    assert order_status(widget.server, order_id) == "pending"

    widget.page.reload()
    widget.page.wait_for_function("() => !!window.ShopChat")
    widget.open()
    widget.wait_done(2)
    replayed = widget.page.locator(".sc-confirm")
    expect(replayed).to_have_count(1)
    expect(replayed).to_have_attribute("data-state", "declined")
    expect(replayed.locator(".sc-confirm-summary")).to_contain_text(f"Cancel order {order_id}")
    expect(replayed.locator(".sc-confirm-yes")).to_be_disabled()
    assert order_status(widget.server, order_id) == "pending"


CAPTURE_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (url, protocols) {
    const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.__sockets.push(socket);
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def test_a_newer_question_closes_the_older_one_and_a_stale_answer_shows_a_note(widget: Widget) -> None:
    customer, order_id = SUPERSEDED
    widget.page.add_init_script(CAPTURE_SOCKETS)
    widget.goto_demo()
    first = ask_to_cancel(widget, customer, order_id)
    action_id = first.get_attribute("data-action-id")
    assert action_id

    widget.send(f"Change the address of order {order_id} to 5 High Street, Leeds, LS1 4AB")

    widget.wait_done(2)
    expect(widget.page.locator(".sc-confirm")).to_have_count(2)
    expect(first).to_have_attribute("data-state", "closed")
    expect(first.locator(".sc-confirm-yes")).to_be_disabled()
    expect(widget.page.locator(".sc-confirm").nth(1)).to_have_attribute("data-state", "open")
    # Another tab still showing the first question answers it: the server refuses, the widget says why.
    widget.page.evaluate(
        """id => window.__sockets[window.__sockets.length - 1].send(
            JSON.stringify({type: 'confirm', action_id: id, approve: true}))""",
        action_id,
    )
    expect(first.locator(".sc-confirm-note")).to_have_text("This request was already answered or replaced.")
    expect(widget.page.locator(".sc-confirm").nth(1)).to_have_attribute("data-state", "open")
    assert order_status(widget.server, order_id) == "pending"


def test_an_expired_question_disables_its_buttons(widget: Widget) -> None:
    customer, order_id = EXPIRING
    widget.page.clock.install()
    widget.goto_demo()
    box = ask_to_cancel(widget, customer, order_id)

    widget.page.clock.fast_forward("16:00")  # the server's confirmations last 15 minutes

    expect(box).to_have_attribute("data-state", "expired")
    expect(box.locator(".sc-confirm-note")).to_have_text("This request has expired; nothing was changed.")
    expect(box.locator(".sc-confirm-yes")).to_be_disabled()
    expect(box.locator(".sc-confirm-no")).to_be_disabled()
    assert order_status(widget.server, order_id) == "pending"
