"""The widget on the demo storefront: streaming, product cards, history, keyboard use, stop and feedback."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect

from .widget_support import Widget, eventually, record_text_states, recorded_states

pytestmark = pytest.mark.browser


def test_answer_streams_in_token_by_token_and_finishes(widget: Widget) -> None:
    widget.open()
    record_text_states(widget.page, ".sc-msg--bot[data-reply-to] .sc-bubble")

    widget.send("How long does delivery take?")

    answer = widget.answers.first
    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    final = answer.locator(".sc-bubble").inner_text()
    states = [s for s in recorded_states(widget.page) if s.strip()]
    # Growing prefixes of the final answer, painted one after the other: the answer was streamed.
    assert len(states) >= 3, states
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(states)), states
    assert states[-1].split() == final.split()
    assert widget.stop_button.is_hidden()
    expect(answer.locator(".sc-thumb")).to_have_count(2)


def test_typing_indicator_shows_before_the_first_token(widget: Widget) -> None:
    widget.open()
    widget.page.evaluate(
        """() => {
            const root = document.querySelector('shopchat-widget').shadowRoot;
            window.__typingSeen = false;
            new MutationObserver(() => {
              if (root.querySelector('.sc-msg--bot .sc-typing')) window.__typingSeen = true;
            }).observe(root, {subtree: true, childList: true});
        }"""
    )
    widget.send("What is your return policy?")
    widget.wait_done(1)
    assert widget.page.evaluate("() => window.__typingSeen") is True
    expect(widget.page.locator(".sc-typing")).to_have_count(0)


def test_recommendations_show_product_cards_with_prices(widget: Widget) -> None:
    customer = widget.pick_customer()
    widget.open()
    widget.send("recommend me something")

    widget.wait_done(1)
    cards = widget.page.locator(".sc-card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 1
    for i in range(cards.count()):
        card = cards.nth(i)
        assert card.locator(".sc-card-name").inner_text().strip()
        # GBP through Intl.NumberFormat: "£12.75"
        expect(card.locator(".sc-card-price")).to_have_text(re.compile(r"^£\d[\d,]*\.\d\d$"))
        assert card.locator(".sc-card-reason").inner_text().strip()
    assert widget.stored()["conv"]["customerId"] == customer


def test_quick_reply_sends_a_follow_up_message(widget: Widget) -> None:
    widget.pick_customer()
    widget.open()
    widget.send("recommend me something")
    widget.wait_done(1)

    widget.page.get_by_role("button", name="Cheaper").click()

    expect(widget.user_messages).to_have_count(2)
    expect(widget.user_messages.nth(1)).to_contain_text("cheaper")
    widget.wait_done(2)
    messages = widget.server_conversation()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert "cheaper" in messages[2]["text"]


def test_history_is_restored_after_a_reload(widget: Widget) -> None:
    widget.open()
    widget.send("How long does delivery take?")
    widget.wait_done(1)
    answer_before = widget.done_answers.first.locator(".sc-bubble").inner_text()
    conversation_before = widget.stored()["conv"]["id"]

    widget.page.reload()
    widget.page.wait_for_function("() => !!window.ShopChat")
    widget.open()

    widget.wait_done(1)
    expect(widget.user_messages).to_have_count(1)
    expect(widget.user_messages.first).to_contain_text("How long does delivery take?")
    assert widget.done_answers.first.locator(".sc-bubble").inner_text() == answer_before
    assert widget.stored()["conv"]["id"] == conversation_before


def test_choosing_another_customer_starts_a_new_conversation(widget: Widget) -> None:
    widget.open()
    widget.send("Hello there")
    widget.wait_done(1)
    first_conversation = widget.stored()["conv"]["id"]

    customer = widget.pick_customer()

    expect(widget.user_messages).to_have_count(0)
    widget.open()
    widget.send("recommend me something")
    widget.wait_done(1)
    stored = widget.stored()
    assert stored["conv"]["id"] != first_conversation
    assert stored["conv"]["customerId"] == customer


def test_keyboard_only_open_type_send_and_close_with_escape(widget: Widget) -> None:
    page = widget.page
    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()

    page.keyboard.type("First line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert widget.input.input_value() == "First line\nsecond line"
    page.keyboard.press("Enter")
    widget.wait_done(1)
    expect(widget.user_messages.first.locator(".sc-bubble")).to_have_text("First line\nsecond line")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_focus_is_trapped_in_the_open_panel(widget: Widget) -> None:
    widget.open()
    page = widget.page
    for _ in range(12):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            """() => {
                const root = document.querySelector('shopchat-widget').shadowRoot;
                return !!root.activeElement && !!root.activeElement.closest('.sc-panel');
            }"""
        )
        assert inside
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        # Focus stays in the widget (its host element is the page's active element).
        assert page.evaluate("() => document.activeElement.tagName") == "SHOPCHAT-WIDGET"


def test_dialog_has_accessible_roles(widget: Widget) -> None:
    widget.open()
    expect(widget.page.get_by_role("dialog", name="Hollybrook Gifts")).to_be_visible()
    expect(widget.page.get_by_role("log")).to_be_visible()
    assert widget.page.locator(".sc-panel [aria-live=polite]").count() >= 1
    expect(widget.page.get_by_role("textbox", name="Your message")).to_be_visible()


def test_reduced_motion_turns_animations_off(widget: Widget) -> None:
    widget.page.emulate_media(reduced_motion="reduce")
    widget.open()
    durations = widget.panel.evaluate(
        "(el) => [getComputedStyle(el).animationDuration, getComputedStyle(el).transitionDuration]"
    )
    assert all(float(d.rstrip("s")) < 0.01 for d in durations), durations


def test_stop_button_ends_a_streaming_answer(widget: Widget) -> None:
    widget.open()
    widget.send("What is your return policy?")
    answer = widget.answers.first
    expect(answer).to_have_attribute("data-state", "streaming", timeout=15_000)
    expect(widget.stop_button).to_be_visible()

    widget.stop_button.click()

    expect(answer).to_have_attribute("data-state", "done", timeout=15_000)
    expect(answer.locator(".sc-note")).to_have_text("You stopped this answer.")
    expect(widget.send_button).to_be_visible()
    stored = widget.server_conversation()["messages"][-1]
    assert stored["role"] == "assistant"
    assert stored["status"] == "stopped"
    # The partial answer on screen is exactly what the server kept.
    assert answer.locator(".sc-bubble").text_content() == widget.rendered(stored["text"])
    assert stored["text"]  # stopped after the first words, not before


def test_thumbs_down_is_stored_with_the_message(widget: Widget) -> None:
    widget.open()
    widget.send("How long does delivery take?")
    widget.wait_done(1)
    answer = widget.done_answers.first

    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".sc-feedback-note")).to_have_text("Thanks for your feedback!")
    answer.get_by_role("textbox", name="Tell us more").fill("Too vague")
    answer.get_by_role("button", name="Send feedback").click()

    def stored_feedback() -> tuple[object, object]:
        reply = widget.server_conversation()["messages"][-1]
        return reply["feedback_rating"], reply["feedback_comment"]

    assert eventually(stored_feedback, lambda value: value == (-1, "Too vague")) == (-1, "Too vague")


def test_too_long_message_is_stopped_in_the_input(widget: Widget) -> None:
    widget.open()
    widget.input.fill("x" * 2001)
    expect(widget.page.locator(".sc-counter")).to_contain_text("2001 / 2000")
    expect(widget.page.locator(".sc-counter")).to_contain_text("1 characters too long")
    expect(widget.input).to_have_attribute("aria-invalid", "true")
    expect(widget.send_button).to_be_disabled()

    widget.input.press("Enter")

    expect(widget.user_messages).to_have_count(0)
    assert widget.input.input_value() == "x" * 2001
    widget.input.press("Backspace")
    expect(widget.send_button).to_be_enabled()
