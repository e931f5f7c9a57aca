"""Who may connect and how much, through FastAPI's TestClient: customer identity, demo mode, limits, tokens."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from app.errors import ErrorCode
from app.settings import Settings
from app.web.application import create_app
from app.web.auth import DAY_S, TokenClaims, TokenSigner, sign_customer
from app.web.handshake import CLOSE_TOO_MANY, CLOSE_UNAUTHORIZED
from tests.conftest import TEST_SECRET
from tests.fakes import FixedRecommender, ScriptedModel
from tests.test_auth import legacy_token
from tests.wsutil import Frame, receive_until, send_message

SHOP_KEY = "shop-backend-signing-key"


def make_client(settings: Settings, model: ScriptedModel | None = None, **overrides: object) -> TestClient:
    return TestClient(
        create_app(
            settings.model_copy(update=overrides),
            model=model or ScriptedModel(),
            recommender=FixedRecommender(),
        )
    )


def resume_url(ready: Frame, *extra: str) -> str:
    return "&".join([f"/ws/chat?conversation_id={ready['conversation_id']}&token={ready['token']}", *extra])


def refusal(ws: WebSocketTestSession) -> tuple[Frame, int]:
    """The error frame and the close code of a refused connection."""
    error: Frame = ws.receive_json()
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return error, closed.value.code


# ---- the customer of a conversation -------------------------------------------------------------------


def test_resume_of_an_unsent_conversation_cannot_take_on_a_customer(settings: Settings) -> None:
    # The attack: open as a guest, send nothing, reconnect naming customer 12748 without a signature.
    model = ScriptedModel()
    with make_client(settings, model, customer_signing_key=SecretStr(SHOP_KEY)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ready = ws.receive_json()
        with client.websocket_connect(resume_url(ready, "customer_id=12748")) as ws:
            error, code = refusal(ws)
        with client.websocket_connect(resume_url(ready)) as ws:
            resumed = ws.receive_json()
            send_message(ws, "m1", "recommend me something")
            receive_until(ws, "done")
    assert (error["code"], code) == (ErrorCode.UNAUTHORIZED, CLOSE_UNAUTHORIZED)
    assert resumed["customer_id"] is None
    assert all("12748" not in str(m["content"]) for m in model.requests[-1].messages)


def test_signed_customer_stays_with_the_conversation_on_resume(settings: Settings) -> None:
    signature = sign_customer(SHOP_KEY.encode(), "12347")
    with make_client(settings, customer_signing_key=SecretStr(SHOP_KEY)) as client:
        with client.websocket_connect(f"/ws/chat?customer_id=12347&customer_sig={signature}") as ws:
            ready = ws.receive_json()
        # Nothing was sent, so nothing is stored: the customer comes from the token.
        with client.websocket_connect(resume_url(ready)) as ws:
            resumed = ws.receive_json()
    assert (resumed["customer_id"], resumed["resumed"]) == ("12347", True)


def test_unsigned_customer_id_is_refused_by_default(settings: Settings) -> None:
    with make_client(settings) as client, client.websocket_connect("/ws/chat?customer_id=12347") as ws:
        error, code = refusal(ws)
    assert (error["type"], error["code"], code) == ("error", ErrorCode.UNAUTHORIZED, CLOSE_UNAUTHORIZED)


def test_demo_mode_accepts_unsigned_customer_ids(settings: Settings) -> None:
    with (
        make_client(settings, demo_mode=True) as client,
        client.websocket_connect("/ws/chat?customer_id=12347") as ws,
    ):
        assert ws.receive_json()["customer_id"] == "12347"


def test_customer_list_is_only_served_in_demo_mode(settings: Settings) -> None:
    with make_client(settings) as client:
        hidden = client.get("/api/customers")
    with make_client(settings, demo_mode=True) as client:
        listed = client.get("/api/customers?limit=3")
    assert hidden.status_code == 404
    assert "demo mode" in hidden.json()["error"]["message"]
    assert len(listed.json()) == 3


# ---- limits ----------------------------------------------------------------------------------------------


def rate_limited(frames: list[Frame]) -> int:
    return sum(f["type"] == "error" and f["code"] == ErrorCode.RATE_LIMITED for f in frames)


def reply_to(ws: WebSocketTestSession, message_id: str) -> Frame:
    """The sender's answer to a message frame: its ``accepted``, or the error refusing it."""
    while True:
        frame: Frame = ws.receive_json()
        if frame.get("message_id") == message_id and frame["type"] == "accepted":
            return frame
        if frame["type"] == "error" and frame.get("reply_to") == message_id:
            return frame


