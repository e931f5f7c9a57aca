"""Hostile text renders as text; the widget and the host page cannot style each other; one global."""

from __future__ import annotations

from typing import Any, cast

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from .widget_support import ShopchatServer, Widget

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)> [click me](javascript:alert(2)) <script>alert(3)</script>"

# Only these elements may come out of the Markdown renderer.
SAFE_TAGS = {"P", "BR", "UL", "OL", "LI", "STRONG", "EM", "CODE", "A"}

HOSTILE_CSS = """
html { font-size: 40px !important; }
* {
  font-family: "Comic Sans MS", cursive !important; color: red !important; line-height: 3 !important;
  letter-spacing: 3px !important; text-transform: uppercase !important; box-sizing: content-box !important;
  cursor: wait !important;
}
div, button, textarea, p, span, h2, header, form, ul, li, section, aside {
  padding: 30px !important; margin: 20px !important; border: 5px dashed lime !important;
  background: yellow !important; border-radius: 0 !important; width: 50px; box-shadow: none !important;
}
shopchat-widget {
  display: none !important; transform: scale(0.5) !important; opacity: 0 !important;
  position: absolute !important; filter: blur(4px) !important; font-size: 50px !important;
}
:root { --sc-accent: red; --sc-ink: red; --sc-radius: 0; }
.sc-root, .sc-panel, .sc-launcher, .sc-bubble { display: none !important; }
"""

# A host page whose own elements reuse the widget's class names: the widget's CSS must not reach them.
HOST_BODY = """
<h2 class="sc-title">Host heading</h2>
<p class="sc-bubble sc-md">Host paragraph with <a href="https://example.com/">a link</a></p>
<button class="sc-launcher sc-send" type="button">Host button</button>
<textarea class="sc-input">Host textarea</textarea>
<div class="sc-panel sc-root">Host div</div>
<ul class="sc-cards"><li class="sc-card">Host item</li></ul>
"""

WIDGET_PROBES = [
    ".sc-launcher",
    ".sc-panel",
    ".sc-header",
    ".sc-title",
    ".sc-greeting .sc-bubble",
    ".sc-chip",
    ".sc-input",
    ".sc-send",
    ".sc-footer",
]
HOST_PROBES = ["h2", "p", "a", "button", "textarea", "div", "ul", "li", "body"]
PROPERTIES = [
    "display",
    "position",
    "visibility",
    "opacity",
    "transform",
    "font-family",
    "font-size",
    "font-weight",
    "line-height",
    "letter-spacing",
    "text-transform",
    "color",
    "background-color",
    "padding-top",
    "padding-left",
    "margin-top",
    "border-top-width",
    "border-top-style",
    "border-top-left-radius",
    "box-sizing",
    "box-shadow",
    "width",
    "height",
    "cursor",
]


def host_page(server: ShopchatServer, css: str = "", with_widget: bool = True, attrs: str = "") -> str:
    script = f'<script src="{server.url}/static/widget.js" data-server="{server.url}" {attrs} defer></script>'
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Host</title>"
        f"<style>{css}</style></head><body>{HOST_BODY}{script if with_widget else ''}</body></html>"
    )


