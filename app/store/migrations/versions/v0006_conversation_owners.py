"""conversation_owners, messages.operator_id

Who answers a conversation when it is not the assistant (waiting for a person, a person, closed) with the
reason a person was asked for and a customer's ticket email; and the operator who wrote a message (role
"operator"). Frozen once released: never edit, add a revision instead.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create conversation_owners; add messages.operator_id."""
    op.create_table(
        "conversation_owners",
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket_email", sa.String(254), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_owners_state", "conversation_owners", ["state"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop messages.operator_id and conversation_owners (every handoff state)."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("operator_id")
    op.drop_index("ix_conversation_owners_state", table_name="conversation_owners")
    op.drop_table("conversation_owners")
