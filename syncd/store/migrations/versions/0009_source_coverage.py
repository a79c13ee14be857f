"""Remember from which day each source's counts are stored without a gap, up to its cursor.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create source_coverage, starting each synced source at its earliest stored day."""
    op.create_table(
        "source_coverage",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("covered_from", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_coverage"),
    )
    # The best guess for data synced before this table existed: a day with no event stores no
    # row, so this may start a little late, which only makes the daemon re-read a few days.
    op.execute(
        "INSERT INTO source_coverage (source, covered_from) "
        "SELECT daily_counts.source, MIN(daily_counts.day) FROM daily_counts "
        "JOIN source_state ON source_state.source = daily_counts.source "
        "WHERE source_state.cursor_end IS NOT NULL GROUP BY daily_counts.source"
    )


def downgrade() -> None:
    """Drop source_coverage."""
    op.drop_table("source_coverage")
