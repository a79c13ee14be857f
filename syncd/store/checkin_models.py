"""The table of judged check-ins, one row per goal, level and check-in."""

from __future__ import annotations

from sqlalchemy import Column, Date, Float, Integer, String, Table

from syncd.store.models import METADATA, UTCDateTime

__all__ = ["CHECKIN_RESULTS"]


# How a closed check-in of a goal ended at one level; frozen once `final` is 1.
CHECKIN_RESULTS = Table(
    "checkin_results",
    METADATA,
    Column("goal_key", String(700), primary_key=True),
    Column("level", String(20), primary_key=True),
    Column("checkpoint", String(100), primary_key=True),
    Column("period", String(100), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("target", Float, nullable=False),
    Column("value", Float, nullable=False),
    Column("unknown_days", Integer, nullable=False),
    # hit | missed | incomplete
    Column("outcome", String(20), nullable=False),
    Column("final", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