def serve(page: Page, url: str, html: str) -> None:
    """Answer ``url`` (on the server's own origin, so its websocket Origin check passes) with ``html``."""

    def fulfill(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    page.route(url, fulfill)


def styles(page: Page, selectors: list[str], in_widget: bool) -> dict[str, dict[str, str]]:
    return cast(
        dict[str, dict[str, str]],
        page.evaluate(
            """([selectors, props, inWidget]) => {
                const scope = inWidget ? document.querySelector('shopchat-widget').shadowRoot : document;
                const out = {};
                for (const sel of selectors) {
                  const node = scope.querySelector(sel);
                  if (!node) { out[sel] = null; continue; }
                  const cs = getComputedStyle(node);
                  out[sel] = Object.fromEntries(props.map(p => [p, cs.getPropertyValue(p)]));
                }
                return out;
            }""",
            [selectors, PROPERTIES, in_widget],
        ),
    )


def in_widget(page: Page, selector: str) -> Locator:
    """``selector`` inside the widget only (the host page reuses the widget's class names on purpose)."""
    return page.locator(f"shopchat-widget {selector}")


def load_and_open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => !!window.ShopChat")
    expect(in_widget(page, ".sc-launcher")).to_be_visible()
    page.evaluate("() => window.ShopChat.open()")
    expect(in_widget(page, ".sc-panel")).to_be_visible()
    page.wait_for_timeout(400)  # let the open animation finish before reading sizes


def test_hostile_user_message_renders_as_text_and_runs_nothing(widget: Widget, dialogs: list[str]) -> None:
    widget.open()
    widget.send(HOSTILE)
    widget.wait_done(1)

    expect(widget.user_messages.first.locator(".sc-bubble")).to_have_text(HOSTILE)
    log = widget.page.locator(".sc-log")
    assert log.locator("img, script, iframe, object, embed, svg image").count() == 0
    for link in log.locator("a").all():
        assert (link.get_attribute("href") or "").startswith(("http://", "https://", "mailto:"))
    widget.page.wait_for_timeout(300)
    assert dialogs == []


def test_markdown_renderer_neutralises_hostile_answers(widget: Widget, dialogs: list[str]) -> None:
    hostile_answers = [
        HOSTILE,
        "**bold <img src=x onerror=alert(4)>**",
        "[x](javascript:alert(5)) [y](JaVaScRiPt:alert(6)) [z](java\tscript:alert(7))",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==) [vb](vbscript:msgbox(9))",
        '[q](https://example.com/" onmouseover="alert(10)) <a href="javascript:alert(11)">a</a>',
        "- <svg onload=alert(12)>\n- <iframe src=javascript:alert(13)>",
        "`<script>alert(14)</script>` &lt;b&gt; &#60;img src=x onerror=alert(15)&#62;",
        "[relative](/account) [proto-relative](//evil.example/x)",
    ]
    result = cast(
        dict[str, Any],
        widget.page.evaluate(
            """(inputs) => {
                const box = document.createElement('div');
                document.body.append(box);  // attached, so a created <img> would load and fire onerror
                for (const md of inputs) box.append(window.ShopChat._renderMarkdown(md));
                const tags = [...new Set([...box.querySelectorAll('*')].map(n => n.tagName))];
                const links = [...box.querySelectorAll('a')].map(a => ({
                  href: a.getAttribute('href'), rel: a.rel, target: a.target,
                  attrs: a.getAttributeNames(),
                }));
                const attrs = [...box.querySelectorAll('*')].flatMap(n => n.getAttributeNames());
                return {tags, links, attrs, text: box.textContent};
            }""",
            hostile_answers,
        ),
    )
    widget.page.wait_for_timeout(300)

    assert set(result["tags"]) <= SAFE_TAGS, result["tags"]
    assert set(result["attrs"]) <= {"href", "target", "rel", "start", "class"}, result["attrs"]
    for link in result["links"]:
        assert link["href"].startswith(("https://", "http://", "mailto:")), link
        assert link["target"] == "_blank"
        assert {"noopener", "noreferrer"} <= set(link["rel"].split()), link
    assert "<img src=x onerror=alert(1)>" in result["text"]
    assert "[x](javascript:alert(5))" in result["text"]  # an unsafe link is shown as typed
    assert dialogs == []


def test_markdown_renderer_supports_the_safe_subset(widget: Widget) -> None:
    # Links are clickable only to the shop's own domains (the demo shop's website: hollybrook.example).
    widget.page.wait_for_function(
        "() => document.querySelector('shopchat-widget').shadowRoot"
        ".querySelector('.sc-root').dataset.shop === 'loaded'"
    )
    html = str(
        widget.page.evaluate(
            """() => {
                const box = document.createElement('div');
                box.append(window.ShopChat._renderMarkdown(
                  "Hello **world** and *you*\\nnext line\\n\\n- one\\n- two [shop](https://www.hollybrook.example/a?b=1)\\n\\n"
                  + "1. first\\n2. second\\n\\nMail help@x.example: mailto:help@hollybrook.example or "
                  + "https://hollybrook.example/faq."
                ));
                return box.innerHTML;
            }"""
        )
    )
    assert html == (
        "<p>Hello <strong>world</strong> and <em>you</em><br>next line</p>"
        "<ul><li>one</li><li>two "
        '<a href="https://www.hollybrook.example/a?b=1" target="_blank" rel="noopener noreferrer nofollow">shop</a>'
        "</li></ul><ol><li>first</li><li>second</li></ol>"
        '<p>Mail help@x.example: <a href="mailto:help@hollybrook.example" target="_blank" '
        'rel="noopener noreferrer nofollow">mailto:help@hollybrook.example</a> or '
        '<a href="https://hollybrook.example/faq" target="_blank" rel="noopener noreferrer nofollow">'
        "https://hollybrook.example/faq</a>.</p>"
    )


