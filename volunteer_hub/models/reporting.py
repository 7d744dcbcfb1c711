"""Report totals: each commune's figures per closed local day, kept by the worker.

A national admin report sums these rows for the days they cover and counts the raw rows
only for the days they do not (today, the days not computed yet, and the days a late change
marked stale); see ``services/results/totals.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.models.base import Base, utcnow


class CommuneDayTotal(Base):
    """The additive figures of one commune on one local day (``commune_id`` None: the SMS
    that belong to no commune, counted in the country's total only)."""

    __tablename__ = "commune_day_totals"
    __table_args__ = (Index("ix_commune_day_totals_day_commune", "day", "commune_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("commune.id", ondelete="CASCADE"))
    requests_received: Mapped[int] = mapped_column(Integer, default=0)
    follow_ups_received: Mapped[int] = mapped_column(Integer, default=0)
    urgent_received: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    not_home: Mapped[int] = mapped_column(Integer, default=0)
    people_helped: Mapped[int] = mapped_column(Integer, default=0)
    volunteer_hours: Mapped[float] = mapped_column(Float, default=0.0)
    sms_sent: Mapped[int] = mapped_column(Integer, default=0)
    sms_delivered: Mapped[int] = mapped_column(Integer, default=0)
    sms_failed: Mapped[int] = mapped_column(Integer, default=0)
    sms_cost: Mapped[float] = mapped_column(Float, default=0.0)
    # {currency: messages}, to find the period's commonest currency.
    sms_units: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {service code: {outcome: visits}}.
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class VolunteerDayTotal(Base):
    """A volunteer who went in one commune on one local day, with the minutes and visits that
    count for them there: the volunteers who went (a distinct count, never summed) and the
    hours on certificates come from these rows."""

    __tablename__ = "volunteer_day_totals"
    __table_args__ = (Index("ix_volunteer_day_totals_day_commune", "day", "commune_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id", ondelete="CASCADE"))
    minutes: Mapped[float] = mapped_column(Float, default=0.0)
    visits: Mapped[int] = mapped_column(Integer, default=0)


class UrgentVisitDay(Base):
    """An urgent request served on one local day (its visit's), with when it was received
    and its wait: the urgent served and their median wait join the request's day to the
    visit's, so they are kept as these few rows rather than summed."""

    __tablename__ = "urgent_visit_days"
    __table_args__ = (Index("ix_urgent_visit_days_day", "day", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id", ondelete="CASCADE"))
    received_at: Mapped[datetime]
    wait_days: Mapped[float] = mapped_column(Float)


class ReportDay(Base):
    """A local day whose totals are computed (a day without a row is counted from raw rows)."""

    __tablename__ = "report_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The time zone the day's bounds were taken in (VH_TIMEZONE); another one is not used.
    timezone: Mapped[str] = mapped_column(String(64))


class ReportStaleDay(Base):
    """A computed day changed after its totals were taken: counted from raw rows until the
    worker computes it again (which removes only the marks it saw, so none is lost)."""

    __tablename__ = "report_stale_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
