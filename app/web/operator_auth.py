"""Operator sign-in: passwords checked off the event loop, login attempts limited, sessions by token.

Every attempt spends one token of its name's and its address's login buckets *before* the password is checked
(``Counters.take`` spends; there is no look-without-spending): a refused attempt costs no hashing and tells
nothing about the password, and a correct password does not bypass a limit already reached. An unknown name
costs the same hashing as a wrong password, so response times do not tell which names exist.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from app.errors import loggable
from app.store.operators import OperatorSession, OperatorStore
from app.store.password import DEFAULT_COST, ScryptCost, burn, verify_password
from app.web.ratelimit import Counters, Limited, LocalCounters, Rate

log = logging.getLogger("shopchat.operators")

MAX_TOKEN_CHARS = 128
"""Longer credentials are refused without a database look-up (ours are 43 characters)."""


@dataclass(frozen=True, slots=True)
class OperatorAuthConfig:
    """Session lifetime and login limits: ``attempts_per_*`` tries per ``attempts_window_s``, refilling evenly."""

    session_ttl: timedelta = timedelta(hours=12)
    attempts_per_name: int = 5
    attempts_per_client: int = 10
    attempts_window_s: float = 900.0
    cost: ScryptCost = field(default=DEFAULT_COST)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A successful login: the new session and its token (to hand to the client once)."""

    session: OperatorSession
    token: str


@dataclass(frozen=True, slots=True)
class WrongCredentials:
    """No active operator has that name and password (which of the two is not said)."""


LoginOutcome = SignedIn | WrongCredentials | Limited


class OperatorAuth:
    """Logins, session look-ups and logouts of operators."""

    def __init__(
        self,
        operators: OperatorStore,
        config: OperatorAuthConfig | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.operators = operators
        self.config = config or OperatorAuthConfig()
        # Not ``or``: an empty LocalCounters is falsy (it has a length).
        self._counters: Counters = counters if counters is not None else LocalCounters()
        minutes = self.config.attempts_window_s / 60
        self._name_rate = Rate(self.config.attempts_per_name / minutes, self.config.attempts_per_name)
        self._client_rate = Rate(self.config.attempts_per_client / minutes, self.config.attempts_per_client)

    async def login(self, name: str, password: str, client: str) -> LoginOutcome:
        """Check the password (unless a limit refuses the attempt first) and open a session."""
        key = name.strip().lower()
        wait = await self._counters.take(
            [("login-name:" + key, self._name_rate), ("login-ip:" + client, self._client_rate)]
        )
        if wait is not None:
            return Limited("Too many sign-in attempts. Please wait before trying again.", wait)
        found = await self.operators.credentials(name)
        if found is None:
            await asyncio.to_thread(burn, password, self.config.cost)
        if found is None or not await asyncio.to_thread(verify_password, password, found[1]):
            # As many lines as the limits let attempts through, not one per refused request. The name is the
            # client's: bounded and cleaned first.
            log.warning("operator sign-in failed: name %r from %s", loggable(key, limit=40), client)
            return WrongCredentials()
        operator = found[0]
        await self.operators.purge_expired()
        token, _ = await self.operators.start_session(operator.id, self.config.session_ttl)
        session = await self.operators.session(token)
        if session is None:
            return WrongCredentials()  # removed between the check and now
        log.info("operator %s signed in from %s", operator.name, client)
        return SignedIn(session, token)

    async def authenticate(self, token: str | None) -> OperatorSession | None:
        """The session ``token`` opens, or None (no token, unknown, expired, or its operator was removed)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        return await self.operators.session(token)

    async def logout(self, session: OperatorSession) -> None:
        """End the session (other sessions of the operator stay open)."""
        await self.operators.end_session(session.session_id)
