"""Placeholder until the Alembic migrations land: create missing tables."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.tables import Base


async def upgrade(engine: AsyncEngine) -> list[str]:
    """Bring the schema up to date."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return []
