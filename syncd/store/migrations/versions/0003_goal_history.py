"""Keep every version of a goal and the results of finished check-ins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create goal_versions and checkpoint_results."""
    op.create_table(
        "goal_versions",
        sa.Column("goal_key", sa.String(700), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("goal_key", "effective_from", name="pk_goal_versions"),
    )
    op.create_table(
        "checkpoint_results",
        sa.Column("goal_key", sa.String(700), nullable=False),
        sa.Column("checkpoint", sa.String(100), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("hit", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("goal_key", "checkpoint", name="pk_checkpoint_results"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("checkpoint_results")
    op.drop_table("goal_versions")
