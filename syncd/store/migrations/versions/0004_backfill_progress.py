"""Remember how far each backfill got, so an interrupted one resumes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create backfill_progress."""
    op.create_table(
        "backfill_progress",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("done_through", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "since", name="pk_backfill_progress"),
    )


def downgrade() -> None:
    """Drop backfill_progress."""
    op.drop_table("backfill_progress")
