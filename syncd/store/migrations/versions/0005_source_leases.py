"""Replicas on PostgreSQL: source leases with fencing tokens, replica heartbeats, one open goal version.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create source_leases and replicas; allow one open version per goal."""
    op.create_table(
        "source_leases",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_leases"),
    )
    op.create_table(
        "replicas",
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("holder", name="pk_replicas"),
    )
    # Two replicas starting together must not both open a version of the same goal.
    op.create_index(
        "uq_goal_versions_open",
        "goal_versions",
        ["goal_key"],
        unique=True,
        postgresql_where=sa.text("effective_to IS NULL"),
        sqlite_where=sa.text("effective_to IS NULL"),
    )


def downgrade() -> None:
    """Drop the index and both tables."""
    op.drop_index("uq_goal_versions_open", table_name="goal_versions")
    op.drop_table("replicas")
    op.drop_table("source_leases")