def test_extra_sockets_of_one_conversation_share_its_message_limit(settings: Settings) -> None:
    # 15 a minute: a burst of 3 for the conversation, not 3 per socket.
    with (
        make_client(settings, rate_limit_per_minute=15) as client,
        client.websocket_connect("/ws/chat") as first,
    ):
        ready = first.receive_json()
        with client.websocket_connect(resume_url(ready)) as second:
            second.receive_json()
            replies = []
            for i, ws in enumerate([first, second, first, second]):
                send_message(ws, f"m{i}", "hi")
                replies.append(reply_to(ws, f"m{i}"))
    assert [r["type"] for r in replies[:3]] == ["accepted"] * 3
    assert replies[3]["code"] == ErrorCode.RATE_LIMITED


def test_new_conversations_from_one_address_share_its_message_limit(settings: Settings) -> None:
    with make_client(settings, rate_limit_per_ip_per_minute=15) as client:
        replies = []
        for i in range(4):
            with client.websocket_connect("/ws/chat") as ws:
                ws.receive_json()
                send_message(ws, f"m{i}", "hi")
                replies.append(reply_to(ws, f"m{i}"))
    assert [r["type"] for r in replies] == ["accepted", "accepted", "accepted", "error"]
    assert replies[3]["code"] == ErrorCode.RATE_LIMITED


def test_sockets_from_one_address_are_capped(settings: Settings) -> None:
    with make_client(settings, max_sockets_per_ip=2) as client:
        with client.websocket_connect("/ws/chat") as a, client.websocket_connect("/ws/chat") as b:
            a.receive_json()
            b.receive_json()
            with client.websocket_connect("/ws/chat") as c:
                error, code = refusal(c)
        # Closed sockets give their places back.
        with client.websocket_connect("/ws/chat") as d:
            again = d.receive_json()
    assert (error["code"], code) == (ErrorCode.RATE_LIMITED, CLOSE_TOO_MANY)
    assert error["retry_after_s"] > 0
    assert again["type"] == "ready"


def test_new_conversations_from_one_address_are_capped(settings: Settings) -> None:
    # 6 a minute: a burst of 3, then refusals with the time to wait.
    with make_client(settings, new_conversations_per_ip_per_minute=6) as client:
        frames = []
        for _ in range(4):
            with client.websocket_connect("/ws/chat") as ws:
                frames.append(ws.receive_json())
    assert [f["type"] for f in frames] == ["ready", "ready", "ready", "error"]
    assert frames[3]["code"] == ErrorCode.RATE_LIMITED
    assert frames[3]["retry_after_s"] > 0


# ---- token lifetime --------------------------------------------------------------------------------------


def signer_at(days_ago: float) -> TokenSigner:
    """The test server's signer with its clock turned back."""
    return TokenSigner(TEST_SECRET.encode(), ttl_s=30 * DAY_S, clock=lambda: time.time() - days_ago * DAY_S)


