"""The table of applied push keys, so a retried `add` is not counted twice."""

from __future__ import annotations

from sqlalchemy import Column, Date, Float, String, Table

from syncd.store.models import METADATA, UTCDateTime

__all__ = ["PUSH_RECEIPTS"]


# One `add` a push source applied, under the client's idempotency key.
# The count it added is kept too, so an operator can see what a key did.
PUSH_RECEIPTS = Table(
    "push_receipts",
    METADATA,
    Column("source", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("metric", String(200), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("day", Date, nullable=False),
    Column("value", Float, nullable=False),
    # Indexed: retention prunes the oldest receipts first (syncd.store.retention).
    Column("applied_at", UTCDateTime, nullable=False, index=True),
)
