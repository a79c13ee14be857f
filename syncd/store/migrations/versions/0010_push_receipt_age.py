"""Index push receipts by when they were applied, so retention finds the oldest without a full scan.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ix_push_receipts_applied_at."""
    op.create_index("ix_push_receipts_applied_at", "push_receipts", ["applied_at"])


def downgrade() -> None:
    """Drop ix_push_receipts_applied_at."""
    op.drop_index("ix_push_receipts_applied_at", table_name="push_receipts")