def test_expired_token_is_refused_so_the_widget_starts_anew(settings: Settings) -> None:
    conversation_id = "e" * 32
    stale = {"conversation_id": conversation_id, "token": signer_at(31).issue(conversation_id)}
    with make_client(settings) as client:
        with client.websocket_connect(resume_url(stale)) as ws:
            error, code = refusal(ws)
        read_back = client.get(f"/api/conversations/{conversation_id}?token={stale['token']}")
    assert (error["code"], code) == (ErrorCode.UNAUTHORIZED, CLOSE_UNAUTHORIZED)
    assert "expired" in error["message"]
    assert "new conversation" in error["message"]
    assert read_back.status_code == 401
    assert "expired" in read_back.json()["error"]["message"]


def test_resume_renews_the_token(settings: Settings) -> None:
    conversation_id = "f" * 32
    old = {"conversation_id": conversation_id, "token": signer_at(20).issue(conversation_id)}
    with make_client(settings) as client, client.websocket_connect(resume_url(old)) as ws:
        ready = ws.receive_json()
        signer: TokenSigner = client.app.state.signer  # type: ignore[attr-defined]
    before, after = signer.check(conversation_id, old["token"]), signer.check(conversation_id, ready["token"])
    assert isinstance(before, TokenClaims)
    assert isinstance(after, TokenClaims)
    assert before.expires_at is not None
    assert after.expires_at is not None
    assert after.expires_at - before.expires_at == pytest.approx(20 * DAY_S, abs=5)


def test_legacy_token_resumes_its_stored_conversation_and_is_replaced(settings: Settings) -> None:
    with make_client(settings, demo_mode=True) as client:
        with client.websocket_connect("/ws/chat?customer_id=12347") as ws:
            ready = ws.receive_json()
            send_message(ws, "m1", "hi")
            receive_until(ws, "done")
        old = {**ready, "token": legacy_token(ready["conversation_id"], TEST_SECRET.encode())}
        with client.websocket_connect(resume_url(old, "last_seq=0")) as ws:
            resumed = ws.receive_json()
            replayed = receive_until(ws, "done")
        read_back = client.get(f"/api/conversations/{ready['conversation_id']}?token={old['token']}")
    assert resumed["customer_id"] == "12347"  # from the store, where it was fixed
    assert "." in resumed["token"]  # a current token, with a lifetime
    assert replayed[-1]["text"] == "Hello there!"
    assert read_back.status_code == 200


def test_legacy_token_of_an_unstored_conversation_is_refused(settings: Settings) -> None:
    conversation_id = "d" * 32
    old = {"conversation_id": conversation_id, "token": legacy_token(conversation_id, TEST_SECRET.encode())}
    with make_client(settings) as client, client.websocket_connect(resume_url(old)) as ws:
        error, code = refusal(ws)
    assert (error["code"], code) == (ErrorCode.UNAUTHORIZED, CLOSE_UNAUTHORIZED)


def test_legacy_token_of_a_conversation_older_than_the_lifetime_is_refused(settings: Settings) -> None:
    with make_client(settings, token_ttl_days=1) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ready = ws.receive_json()
            send_message(ws, "m1", "hi")
            receive_until(ws, "done")
        # Two days later, as far as the token lifetime is concerned.
        signer: TokenSigner = client.app.state.signer  # type: ignore[attr-defined]
        client.app.state.signer = TokenSigner(  # type: ignore[attr-defined]
            TEST_SECRET.encode(),
            ttl_s=signer.ttl_s,
            clock=lambda: (datetime.now(UTC) + timedelta(days=2)).timestamp(),
        )
        old = {**ready, "token": legacy_token(ready["conversation_id"], TEST_SECRET.encode())}
        with client.websocket_connect(resume_url(old)) as ws:
            error, code = refusal(ws)
    assert (error["code"], code) == (ErrorCode.UNAUTHORIZED, CLOSE_UNAUTHORIZED)
    assert "expired" in error["message"]


def test_demo_mode_is_announced_at_start_up_as_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="shopchat"), make_client(settings, demo_mode=True):
        pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "DEMO MODE" in r.getMessage()]
    assert len(warnings) == 1
    assert "purchase history" in warnings[0].getMessage()
