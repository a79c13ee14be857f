"""The table of judged check-ins, one row per goal, level and check-in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base, UTCDateTime

__all__ = ["CheckinResultRow"]


class CheckinResultRow(Base):
    """How a closed check-in of a goal ended at one level; frozen once `final` is 1."""

    __tablename__ = "checkin_results"

    goal_key: Mapped[str] = mapped_column(String(700), primary_key=True)
    level: Mapped[str] = mapped_column(String(20), primary_key=True)
    checkpoint: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(100))
    first_day: Mapped[date]
    last_day: Mapped[date]
    target: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    unknown_days: Mapped[int] = mapped_column(Integer)
    # hit | missed | incomplete
    outcome: Mapped[str] = mapped_column(String(20))
    final: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
