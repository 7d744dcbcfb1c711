"""Reading the per-commune daily totals (kept by services/results/totals.py) into a report.

Only what the report needs to read: which days of a period have totals it may trust, and
their figures, volunteers who went, urgent visits and daily trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Commune,
    CommuneDayTotal,
    ReportDay,
    ReportStaleDay,
    UrgentVisitDay,
    VolunteerDayTotal,
    utcnow,
)
from volunteer_hub.services.results.figures import Period, Tally

#: Days counted from the raw rows whatever the totals: today and yesterday. A day is totalled
#: only once it is at least this old, so a write still in flight at midnight is in it.
OPEN_DAYS = 2


#: The figures a commune's daily row adds up (the SMS ones also in the row without commune).
ADDED = (
    "requests_received",
    "follow_ups_received",
    "urgent_received",
    "planned",
    "served",
    "not_home",
    "people_helped",
    "volunteer_hours",
    "sms_sent",
    "sms_delivered",
    "sms_failed",
    "sms_cost",
)


def _zone_name(tz: ZoneInfo) -> str:
    return tz.key


def last_closed_day(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The newest day totals may hold (the day before yesterday, locally)."""
    today = (now or utcnow()).astimezone(tz).date()
    return today - timedelta(days=OPEN_DAYS)


def covered_days(session: Session, period: Period, tz: ZoneInfo) -> list[date]:
    """The period's days whose totals the report may read (computed, closed, not stale)."""
    last = min(period.last, last_closed_day(tz))
    if last < period.first:
        return []
    stale = select(ReportStaleDay.day).where(
        ReportStaleDay.day >= period.first, ReportStaleDay.day <= last
    )
    return list(
        session.scalars(
            select(ReportDay.day)
            .where(
                ReportDay.day >= period.first,
                ReportDay.day <= last,
                ReportDay.timezone == _zone_name(tz),
                ReportDay.day.not_in(stale),
            )
            .order_by(ReportDay.day)
        )
    )


def add_totals(session: Session, days: list[date], tally: Tally) -> None:
    """Add the stored totals of ``days`` (from :func:`covered_days`) into ``tally``."""
    if not days:
        return
    first, last = days[0], days[-1]
    # Runs of consecutive days make short BETWEEN clauses; a stale day inside is left out.
    in_days = _day_clause(CommuneDayTotal.day, days)
    columns = [getattr(CommuneDayTotal, name) for name in ADDED]
    rows = session.execute(
        select(CommuneDayTotal.commune_id, *[func.sum(c) for c in columns])
        .where(in_days, CommuneDayTotal.day >= first, CommuneDayTotal.day <= last)
        .group_by(CommuneDayTotal.commune_id)
    )
    for commune_id, *sums in rows:
        placed = tally.figures.get(commune_id) if commune_id is not None else tally.unplaced
        for f in (tally.total, placed):
            if f is None:
                continue
            for name, value in zip(ADDED, sums, strict=True):
                setattr(f, name, getattr(f, name) + (value or 0))
    # Outcomes and currencies are small JSON objects: read only the rows that have some.
    for commune_id, outcomes, units in session.execute(
        select(CommuneDayTotal.commune_id, CommuneDayTotal.outcomes, CommuneDayTotal.sms_units)
        .where(in_days, CommuneDayTotal.day >= first, CommuneDayTotal.day <= last)
        .where((CommuneDayTotal.planned > 0) | CommuneDayTotal.commune_id.is_(None))
    ):
        placed = tally.figures.get(commune_id) if commune_id is not None else None
        for f in (tally.total, placed):
            if f is None:
                continue
            for code, counts in (outcomes or {}).items():
                by = f.outcomes.setdefault(code, {})
                for outcome, count in counts.items():
                    by[outcome] = by.get(outcome, 0) + int(count)
        for unit, count in (units or {}).items():
            tally.units[unit] += int(count)
    tally.stored = stored_went(session, days)


