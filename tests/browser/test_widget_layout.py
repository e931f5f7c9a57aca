"""Where the widget puts things: the newest answer in view, a feedback box that fits, links only to the shop,
and the shop's own greeting."""

from __future__ import annotations

from typing import Any, cast

import pytest
from playwright.sync_api import Browser, Page, expect

from .widget_support import ShopchatServer, Widget

pytestmark = pytest.mark.browser


def log_position(page: Page) -> dict[str, Any]:
    """How far the log is from its end, and whether the last card lies inside the log's visible box."""
    return cast(
        dict[str, Any],
        page.locator(".sc-log").evaluate(
            """(log) => {
                const box = log.getBoundingClientRect();
                const cards = log.querySelectorAll('.sc-card');
                const last = cards.length ? cards[cards.length - 1].getBoundingClientRect() : null;
                return {
                  gap: log.scrollHeight - log.scrollTop - log.clientHeight,
                  top: log.scrollTop,
                  scrollable: log.scrollHeight > log.clientHeight + 200,
                  cards: cards.length,
                  lastCardVisible: !!last && last.top >= box.top - 1 && last.bottom <= box.bottom + 1,
                };
            }"""
        ),
    )


def fill_the_log(widget: Widget) -> None:
    """Two long answers, so the conversation is taller than the panel."""
    widget.pick_customer()
    widget.open()
    for n, question in enumerate(["What is your return policy?", "How much is delivery?"], start=1):
        widget.send(question)
        widget.wait_done(n)


def test_a_long_answer_with_cards_ends_scrolled_to_the_bottom(widget: Widget) -> None:
    fill_the_log(widget)
    widget.send("recommend me something")
    widget.wait_done(3)
    widget.page.wait_for_timeout(300)

    position = log_position(widget.page)
    assert position["scrollable"], (
        "the conversation must be taller than the panel for this test to mean anything"
    )
    assert position["cards"] >= 1
    assert position["gap"] <= 2, position
    assert position["lastCardVisible"], position


def test_a_customer_reading_history_is_not_pulled_down(widget: Widget) -> None:
    fill_the_log(widget)
    widget.send("What is your return policy?")
    expect(widget.answers.nth(2)).to_have_attribute("data-state", "streaming", timeout=15_000)
    widget.page.locator(".sc-log").evaluate("(log) => { log.scrollTop = 0; }")  # as a wheel would
    widget.wait_done(3)
    widget.page.wait_for_timeout(300)

    assert log_position(widget.page)["top"] == 0
    # Sending a message is reading the end again.
    widget.send("How much is delivery?")
    widget.wait_done(4)
    assert log_position(widget.page)["gap"] <= 2


PLACEHOLDER_FIT = """(input) => {
    const style = getComputedStyle(input);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {text: input.placeholder, width: context.measureText(input.placeholder).width, room, font: context.font};
}"""


# The demo page says <html lang="en">; the widget reads the page's language, so this makes it German.
GERMAN_PAGE = """new MutationObserver((_, observer) => {
    if (document.documentElement) { document.documentElement.lang = 'de'; observer.disconnect(); }
}).observe(document, {childList: true});"""


@pytest.mark.parametrize(
    ("width", "lang"), [(1280, "en"), (360, "en"), (320, "en"), (1280, "de"), (360, "de"), (320, "de")]
)
def test_the_feedback_placeholder_is_fully_visible(
    browser: Browser, server: ShopchatServer, width: int, lang: str
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 740}, locale="en-GB")
    page = context.new_page()
    try:
        if lang == "de":
            page.add_init_script(GERMAN_PAGE)
        widget = Widget(page, server)
        widget.goto_demo()
        widget.open()
        widget.send("How much is delivery?")
        widget.wait_done(1)
        answer = widget.done_answers.first
        answer.locator('.sc-thumb[data-rating="-1"]').click()
        # Saved: the feedback row is drawn again then, with a new input (measure that one).
        expect(answer.locator(".sc-feedback-note")).to_be_visible()

        fit = cast(dict[str, Any], page.locator(".sc-comment-input").evaluate(PLACEHOLDER_FIT))
        assert fit["text"].endswith("(optional)")
        assert fit["width"] <= fit["room"], fit
    finally:
        context.close()


def rendered_links(widget: Widget, markdown: str) -> list[dict[str, str]]:
    widget.page.wait_for_function(
        "() => document.querySelector('shopchat-widget').shadowRoot"
        ".querySelector('.sc-root').dataset.shop === 'loaded'"
    )
    return cast(
        list[dict[str, str]],
        widget.page.evaluate(
            """(md) => {
                const box = document.createElement('div');
                box.append(window.ShopChat._renderMarkdown(md));
                return [...box.querySelectorAll('a')].map(a => ({href: a.getAttribute('href'), text: a.textContent}));
            }""",
            markdown,
        ),
    )


def test_only_links_to_the_shops_own_domains_are_clickable(widget: Widget) -> None:
    links = rendered_links(
        widget,
        "[Returns](https://www.hollybrook.example/returns) and https://help.hollybrook.example/faq, "
        "[our server](" + widget.server.url + "/docs) and mailto:help@hollybrook.example — but not "
        "[Refund form](https://hollybrook-refunds.example/claim), https://evil.example/hollybrook.example, "
        "https://hollybrook.example.evil.example/x or mailto:help@evil.example",
    )
    assert [link["href"] for link in links] == [
        "https://www.hollybrook.example/returns",
        "https://help.hollybrook.example/faq",
        widget.server.url + "/docs",
        "mailto:help@hollybrook.example",
    ]


def test_a_foreign_link_in_an_answer_is_shown_as_text(widget: Widget) -> None:
    html = str(
        widget.page.evaluate(
            """() => {
                const box = document.createElement('div');
                box.append(window.ShopChat._renderMarkdown('Claim it at [our refund form](https://evil.example/claim)'));
                return box.innerHTML;
            }"""
        )
    )
    assert html == "<p>Claim it at [our refund form](https://evil.example/claim)</p>"


def test_greeting_and_suggestions_come_from_the_shop(widget: Widget) -> None:
    widget.open()
    greeting = widget.page.locator(".sc-greeting .sc-bubble")
    expect(greeting).to_have_text(
        "Hello! I'm the Hollybrook Gifts assistant. Ask me about orders, delivery or returns — or let me suggest a gift."
    )
    chips = widget.page.locator(".sc-starters .sc-chip")
    expect(chips).to_have_text(
        ["Suggest a gift under £10", "How long does delivery take?", "What is your return policy?"]
    )

    chips.first.click()
    expect(widget.user_messages.first.locator(".sc-bubble")).to_have_text("Suggest a gift under £10")
    widget.wait_done(1)


def test_the_comment_box_under_the_newest_answer_is_in_view_and_keeps_what_is_typed(widget: Widget) -> None:
    fill_the_log(widget)
    answer = widget.done_answers.last
    answer.locator('.sc-thumb[data-rating="-1"]').click()
    # Typed straight away: the box is drawn again when the feedback is saved, and must keep text and focus.
    widget.page.keyboard.type("Too vague")
    expect(answer.locator(".sc-feedback-note")).to_be_visible()
    widget.page.keyboard.type(", sorry")

    expect(answer.locator(".sc-comment-input")).to_have_value("Too vague, sorry")
    inside = widget.page.locator(".sc-log").evaluate(
        """(log) => {
            const box = log.getBoundingClientRect();
            const button = log.querySelector('.sc-comment button').getBoundingClientRect();
            return button.top >= box.top && button.bottom <= box.bottom + 1;
        }"""
    )
    assert inside, "the comment's send button is below the fold"
