"""The widget's status line follows ``GET /readyz`` while it is open, and stops asking when it is not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route, expect

from .widget_support import ShopchatServer, Widget

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNREADY = {
    "status": "unready",
    "components": {"database": "down: OSError", "model": "ok"},
    "down": ["database"],
}


class Readyz:
    """Every ``/readyz`` request of the page: answered 503 while ``unready``, else by the real server."""

    def __init__(self, page: Page) -> None:
        self.unready = False
        self.asked = 0
        page.route("**/readyz", self._handle)

    def _handle(self, route: Route) -> None:
        self.asked += 1
        if self.unready:
            route.fulfill(status=503, content_type="application/json", body=json.dumps(UNREADY))
        else:
            route.continue_()


@pytest.fixture
def readyz(page: Page, server: ShopchatServer, page_errors: list[str]) -> Iterator[tuple[Widget, Readyz]]:
    """The demo storefront on a clock the test moves (the widget's timers), with ``/readyz`` intercepted."""
    page.clock.install()
    probe = Readyz(page)
    widget = Widget(page, server)
    widget.goto_demo()
    yield widget, probe
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"


def test_an_unready_server_shows_degraded_until_it_is_ready_again(readyz: tuple[Widget, Readyz]) -> None:
    widget, probe = readyz
    probe.unready = True
    widget.open()
    status, root = widget.page.locator(".sc-status-text"), widget.page.locator(".sc-root")
    expect(status).to_have_text("Online · replies may be delayed")
    expect(root).to_have_attribute("data-ready", "degraded")
    expect(root).to_have_attribute("data-model", "ok")
    probe.unready = False
    # Not ready is asked again within 5 s.
    widget.page.clock.fast_forward(5_000)
    expect(status).to_have_text("Online · replies instantly")
    expect(root).to_have_attribute("data-ready", "ok")
    assert probe.asked == 2


def test_readiness_is_asked_only_while_the_panel_is_open_and_the_page_visible(
    readyz: tuple[Widget, Readyz],
) -> None:
    widget, probe = readyz
    page = widget.page
    page.clock.fast_forward(120_000)
    assert probe.asked == 0  # never opened
    widget.open()
    expect(page.locator(".sc-root")).to_have_attribute("data-ready", "ok")
    assert probe.asked == 1
    # While ready, it is asked again within 30 s.
    page.clock.fast_forward(30_000)
    page.wait_for_timeout(300)
    assert probe.asked == 2
    page.locator(".sc-close").click()
    page.clock.fast_forward(120_000)
    page.wait_for_timeout(300)
    assert probe.asked == 2
    widget.open()
    page.wait_for_timeout(300)
    assert probe.asked == 3
    # A hidden page is not asked; shown again, it is asked at once.
    page.evaluate(
        """() => {
            Object.defineProperty(document, 'hidden', {value: true, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    page.clock.fast_forward(120_000)
    page.wait_for_timeout(300)
    assert probe.asked == 3
    page.evaluate(
        """() => {
            Object.defineProperty(document, 'hidden', {value: false, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    page.wait_for_timeout(300)
    assert probe.asked == 4
