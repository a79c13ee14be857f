"""The table of applied push keys, so a retried `add` is not counted twice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base, UTCDateTime

__all__ = ["PushReceiptRow"]


class PushReceiptRow(Base):
    """One `add` a push source applied, under the client's idempotency key.

    The count it added is kept too, so an operator can see what a key did.
    """

    __tablename__ = "push_receipts"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    metric: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    day: Mapped[date]
    value: Mapped[float] = mapped_column(Float)
    # Indexed: retention prunes the oldest receipts first (syncd.store.retention).
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
