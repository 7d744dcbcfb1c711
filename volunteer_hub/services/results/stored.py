"""Reading the per-commune daily totals (kept by services/results/totals.py) into a report.

Only what the report needs to read: which days of a period have totals it may trust, and
their figures, volunteers who went, urgent visits and daily trend. Every reader takes the
scope's communes (``communes``; None for the whole country) and keeps to their rows, so a
province's or a commune's report reads its own rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, any_, bindparam, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
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


def _in_communes(column: Any, communes: list[int] | None) -> Any:
    """``column`` among the scope's communes (everything when ``communes`` is None)."""
    return true() if communes is None else column.in_(communes)


def add_totals(
    session: Session, days: list[date], tally: Tally, communes: list[int] | None = None
) -> None:
    """Add the stored totals of ``days`` (from :func:`covered_days`) into ``tally``: of every
    commune and the row without commune (``communes`` None: the whole country), or of the
    given communes only (the row without commune is then left out: the report counts the
    messages about its drives that no commune of the scope holds from the rows)."""
    if not days:
        return
    first, last = days[0], days[-1]
    # Runs of consecutive days make short BETWEEN clauses; a stale day inside is left out.
    in_days = _day_clause(CommuneDayTotal.day, days)
    in_scope = _in_communes(CommuneDayTotal.commune_id, communes)
    columns = [getattr(CommuneDayTotal, name) for name in ADDED]
    rows = session.execute(
        select(CommuneDayTotal.commune_id, *[func.sum(c) for c in columns])
        .where(in_days, in_scope, CommuneDayTotal.day >= first, CommuneDayTotal.day <= last)
        .group_by(CommuneDayTotal.commune_id)
    )
    stored_cost = 0.0
    for commune_id, *sums in rows:
        stored_cost += float(sums[ADDED.index("sms_cost")] or 0)
        placed = tally.figures.get(commune_id) if commune_id is not None else tally.unplaced
        for f in (tally.total, placed):
            if f is None:
                continue
            for name, value in zip(ADDED, sums, strict=True):
                setattr(f, name, getattr(f, name) + (value or 0))
    # Outcomes and currencies are small JSON objects. The whole country reads the rows with
    # visits and the row without commune, which holds the day's currencies (all its messages');
    # a scope reads all its communes' rows, each with its own messages' currencies.
    wanted = (
        (CommuneDayTotal.planned > 0) | CommuneDayTotal.commune_id.is_(None)
        if communes is None
        else in_scope
    )
    units_seen = False
    for commune_id, outcomes, units in session.execute(
        select(CommuneDayTotal.commune_id, CommuneDayTotal.outcomes, CommuneDayTotal.sms_units)
        .where(in_days, CommuneDayTotal.day >= first, CommuneDayTotal.day <= last)
        .where(wanted)
    ):
        placed = tally.figures.get(commune_id) if commune_id is not None else None
        for f in (tally.total, placed):
            if f is None:
                continue
            for code, counts in (outcomes or {}).items():
                by = f.outcomes.setdefault(code, {})
                for outcome, count in counts.items():
                    by[outcome] = by.get(outcome, 0) + int(count)
        if communes is None and commune_id is not None:
            continue  # the row without commune has the day's currencies already
        for unit, count in (units or {}).items():
            tally.units[unit] += int(count)
            units_seen = True
    if communes is not None and not units_seen and stored_cost > 0:
        # Days totalled before the communes' rows held their currencies: the day's own.
        for (units,) in session.execute(
            select(CommuneDayTotal.sms_units).where(
                in_days,
                CommuneDayTotal.day >= first,
                CommuneDayTotal.day <= last,
                CommuneDayTotal.commune_id.is_(None),
            )
        ):
            for unit, count in (units or {}).items():
                tally.units[unit] += int(count)
    tally.stored = stored_went(session, days, communes)


def daily_served(
    session: Session, days: list[date], communes: list[int] | None = None
) -> dict[date, tuple[int, int]]:
    """The visits done and people helped on each of ``days`` (from :func:`covered_days`), in
    the scope's communes (None: all), for the report's trend over time."""
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
        .where(_in_communes(CommuneDayTotal.commune_id, communes))
        .group_by(CommuneDayTotal.day)
    )
    return {
        (d if isinstance(d, date) else date.fromisoformat(str(d))): (int(n or 0), int(h or 0))
        for d, n, h in rows
        if n
    }


