"""Create daily_counts and source_state.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the two tables of the first release."""
    # Types are spelled out rather than imported from models, so this file keeps meaning what it
    # meant when it shipped, whatever the models become.
    op.create_table(
        "daily_counts",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "metric", "subject", "day", name="pk_daily_counts"),
    )
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("cursor_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connector_state", sa.Text(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_state"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("source_state")
    op.drop_table("daily_counts")
