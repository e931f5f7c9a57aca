"""Operator login over HTTP: the session cookie, bearer tokens, logout, the login limit, ``require_operator``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.store.migrate import upgrade
from app.store.operators import OperatorStore
from app.store.password import ScryptCost, hash_password
from app.store.store import Store
from app.web.operator_auth import OperatorAuth, OperatorAuthConfig
from app.web.operator_routes import COOKIE, OperatorDep, authenticate_websocket, router
from app.web.ratelimit import LocalCounters
from app.web.routes import ApiError
from tests.conftest import sqlite_url

CHEAP = ScryptCost(log_n=4, r=1, p=1)
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clocks:
    """The store's now (sessions expire by it) and the limits' monotonic seconds, both settable."""

    def __init__(self) -> None:
        self.now = T0
        self.seconds = 1000.0


def make_app(url: str, clocks: Clocks, config: OperatorAuthConfig) -> FastAPI:
    """The operator router on its own, with the application's error bodies and one protected socket."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store.from_url(url)
        counters = LocalCounters(clock=lambda: clocks.seconds)
        app.state.operator_auth = OperatorAuth(
            OperatorStore(store, clock=lambda: clocks.now), config, counters
        )
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)

    @app.get("/api/operator/protected")
    async def protected(operator: OperatorDep) -> dict[str, str]:
        return {"name": operator.operator.name}

    @app.websocket("/ws/operator")
    async def operator_socket(websocket: WebSocket) -> None:
        session = await authenticate_websocket(websocket)
        if session is None:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        await websocket.send_json({"name": session.operator.name})
        await websocket.close()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(
            {"error": {"code": str(exc.code), "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    return app


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "operators.db")

    async def prepare() -> None:
        await upgrade(url)
        store = Store.from_url(url)
        try:
            for name, password in PASSWORDS.items():
                await OperatorStore(store).add(name, hash_password(password, CHEAP))
        finally:
            await store.close()

    asyncio.run(prepare())
    return url


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def config() -> OperatorAuthConfig:
    return OperatorAuthConfig(cost=CHEAP, session_ttl=timedelta(hours=8))


@pytest.fixture
def client(database: str, clocks: Clocks, config: OperatorAuthConfig) -> Iterator[TestClient]:
    with TestClient(make_app(database, clocks, config)) as c:
        yield c


# ---- login with a cookie ---------------------------------------------------------------------------------


def test_login_sets_an_http_only_strict_session_cookie(client: TestClient) -> None:
    response = client.post("/api/operator/login", json={"name": "Alice", "password": "alice-password"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "operator": {"id": 1, "name": "alice", "expires_at": "2026-12-07T20:00:00Z"},
        "token": None,
    }
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{COOKIE}=")
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "max-age=28800" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
    assert response.headers["cache-control"] == "no-store"


def test_the_cookie_is_secure_over_https(database: str, clocks: Clocks, config: OperatorAuthConfig) -> None:
    with TestClient(make_app(database, clocks, config), base_url="https://testserver") as client:
        response = client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower().replace(" ", "").split(";")


def test_the_cookie_signs_the_operator_in(client: TestClient) -> None:
    client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    response = client.get("/api/operator/me")
    assert response.status_code == 200
    assert response.json()["name"] == "alice"
    assert client.get("/api/operator/protected").json() == {"name": "alice"}


# ---- refusals --------------------------------------------------------------------------------------------


def test_a_wrong_password_is_401_with_a_message(client: TestClient) -> None:
    response = client.post("/api/operator/login", json={"name": "alice", "password": "bob-password"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "wrong operator name or password"}
    }
    assert "set-cookie" not in response.headers


def test_a_failed_sign_in_is_logged_without_the_password(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="shopchat.operators"):
        client.post("/api/operator/login", json={"name": "alice", "password": "hunter2-guess"})
        client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    assert [r.getMessage() for r in caplog.records] == [
        "operator sign-in failed: name 'alice' from testclient",
        "operator alice signed in from testclient",
    ]
    assert "hunter2" not in caplog.text
    assert "alice-password" not in caplog.text


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    unknown = client.post("/api/operator/login", json={"name": "mallory", "password": "x"})
    wrong = client.post("/api/operator/login", json={"name": "alice", "password": "x"})
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())


def test_operator_endpoints_refuse_without_a_session(client: TestClient) -> None:
    for path in ("/api/operator/me", "/api/operator/protected"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/operator/logout").status_code == 401


def test_a_made_up_or_oversized_token_is_refused(client: TestClient) -> None:
    for token in ("made-up", "x" * 5000):
        response = client.get("/api/operator/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    client.cookies.set(COOKIE, "made-up")
    assert client.get("/api/operator/me").status_code == 401


def test_a_session_stops_working_when_it_expires(client: TestClient, clocks: Clocks) -> None:
    client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    clocks.now = T0 + timedelta(hours=8)
    assert client.get("/api/operator/me").status_code == 401


# ---- the login limit -------------------------------------------------------------------------------------


def test_five_failures_for_a_name_are_then_refused_429_even_with_the_right_password(
    client: TestClient,
) -> None:
    for _ in range(5):
        wrong = client.post("/api/operator/login", json={"name": "alice", "password": "guess"})
        assert wrong.status_code == 401
    limited = client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    assert limited.status_code == 429
    assert limited.json()["error"] == {
        "code": "rate_limited",
        "message": "Too many sign-in attempts. Please wait before trying again.",
    }
    assert limited.headers["retry-after"] == "180"  # one attempt back every 15 min / 5
    assert "set-cookie" not in limited.headers


def test_the_name_s_limit_refills_with_time(client: TestClient, clocks: Clocks) -> None:
    for _ in range(5):
        client.post("/api/operator/login", json={"name": "alice", "password": "guess"})
    clocks.seconds += 181  # one attempt back every 180 s
    response = client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    assert response.status_code == 200


def test_failures_from_one_address_are_limited_across_names(
    database: str, clocks: Clocks, config: OperatorAuthConfig
) -> None:
    tight = OperatorAuthConfig(cost=CHEAP, attempts_per_name=100, attempts_per_client=3)
    with TestClient(make_app(database, clocks, tight)) as client:
        for name in ("alice", "bob", "carol"):
            assert client.post("/api/operator/login", json={"name": name, "password": "x"}).status_code == 401
        response = client.post("/api/operator/login", json={"name": "bob", "password": "bob-password"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == 300


def test_another_name_is_not_limited_by_one_name_s_failures(client: TestClient) -> None:
    for _ in range(5):
        client.post("/api/operator/login", json={"name": "alice", "password": "guess"})
    response = client.post("/api/operator/login", json={"name": "bob", "password": "bob-password"})
    assert response.status_code == 200


# ---- bearer tokens ---------------------------------------------------------------------------------------


def test_an_api_client_gets_a_bearer_token_and_no_cookie(client: TestClient) -> None:
    response = client.post(
        "/api/operator/login", json={"name": "bob", "password": "bob-password", "bearer": True}
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    token = response.json()["token"]
    assert isinstance(token, str)
    assert len(token) >= 40
    me = client.get("/api/operator/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status_code, me.json()["name"]) == (200, "bob")


# ---- logout ----------------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_clears_the_cookie(client: TestClient) -> None:
    client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    cookie = client.cookies[COOKIE]
    response = client.post("/api/operator/logout")
    assert response.status_code == 204
    assert response.headers["set-cookie"].startswith(f'{COOKIE}=""')
    assert client.get("/api/operator/me").status_code == 401
    # The old cookie, kept by someone, no longer works either.
    client.cookies.set(COOKIE, cookie)
    assert client.get("/api/operator/me").status_code == 401


def test_logout_leaves_the_operator_s_other_sessions(client: TestClient) -> None:
    other = client.post(
        "/api/operator/login", json={"name": "alice", "password": "alice-password", "bearer": True}
    ).json()["token"]
    client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    assert client.post("/api/operator/logout").status_code == 204
    me = client.get("/api/operator/me", headers={"Authorization": f"Bearer {other}"})
    assert me.status_code == 200


# ---- websockets ------------------------------------------------------------------------------------------


def test_a_websocket_is_signed_in_by_the_cookie(client: TestClient) -> None:
    client.post("/api/operator/login", json={"name": "alice", "password": "alice-password"})
    with client.websocket_connect("/ws/operator") as ws:
        assert ws.receive_json() == {"name": "alice"}


def test_a_websocket_is_signed_in_by_a_bearer_header(client: TestClient) -> None:
    token = client.post(
        "/api/operator/login", json={"name": "bob", "password": "bob-password", "bearer": True}
    ).json()["token"]
    with client.websocket_connect("/ws/operator", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_json() == {"name": "bob"}


def test_a_websocket_without_a_session_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/operator"):
        pass
    assert refused.value.code == 4401