@dataclass
class StoredWent:
    """The volunteers who went on totalled days, in the scope's communes (None: all): distinct
    counts per commune, per province and in all (counted by the database), and each
    volunteer's minutes and visits."""

    days: list[date]
    communes: list[int] | None
    by_commune: dict[int, int]
    by_province: dict[int, int]
    total: int
    minutes: dict[int, tuple[float, int]]

    def seen(
        self, session: Session, went: set[tuple[int, int]]
    ) -> tuple[set[tuple[int, int]], set[tuple[int, int]], set[int]]:
        """Which of the live days' volunteers who went (``went``: (commune, volunteer) pairs)
        the totalled days already have: (commune, volunteer) pairs, (province, volunteer)
        pairs, and the volunteers.

        Only what the live days' pairs need comes back: each volunteer's provinces, and the
        live pairs found in the totalled days. Reading every commune each live volunteer went
        to on the totalled days was 104,000 rows in ten statements over a country's 90 days.
        """
        if not went:
            return set(), set(), set()
        postgresql = session.get_bind().dialect.name == "postgresql"
        kept = _in_days(VolunteerDayTotal.day, self.days) & _in_communes(
            VolunteerDayTotal.commune_id, self.communes
        )
        people = sorted({v for _c, v in went})
        in_province: set[tuple[int, int]] = set()
        # PostgreSQL takes the ids as one array; SQLite IN lists under its 32,766 variables.
        step = len(people) if postgresql else 10_000
        for start in range(0, len(people), step):
            chunk = people[start : start + step]
            wanted = (
                VolunteerDayTotal.volunteer_id == any_(bindparam("people", chunk, ARRAY(Integer)))
                if postgresql
                else VolunteerDayTotal.volunteer_id.in_(chunk)
            )
            in_province.update(
                (province, volunteer)
                for province, volunteer in session.execute(
                    select(Commune.province_id, VolunteerDayTotal.volunteer_id)
                    .join(Commune, Commune.id == VolunteerDayTotal.commune_id)
                    .where(kept, wanted)
                    .distinct()
                )
            )
        seen_people = {v for _p, v in in_province}
        # A live pair can be in the totalled days only if its volunteer is.
        pairs = sorted((c, v) for c, v in went if v in seen_people)
        in_commune: set[tuple[int, int]] = set()
        # The live pairs the totalled days hold: one array joined on PostgreSQL, IN lists else.
        held = (
            select(VolunteerDayTotal.commune_id, VolunteerDayTotal.volunteer_id)
            .where(kept)
            .distinct()
        )
        if postgresql and pairs:
            live = select(
                func.unnest(bindparam("communes", [c for c, _v in pairs], ARRAY(Integer))).label(
                    "commune_id"
                ),
                func.unnest(bindparam("people", [v for _c, v in pairs], ARRAY(Integer))).label(
                    "volunteer_id"
                ),
            ).subquery("live")
            found = held.join(
                live,
                (live.c.commune_id == VolunteerDayTotal.commune_id)
                & (live.c.volunteer_id == VolunteerDayTotal.volunteer_id),
            )
            in_commune.update(tuple(row) for row in session.execute(found))
        else:
            pair = tuple_(VolunteerDayTotal.commune_id, VolunteerDayTotal.volunteer_id)
            for start in range(0, len(pairs), 5_000):
                found = held.where(pair.in_(pairs[start : start + 5_000]))
                in_commune.update(tuple(row) for row in session.execute(found))
        return in_commune, in_province, seen_people


def _in_days(column: Any, days: list[date]) -> Any:
    return _day_clause(column, days) & (column >= days[0]) & (column <= days[-1])


def stored_went(
    session: Session, days: list[date], communes: list[int] | None = None
) -> StoredWent:
    """Count the volunteers who went on ``days`` (sorted, not empty), in the scope's communes
    (None: all), in the database."""
    in_days = _in_days(VolunteerDayTotal.day, days) & _in_communes(
        VolunteerDayTotal.commune_id, communes
    )
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
    return StoredWent(days, communes, by_commune, by_province, total, minutes)


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
    session: Session,
    days: list[date],
    start: datetime,
    end: datetime,
    communes: list[int] | None = None,
) -> list[tuple[int, float]]:
    """(commune, wait in days) of the urgent requests received in ``[start, end)`` and
    served on ``days`` (from :func:`covered_days`), in the scope's communes (None: all)."""
    return [
        (commune_id, float(wait))
        for commune_id, wait in session.execute(
            select(UrgentVisitDay.commune_id, UrgentVisitDay.wait_days).where(
                _in_days(UrgentVisitDay.day, days),
                UrgentVisitDay.received_at >= start,
                UrgentVisitDay.received_at < end,
                _in_communes(UrgentVisitDay.commune_id, communes),
            )
        )
    ]
