"""Check-in results per level, with unknown days, an outcome and a final flag.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Rows of the old `checkpoint_results` are carried over at the level their goal's stored
definition names, not final, so the daemon judges again the ones it still can.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create checkin_results, copy the old results into it, drop checkpoint_results."""
    results = op.create_table(
        "checkin_results",
        sa.Column("goal_key", sa.String(700), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("checkpoint", sa.String(100), nullable=False),
        sa.Column("period", sa.String(100), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unknown_days", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("final", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("goal_key", "level", "checkpoint", name="pk_checkin_results"),
    )
    connection = op.get_bind()
    levels: dict[str, str] = {}
    for key, definition in connection.execute(
        sa.text("SELECT goal_key, definition FROM goal_versions ORDER BY effective_from")
    ):
        level = json.loads(definition).get("checkins")
        if isinstance(level, str):
            levels[key] = level  # the latest version wins: ordered oldest first
    # Typed columns, so SQLite's text dates come back as dates for the insert below.
    old_table = sa.table(
        "checkpoint_results",
        sa.column("goal_key", sa.String()),
        sa.column("checkpoint", sa.String()),
        sa.column("first_day", sa.Date()),
        sa.column("last_day", sa.Date()),
        sa.column("target", sa.Float()),
        sa.column("value", sa.Float()),
        sa.column("hit", sa.Integer()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    old = connection.execute(sa.select(old_table)).all()
    rows = [
        {
            "goal_key": r.goal_key,
            "level": levels.get(r.goal_key, ""),
            "checkpoint": r.checkpoint,
            "period": "",
            "first_day": r.first_day,
            "last_day": r.last_day,
            "target": r.target,
            "value": r.value,
            "unknown_days": 0,
            "outcome": "hit" if r.hit else "missed",
            "final": 0,
            "updated_at": r.updated_at,
        }
        for r in old
    ]
    if rows:
        op.bulk_insert(results, rows)
    op.drop_table("checkpoint_results")


def downgrade() -> None:
    """Recreate checkpoint_results from the finest judged level and drop checkin_results."""
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
    op.execute(
        "INSERT INTO checkpoint_results (goal_key, checkpoint, first_day, last_day, target, value, hit, updated_at) "
        "SELECT goal_key, checkpoint, MIN(first_day), MIN(last_day), MIN(target), MIN(value), "
        "MIN(CASE WHEN outcome = 'hit' THEN 1 ELSE 0 END), MAX(updated_at) "
        "FROM checkin_results GROUP BY goal_key, checkpoint"
    )
    op.drop_table("checkin_results")
