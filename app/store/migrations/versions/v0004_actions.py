"""actions and verifications

Changes the model asked for that wait for the customer's confirmation (each decided at most once), and the
identity a conversation's customer proved with an order number and its email or postcode. Frozen: never edit,
add a revision instead.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create actions and verifications."""
    op.create_table(
        "actions",
        sa.Column("action_id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_actions_conversation_id", "actions", ["conversation_id"])
    op.create_table(
        "verifications",
        sa.Column("conversation_id", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop verifications and actions (and their data)."""
    op.drop_table("verifications")
    op.drop_table("actions")
