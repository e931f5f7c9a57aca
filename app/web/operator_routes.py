"""Operator sign-in over HTTP: login, logout, ``/api/operator/me``, and ``require_operator`` for every endpoint.

A browser gets the session token in an HttpOnly, SameSite=Strict cookie (scripts cannot read it, other sites'
pages cannot send it); an API client that asks for it at login gets it in the body and sends it back as
``Authorization: Bearer …``. The service lives in ``app.state.operator_auth`` (``OperatorAuth``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from app.errors import ErrorCode
from app.store.operators import OperatorSession
from app.web.operator_auth import OperatorAuth, SignedIn, WrongCredentials
from app.web.ratelimit import client_key
from app.web.routes import ApiError

COOKIE = "shopchat_operator"

router = APIRouter(prefix="/api/operator", tags=["operators"])


async def get_operator_auth(conn: HTTPConnection) -> OperatorAuth:
    """Operator logins and sessions of this app."""
    auth: OperatorAuth = conn.app.state.operator_auth
    return auth


OperatorAuthDep = Annotated[OperatorAuth, Depends(get_operator_auth)]


def presented_token(conn: HTTPConnection) -> str | None:
    """The session token a request or websocket carries: ``Authorization: Bearer …``, else the cookie."""
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return conn.cookies.get(COOKIE) or None


async def require_operator(request: Request, auth: OperatorAuthDep) -> OperatorSession:
    """The signed-in operator; 401 without a valid session (every operator endpoint depends on this)."""
    session = await auth.authenticate(presented_token(request))
    if session is None:
        error = ApiError(401, ErrorCode.UNAUTHORIZED, "sign in as an operator first")
        error.headers = {"WWW-Authenticate": "Bearer"}
        raise error
    return session


OperatorDep = Annotated[OperatorSession, Depends(require_operator)]


async def authenticate_websocket(websocket: WebSocket) -> OperatorSession | None:
    """The operator a websocket's handshake signs in as (cookie or bearer header), or None; call before accept."""
    auth: OperatorAuth = websocket.app.state.operator_auth
    return await auth.authenticate(presented_token(websocket))


class LoginIn(BaseModel):
    """Credentials; ``bearer``: return the token in the body instead of setting the cookie (API clients)."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    bearer: bool = False


class OperatorOut(BaseModel):
    """A signed-in operator and when the session ends."""

    id: int
    name: str
    expires_at: datetime

    @classmethod
    def of(cls, session: OperatorSession) -> OperatorOut:
        """The API's view of a session."""
        return cls(id=session.operator.id, name=session.operator.name, expires_at=session.expires_at)


class LoginOut(BaseModel):
    """A successful login; ``token`` only when the client asked for a bearer token."""

    operator: OperatorOut
    token: str | None = None


@router.post("/login")
async def login(body: LoginIn, request: Request, response: Response, auth: OperatorAuthDep) -> LoginOut:
    """Sign in: sets the session cookie (or returns a bearer token); 401 on a wrong name or password."""
    client = client_key(request.client.host if request.client is not None else None)
    outcome = await auth.login(body.name, body.password, client)
    if isinstance(outcome, WrongCredentials):
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "wrong operator name or password")
    if not isinstance(outcome, SignedIn):
        error = ApiError(429, ErrorCode.RATE_LIMITED, outcome.message)
        # Rounded first: a bucket's float arithmetic makes 180 s into 180.00000000000003.
        error.headers = {"Retry-After": str(max(1, math.ceil(round(outcome.retry_after_s, 3))))}
        raise error
    response.headers["Cache-Control"] = "no-store"
    out = OperatorOut.of(outcome.session)
    if body.bearer:
        return LoginOut(operator=out, token=outcome.token)
    response.set_cookie(
        COOKIE,
        outcome.token,
        max_age=int(auth.config.session_ttl.total_seconds()),
        path="/",
        # Over plain HTTP (a local trial) a Secure cookie would never come back.
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return LoginOut(operator=out)


@router.post("/logout", status_code=204)
async def logout(session: OperatorDep, auth: OperatorAuthDep, response: Response) -> None:
    """End this session and clear the cookie."""
    await auth.logout(session)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


@router.get("/me")
async def me(session: OperatorDep, response: Response) -> OperatorOut:
    """Who is signed in, and until when."""
    response.headers["Cache-Control"] = "no-store"
    return OperatorOut.of(session)