def test_host_page_css_does_not_change_the_widget(page: Page, server: ShopchatServer) -> None:
    serve(page, server.url + "/test-host-plain", host_page(server))
    serve(page, server.url + "/test-host-hostile", host_page(server, HOSTILE_CSS))

    load_and_open(page, server.url + "/test-host-plain")
    plain = styles(page, WIDGET_PROBES, in_widget=True)
    load_and_open(page, server.url + "/test-host-hostile")
    hostile = styles(page, WIDGET_PROBES, in_widget=True)

    assert all(plain[sel] is not None for sel in WIDGET_PROBES)
    for sel in WIDGET_PROBES:
        assert hostile[sel] == plain[sel], f"host CSS changed {sel}"
    box = in_widget(page, ".sc-panel").bounding_box()
    assert box is not None
    assert box["width"] == 400


def test_widget_css_does_not_change_the_host_page(page: Page, server: ShopchatServer) -> None:
    serve(page, server.url + "/test-host-without", host_page(server, with_widget=False))
    serve(page, server.url + "/test-host-with", host_page(server))

    page.goto(server.url + "/test-host-without")
    without = styles(page, HOST_PROBES, in_widget=False)
    globals_without = set(page.evaluate("() => Object.getOwnPropertyNames(window)"))
    head_without = page.evaluate("() => document.head.children.length")
    load_and_open(page, server.url + "/test-host-with")
    with_widget = styles(page, HOST_PROBES, in_widget=False)
    globals_with = set(page.evaluate("() => Object.getOwnPropertyNames(window)"))

    for sel in HOST_PROBES:
        assert with_widget[sel] == without[sel], f"the widget changed the host's {sel}"
    assert globals_with - globals_without == {"ShopChat"}
    assert page.evaluate("() => document.head.children.length") == head_without
    # The only element the widget adds to the page is its host element.
    assert page.evaluate("() => [...document.body.children].map(n => n.tagName).pop()") == "SHOPCHAT-WIDGET"
    assert page.evaluate("() => document.querySelectorAll('body *:not(shopchat-widget) style').length") == 0


def test_language_and_accent_come_from_the_script_tag(page: Page, server: ShopchatServer) -> None:
    attrs = 'data-lang="de" data-title="Kundenservice" data-accent-color="#ffd54f" data-max-chars="50"'
    serve(page, server.url + "/test-host-de", host_page(server, attrs=attrs))
    load_and_open(page, server.url + "/test-host-de")

    expect(page.get_by_role("dialog", name="Kundenservice")).to_be_visible()
    expect(in_widget(page, ".sc-input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    # A light accent gets dark text on it (AA contrast), not white.
    send = in_widget(page, ".sc-send")
    assert send.evaluate("(el) => getComputedStyle(el).color") == "rgb(17, 24, 39)"
    in_widget(page, ".sc-input").fill("x" * 51)
    expect(in_widget(page, ".sc-counter")).to_contain_text("51 / 50")
    expect(in_widget(page, ".sc-counter")).to_contain_text("zu lang")


def test_demo_page_and_widget_run_under_the_servers_content_security_policy(
    page: Page, server: ShopchatServer, page_errors: list[str]
) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(
        """document.addEventListener('securitypolicyviolation', e => {
            (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI);
        }, true);"""
    )
    response = page.goto(server.url + "/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    widget = Widget(page, server)
    page.wait_for_function("() => !!window.ShopChat")
    widget.pick_customer()
    widget.open()
    widget.send("recommend me something")
    widget.wait_done(1)
    expect(page.locator(".sc-card").first).to_be_visible()
    assert page.evaluate("() => window.__cspViolations || []") == []
    assert console == []
    assert page_errors == []