def daily_served(session: Session, days: list[date]) -> dict[date, tuple[int, int]]:
    """The visits done and people helped on each of ``days`` (from :func:`covered_days`), for
    the report's trend over time."""
    if not days:
        return {}
    in_days = _day_clause(CommuneDayTotal.day, days)
    rows = session.execute(
        select(
            CommuneDayTotal.day,
            func.sum(CommuneDayTotal.served),
            func.sum(CommuneDayTotal.people_helped),
        )
        .where(in_days, CommuneDayTotal.day >= days[0], CommuneDayTotal.day <= days[-1])
        .group_by(CommuneDayTotal.day)
    )
    return {
        (d if isinstance(d, date) else date.fromisoformat(str(d))): (int(n or 0), int(h or 0))
        for d, n, h in rows
        if n
    }


@dataclass
class StoredWent:
    """The volunteers who went on totalled days: distinct counts per commune, per province
    and in all (counted by the database), and each volunteer's minutes and visits."""

    days: list[date]
    by_commune: dict[int, int]
    by_province: dict[int, int]
    total: int
    minutes: dict[int, tuple[float, int]]

    def pairs_for(self, session: Session, volunteer_ids: set[int]) -> set[tuple[int, int]]:
        """(commune, volunteer) of these volunteers on the totalled days."""
        pairs: set[tuple[int, int]] = set()
        ids = sorted(volunteer_ids)
        for start in range(0, len(ids), 1000):
            rows = session.execute(
                select(VolunteerDayTotal.commune_id, VolunteerDayTotal.volunteer_id)
                .where(_in_days(VolunteerDayTotal.day, self.days))
                .where(VolunteerDayTotal.volunteer_id.in_(ids[start : start + 1000]))
                .distinct()
            )
            pairs.update((c, v) for c, v in rows)
        return pairs


def _in_days(column: Any, days: list[date]) -> Any:
    return _day_clause(column, days) & (column >= days[0]) & (column <= days[-1])


def stored_went(session: Session, days: list[date]) -> StoredWent:
    """Count the volunteers who went on ``days`` (sorted, not empty) in the database."""
    in_days = _in_days(VolunteerDayTotal.day, days)
    person = func.count(VolunteerDayTotal.volunteer_id.distinct())
    by_commune = dict(
        session.execute(
            select(VolunteerDayTotal.commune_id, person)
            .where(in_days)
            .group_by(VolunteerDayTotal.commune_id)
        ).all()
    )
    by_province = dict(
        session.execute(
            select(Commune.province_id, person)
            .join(Commune, Commune.id == VolunteerDayTotal.commune_id)
            .where(in_days)
            .group_by(Commune.province_id)
        ).all()
    )
    total = int(session.scalar(select(person).where(in_days)) or 0)
    minutes = {
        volunteer_id: (float(spent or 0), int(visits or 0))
        for volunteer_id, spent, visits in session.execute(
            select(
                VolunteerDayTotal.volunteer_id,
                func.sum(VolunteerDayTotal.minutes),
                func.sum(VolunteerDayTotal.visits),
            )
            .where(in_days)
            .group_by(VolunteerDayTotal.volunteer_id)
        )
    }
    return StoredWent(days, by_commune, by_province, total, minutes)


def _day_clause(column: Any, days: list[date]) -> Any:
    """``column`` in ``days`` (sorted), as one BETWEEN per run of consecutive days."""
    from sqlalchemy import or_

    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return or_(*[column.between(a, b) for a, b in runs])


def urgent_served(
    session: Session, days: list[date], start: datetime, end: datetime
) -> list[tuple[int, float]]:
    """(commune, wait in days) of the urgent requests received in ``[start, end)`` and
    served on ``days`` (from :func:`covered_days`)."""
    return [
        (commune_id, float(wait))
        for commune_id, wait in session.execute(
            select(UrgentVisitDay.commune_id, UrgentVisitDay.wait_days).where(
                _in_days(UrgentVisitDay.day, days),
                UrgentVisitDay.received_at >= start,
                UrgentVisitDay.received_at < end,
            )
        )
    ]
