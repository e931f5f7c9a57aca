"""How the widget looks: screenshots for people (artifacts + README) and the phone layout's geometry."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .widget_support import SCREENSHOTS, ShopchatServer, Widget

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A 360×740 phone screen (touch, device pixel ratio 2)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    yield context.new_page()
    context.close()


def converse(widget: Widget) -> None:
    """A short conversation with product cards, as on the README screenshots."""
    widget.pick_customer()
    widget.open()
    widget.send("recommend me something")
    widget.wait_done(1)
    # Show the question with its answer and cards (the widget itself sticks to the newest message).
    widget.page.locator(".sc-log").evaluate(
        """(log) => {
            const question = log.querySelector('.sc-msg--user');
            log.scrollTop += question.getBoundingClientRect().top - log.getBoundingClientRect().top - 12;
        }"""
    )
    widget.page.wait_for_timeout(300)  # animations settle


def save(page: Page, artifacts_dir: Path, name: str, readme: bool = True) -> Path:
    """Screenshot to the test artifacts; with SHOPCHAT_UPDATE_SCREENSHOTS=1 the README's go to docs/screenshots/."""
    path = artifacts_dir / f"{name}.png"
    page.screenshot(path=str(path))
    # Test runs must not rewrite tracked files; `make screenshots` refreshes the README's copies on purpose.
    if readme and os.environ.get("SHOPCHAT_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path


def test_desktop_screenshot(widget: Widget, artifacts_dir: Path) -> None:
    converse(widget)
    box = widget.panel.bounding_box()
    assert box is not None
    # A floating panel in the bottom-right corner, above the launcher.
    assert box["width"] == 400
    assert box["x"] + box["width"] <= 1280 - 16
    path = save(widget.page, artifacts_dir, "widget-desktop")
    assert path.stat().st_size > 10_000


def test_phone_panel_is_full_screen(phone: Page, server: ShopchatServer, artifacts_dir: Path) -> None:
    widget = Widget(phone, server)
    widget.goto_demo()
    expect(widget.launcher).to_be_visible()
    launcher = widget.launcher.bounding_box()
    assert launcher is not None
    assert launcher["x"] + launcher["width"] <= 360
    save(phone, artifacts_dir, "widget-mobile-closed", readme=False)

    converse(widget)

    assert widget.panel.bounding_box() == {"x": 0, "y": 0, "width": 360, "height": 740}
    expect(widget.launcher).to_be_hidden()  # the panel's own close button takes over
    overflow = phone.locator(".sc-log").evaluate("(el) => el.scrollWidth - el.clientWidth")
    assert overflow == 0, "nothing may scroll sideways on a phone"
    path = save(phone, artifacts_dir, "widget-mobile")
    assert path.stat().st_size > 10_000
