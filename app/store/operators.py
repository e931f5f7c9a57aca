"""Operator accounts and their sessions in the app's database, read and written as plain records.

Passwords arrive already hashed (``app.store.password``); session tokens are made here and only their SHA-256
is stored, so neither a password nor a usable token can be read back from the database.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import ErrorCode, ShopchatError
from app.store.store import Store
from app.store.tables import OperatorRow, OperatorSessionRow, aware, utcnow

OPERATORS: Table = OperatorRow.__table__  # type: ignore[assignment]
SESSIONS: Table = OperatorSessionRow.__table__  # type: ignore[assignment]

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
"""An operator's name once lower-cased: what logs, the inbox and the CLI show."""


class OperatorError(ShopchatError):
    """A request about an operator account that cannot be done (bad or taken name, unknown operator)."""

    code = ErrorCode.INVALID_VALUE
    public = True


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """A stored operator account (never its password hash)."""

    id: int
    name: str
    created_at: datetime
    password_changed_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A signed-in operator: who, and until when; ``session_id`` is the token's hash, not the token."""

    operator: OperatorRecord
    session_id: str
    expires_at: datetime


def normalize_name(name: str) -> str:
    """The stored form of an operator name; raises ``OperatorError`` when it is not a valid one."""
    folded = name.strip().lower()
    if not NAME_PATTERN.fullmatch(folded):
        raise OperatorError(
            f"invalid operator name {name!r}: 1 to 32 characters, letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return folded


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class OperatorStore:
    """Operator and session reads and writes on a ``Store``'s engine; each method is one transaction."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = store.engine
        self._now = clock

    # ---- accounts ------------------------------------------------------------------------------------

    async def add(self, name: str, password_hash: str) -> OperatorRecord:
        """Create the account, or bring back a removed one of that name with this password.

        Raises ``OperatorError`` when the name is invalid or an active operator has it.
        """
        name = normalize_name(name)
        now = self._now()
        try:
            async with self._engine.begin() as conn:
                revived = await conn.execute(
                    update(OPERATORS)
                    .where(OPERATORS.c.name == name, OPERATORS.c.removed_at.is_not(None))
                    .values(password_hash=password_hash, password_changed_at=now, removed_at=None)
                )
                if not revived.rowcount:
                    await conn.execute(
                        OPERATORS.insert().values(
                            name=name,
                            password_hash=password_hash,
                            created_at=now,
                            password_changed_at=now,
                            removed_at=None,
                        )
                    )
        except IntegrityError as exc:
            raise OperatorError(f"an operator named {name!r} already exists") from exc
        found = await self.get(name)
        assert found is not None
        return found

    async def get(self, name: str) -> OperatorRecord | None:
        """The active operator of that name (any case), or None."""
        found = await self.credentials(name)
        return found[0] if found else None

    async def credentials(self, name: str) -> tuple[OperatorRecord, str] | None:
        """The active operator of that name and its password hash, or None (also for an invalid name)."""
        try:
            name = normalize_name(name)
        except OperatorError:
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(OPERATORS).where(OPERATORS.c.name == name, OPERATORS.c.removed_at.is_(None))
                )
            ).first()
        return (_operator(row), row.password_hash) if row is not None else None

    async def all(self, *, removed: bool = False) -> list[OperatorRecord]:
        """Active operators by name; with ``removed``, removed ones too."""
        query = select(OPERATORS).order_by(OPERATORS.c.name)
        if not removed:
            query = query.where(OPERATORS.c.removed_at.is_(None))
        async with self._engine.connect() as conn:
            return [_operator(row) for row in await conn.execute(query)]

    async def remove(self, name: str) -> bool:
        """Remove the active operator and end its sessions; False when there is none of that name."""
        return await self._change(name, {"removed_at": self._now()})

    async def set_password(self, name: str, password_hash: str) -> bool:
        """Replace the active operator's password and end its sessions; False when there is none of that name."""
        return await self._change(name, {"password_hash": password_hash, "password_changed_at": self._now()})

    async def _change(self, name: str, values: dict[str, Any]) -> bool:
        try:
            name = normalize_name(name)
        except OperatorError:
            return False
        async with self._engine.begin() as conn:
            operator_id = await conn.scalar(
                update(OPERATORS)
                .where(OPERATORS.c.name == name, OPERATORS.c.removed_at.is_(None))
                .values(**values)
                .returning(OPERATORS.c.id)
            )
            if operator_id is None:
                return False
            await conn.execute(delete(SESSIONS).where(SESSIONS.c.operator_id == operator_id))
        return True

    # ---- sessions ------------------------------------------------------------------------------------

    async def start_session(self, operator_id: int, ttl: timedelta) -> tuple[str, datetime]:
        """A new session for the operator: its token (given out once, never stored) and when it expires."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        expires_at = now + ttl
        async with self._engine.begin() as conn:
            await conn.execute(
                SESSIONS.insert().values(
                    token_hash=token_hash(token),
                    operator_id=operator_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return token, expires_at

    async def session(self, token: str) -> OperatorSession | None:
        """The unexpired session of an active operator that ``token`` opens, or None."""
        session_id = token_hash(token)
        query = (
            select(OPERATORS, SESSIONS.c.expires_at)
            .join(SESSIONS, SESSIONS.c.operator_id == OPERATORS.c.id)
            .where(
                SESSIONS.c.token_hash == session_id,
                SESSIONS.c.expires_at > self._now(),
                OPERATORS.c.removed_at.is_(None),
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return OperatorSession(_operator(row), session_id, aware(row.expires_at))

    async def end_session(self, session_id: str) -> bool:
        """End the session with that id (its token's hash); False when there was none."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == session_id))
        return bool(result.rowcount)

    async def purge_expired(self) -> int:
        """Delete expired sessions; returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= self._now()))
        return result.rowcount

    async def session_counts(self) -> dict[int, int]:
        """Unexpired sessions per operator id (operators without one are left out)."""
        query = (
            select(SESSIONS.c.operator_id, func.count())
            .where(SESSIONS.c.expires_at > self._now())
            .group_by(SESSIONS.c.operator_id)
        )
        async with self._engine.connect() as conn:
            return {operator_id: count for operator_id, count in await conn.execute(query)}


def _operator(row: Any) -> OperatorRecord:
    return OperatorRecord(
        id=row.id,
        name=row.name,
        created_at=aware(row.created_at),
        password_changed_at=aware(row.password_changed_at),
        removed_at=aware(row.removed_at) if row.removed_at is not None else None,
    )
