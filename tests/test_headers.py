"""Security headers on every page, and the API docs page, which is off unless asked for."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.application import create_app
from app.web.headers import frame_ancestors
from tests.fakes import ScriptedModel

PATHS = ["/", "/static/widget.js", "/static/widget.css", "/static/demo.js", "/api/shop", "/healthz", "/nope"]


def make_client(settings: Settings, **overrides: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), model=ScriptedModel()))


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(settings: Settings, path: str) -> None:
    with make_client(settings, allowed_origins=["https://shop.example"]) as client:
        headers = client.get(path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "object-src 'none'" in policy
    assert policy.endswith("frame-ancestors 'self' https://shop.example")
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_widget_stays_loadable_from_a_storefront(settings: Settings) -> None:
    with make_client(settings) as client:
        widget = client.get("/static/widget.js", headers={"Origin": "https://shop.example"})
    assert widget.status_code == 200
    assert widget.headers["access-control-allow-origin"] == "*"
    assert "cross-origin-resource-policy" not in widget.headers


def test_frame_ancestors_leaves_out_what_is_not_an_origin() -> None:
    assert frame_ancestors(["https://shop.example:8443", "https://x; script-src *", "http://[::1]:8000"]) == (
        "frame-ancestors 'self' http://[::1]:8000 https://shop.example:8443"
    )


def test_api_docs_are_off_by_default(settings: Settings) -> None:
    with make_client(settings) as client:
        docs = client.get("/docs")
        redoc = client.get("/redoc")
        schema = client.get("/openapi.json")
    assert docs.status_code == 404
    assert "SHOPCHAT_API_DOCS" in docs.json()["error"]["message"]
    assert redoc.status_code == 404
    assert schema.status_code == 200


def test_api_docs_when_on_allow_exactly_their_inline_script(settings: Settings) -> None:
    with make_client(settings, api_docs=True) as client:
        docs = client.get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    policy = docs.headers["content-security-policy"]
    assert docs.status_code == 200
    assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert docs.headers["x-frame-options"] == "DENY"
