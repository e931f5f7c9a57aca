"""events.message_id

Lets the store find a message's events (its ``accepted`` event above all) through an index instead of
parsing every payload of the conversation. Frozen: never edit, add a revision instead.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One statement per dialect: the database reads the JSON itself, so no row travels to Python. Every stored
# payload is an event of ``app.events``: ``error`` names its message in ``reply_to`` (possibly null), every
# other type in ``message_id``.
_BACKFILL = {
    "sqlite": """
        UPDATE events SET message_id = CASE type
            WHEN 'error' THEN json_extract(payload, '$.reply_to')
            ELSE json_extract(payload, '$.message_id')
        END
    """,
    "postgresql": """
        UPDATE events SET message_id = CASE type
            WHEN 'error' THEN payload::json ->> 'reply_to'
            ELSE payload::json ->> 'message_id'
        END
    """,
}


def upgrade() -> None:
    """Add ``events.message_id``, fill it from each payload, then index it."""
    op.add_column("events", sa.Column("message_id", sa.String(64), nullable=True))
    op.execute(_BACKFILL[op.get_bind().dialect.name])
    # Indexing after the backfill builds the index once instead of updating it row by row.
    op.create_index("ix_events_conversation_message", "events", ["conversation_id", "message_id"])


def downgrade() -> None:
    """Drop ``events.message_id`` and its index."""
    op.drop_index("ix_events_conversation_message", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("message_id")
