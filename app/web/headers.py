"""Security headers on every HTTP response: a Content-Security-Policy, framing rules, referrer, nosniff.

The widget is embedded in storefronts as a script (widget.js) that renders into a Shadow DOM, not as a frame,
so these headers do not reach the shop's pages; ``frame-ancestors`` still lets the shop's allowed origins
frame shopchat's own pages. Responses that set a header themselves (the API docs page) keep theirs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An origin as CSP source expression; anything else in SHOPCHAT_ALLOWED_ORIGINS is left out of the header.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

# What the demo storefront and the widget need: their own scripts, styles and websocket, data: icons.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


def frame_ancestors(allowed_origins: Iterable[str]) -> str:
    """``frame-ancestors``: this server and the shop's allowed origins."""
    origins = sorted(o for o in allowed_origins if _ORIGIN.match(o))
    return " ".join(["frame-ancestors 'self'", *origins])


def security_headers(allowed_origins: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """The headers every response gets unless it sets them itself."""
    policy = f"{_PAGE_POLICY}; {frame_ancestors(allowed_origins)}"
    return [
        (b"content-security-policy", policy.encode()),
        # Superseded by frame-ancestors where CSP is supported; older browsers get same-origin framing only.
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
    ]


def docs_policy(html: str) -> str:
    """The CSP of the Swagger UI page: its CDN, and its one inline script by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    cdn = "https://cdn.jsdelivr.net"
    return (
        f"default-src 'self'; script-src 'self' {cdn} {hashes}; style-src 'self' {cdn} 'unsafe-inline'; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding ``security_headers`` (from ``app.state.security_headers``) to HTTP responses."""

    def __init__(self, app: ASGIApp, default: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass websockets and lifespan through; add the headers to an HTTP response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = getattr(scope.get("app"), "state", None)
        extra: list[tuple[bytes, bytes]] = getattr(state, "security_headers", None) or self.default

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)
