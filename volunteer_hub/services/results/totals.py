"""Per-commune daily totals for the national reports: computed, read and kept true.

An admin's report of the whole country over 90 days used to count about 230,000 visits and
500,000 messages on every request. The worker (job ``report-totals``, role ``purge``) and
``volunteer-hub reports rebuild-totals`` count each closed local day once, with the very
passes the report uses (:func:`reports.count_into` over that day), and store:

* ``commune_day_totals``: each commune's additive figures of the day (requests, visits,
  people helped, outcomes, volunteer hours, SMS and their cost), plus one row without a
  commune for the SMS that belong to none (they count in the country's total only);
* ``volunteer_day_totals``: each volunteer who went, per commune, with the minutes and visits
  that count for them: the volunteers who went are distinct people, never a sum, so the
  report unites these sets over the period (a few thousand rows a day);
* ``report_day``: the days computed, in which time zone.

Exactness: the report reads totals only for days in ``report_day`` (same time zone), before
yesterday, and not marked stale; every other day is counted from the raw rows. A change to a
computed day (an outcome reported late, a delivery report after midnight, a request moved to
another commune, a plan published again) marks that day stale in the same transaction
(:func:`install`: an ORM flush hook, and a hook on bulk ``UPDATE``/``DELETE`` of messages and
visits); the worker computes it again and removes only the marks it saw. The urgent requests
served and their median wait join a request's day to its visit's: they are kept as one small
row per urgent visit done (``urgent_visit_days``: its day, commune, when the request came and
the wait), filtered by the period at read time, and the median is taken over those rows.
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Delete, Update, delete, event, func, insert, select, true
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ORMExecuteState, Session

from volunteer_hub.models import (
    Commune,
    CommuneDayTotal,
    HelpRequest,
    Message,
    Plan,
    ReportDay,
    ReportStaleDay,
    RequestSource,
    Team,
    UrgentVisitDay,
    Visit,
    VisitOutcome,
    VisitStatus,
    Volunteer,
    VolunteerDayTotal,
    utcnow,
)
from volunteer_hub.services.results.reports import Figures, Period, Tally, _visits, count_into

#: Days counted from the raw rows whatever the totals: today and yesterday. A day is totalled
#: only once it is at least this old, so a write still in flight at midnight is in it.
OPEN_DAYS = 2

#: An urgent request, as the report counts them (follow-ups are not).
URGENT = (HelpRequest.priority >= 4) & (HelpRequest.source != RequestSource.FOLLOW_UP)

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


def compute_day(session: Session, day: date, tz: ZoneInfo) -> int:
    """Count ``day`` from the raw rows and store its totals (replacing any); return the rows.

    The caller commits. The stale marks of the day seen before counting are removed: a mark
    written meanwhile by another transaction stays, so that day is counted again.
    """
    seen = list(session.scalars(select(ReportStaleDay.id).where(ReportStaleDay.day == day)))
    commune_ids = list(session.scalars(select(Commune.id).order_by(Commune.id)))
    tally = Tally({cid: Figures() for cid in commune_ids})
    start, end = Period(day, day).bounds(tz)
    count_into(tally, session, None, start, end, commune_ids, everywhere=True)
    session.execute(delete(CommuneDayTotal).where(CommuneDayTotal.day == day))
    session.execute(delete(VolunteerDayTotal).where(VolunteerDayTotal.day == day))
    rows: list[dict[str, Any]] = []
    for commune_id, f in tally.figures.items():
        if not any(getattr(f, name) for name in ADDED) and not f.outcomes:
            continue
        rows.append(
            {
                "day": day,
                "commune_id": commune_id,
                **{name: getattr(f, name) for name in ADDED},
                "outcomes": f.outcomes,
                "sms_units": {},
            }
        )
    # The row without commune: the SMS of no commune, and the day's currencies.
    f = tally.unplaced
    if tally.units or any(getattr(f, name) for name in ADDED):
        rows.append(
            {
                "day": day,
                "commune_id": None,
                **{name: getattr(f, name) for name in ADDED},
                "outcomes": {},
                "sms_units": dict(tally.units),
            }
        )
    if rows:
        session.execute(insert(CommuneDayTotal), rows)
    went = [
        {"day": day, "commune_id": c, "volunteer_id": v, "minutes": m, "visits": int(n)}
        for (c, v), (m, n) in tally.went.items()
    ]
    if went:
        session.execute(insert(VolunteerDayTotal), went)
    session.execute(delete(UrgentVisitDay).where(UrgentVisitDay.day == day))
    urgent = [
        {
            "day": day,
            "commune_id": commune_id,
            "received_at": created,
            "wait_days": (visited - created).total_seconds() / 86400,
        }
        for commune_id, visited, created in session.execute(
            _visits(true(), start, end, None, HelpRequest.commune_id)
            .add_columns(Visit.starts_at, HelpRequest.created_at)
            .where(Visit.status == VisitStatus.DONE, URGENT)
        )
    ]
    if urgent:
        session.execute(insert(UrgentVisitDay), urgent)
    session.execute(delete(ReportDay).where(ReportDay.day == day))
    session.execute(
        insert(ReportDay), [{"day": day, "computed_at": utcnow(), "timezone": _zone_name(tz)}]
    )
    if seen:
        session.execute(delete(ReportStaleDay).where(ReportStaleDay.id.in_(seen)))
    return len(rows) + len(went) + len(urgent)


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


@dataclass
class TotalsRun:
    """What one refresh did."""

    days: list[date]
    rows: int
    seconds: float
    skipped: bool = False


def _lock(session: Session) -> bool:
    """One refresh at a time across workers (PostgreSQL: an advisory lock for the
    transaction; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(0x7648_1670))))


def days_to_compute(
    session: Session, tz: ZoneInfo, *, keep_days: int, now: datetime | None = None
) -> list[date]:
    """Closed days of the last ``keep_days`` without totals (or stale), newest first."""
    last = last_closed_day(tz, now)
    first = last - timedelta(days=max(0, keep_days - 1))
    done = set(
        session.scalars(
            select(ReportDay.day).where(
                ReportDay.day >= first,
                ReportDay.day <= last,
                ReportDay.timezone == _zone_name(tz),
            )
        )
    )
    stale = set(
        session.scalars(
            select(ReportStaleDay.day).where(
                ReportStaleDay.day >= first, ReportStaleDay.day <= last
            )
        )
    )
    wanted = []
    day = last
    while day >= first:
        if day not in done or day in stale:
            wanted.append(day)
        day -= timedelta(days=1)
    return wanted


def refresh(
    session: Session,
    tz: ZoneInfo,
    *,
    keep_days: int = 400,
    max_days: int = 31,
    budget_s: float = 120.0,
    now: datetime | None = None,
) -> TotalsRun:
    """Compute the days :func:`days_to_compute` lists, newest first, committing each; stop
    after ``max_days`` days or ``budget_s`` seconds (the next run goes on)."""
    started = clock.monotonic()
    if not _lock(session):
        return TotalsRun([], 0, 0.0, skipped=True)
    wanted = days_to_compute(session, tz, keep_days=keep_days, now=now)
    done: list[date] = []
    rows = 0
    for day in wanted[:max_days]:
        rows += compute_day(session, day, tz)
        done.append(day)
        if clock.monotonic() - started > budget_s:
            break
        session.commit()
        if not _lock(session):  # the lock ends with each transaction: take it again
            break
    return TotalsRun(done, rows, clock.monotonic() - started)


def rebuild(session: Session, first: date, last: date, tz: ZoneInfo, echo: Any = None) -> int:
    """Compute every day from ``first`` to ``last`` (capped at the last closed day), each in
    its own transaction; return the days computed."""
    last = min(last, last_closed_day(tz))
    count = 0
    day = first
    while day <= last:
        if not _lock(session):
            raise RuntimeError("another process is computing the report totals; try later")
        rows = compute_day(session, day, tz)
        session.commit()
        count += 1
        if echo is not None:
            echo(f"{day.isoformat()}: {rows} rows")
        day += timedelta(days=1)
    return count


# --- Keeping computed days true: mark the days a change touches -------------------------


def _zone() -> ZoneInfo:
    from flask import current_app, has_app_context

    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "Asia/Ho_Chi_Minh")


def _days_between(first: datetime | None, last: datetime | None, tz: ZoneInfo) -> set[date]:
    """The local days from ``first`` to ``last`` (either may be None), one day wider on each
    side so that a time zone other than the reports' still marks the right day."""
    values = [v for v in (first, last) if v is not None]
    if not values:
        return set()
    low = min(v.astimezone(tz).date() for v in values) - timedelta(days=1)
    high = max(v.astimezone(tz).date() for v in values) + timedelta(days=1)
    closed = last_closed_day(tz) + timedelta(days=1)  # the day before yesterday's neighbour
    high = min(high, closed)
    days = set()
    day = low
    while day <= high:
        days.add(day)
        day += timedelta(days=1)
    return days


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = sa_inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _history_values(obj: Any, name: str) -> list[Any]:
    history = sa_inspect(obj).attrs[name].history
    return [v for v in (*history.added, *history.deleted, *history.unchanged) if v is not None]


def _visit_range(session: Session, *where: Any) -> tuple[datetime | None, datetime | None]:
    return session.execute(
        select(func.min(Visit.starts_at), func.max(Visit.starts_at)).where(*where)
    ).one()  # type: ignore[return-value]


def _message_range(session: Session, *where: Any) -> tuple[datetime | None, datetime | None]:
    return session.execute(
        select(func.min(Message.created_at), func.max(Message.created_at)).where(*where)
    ).one()  # type: ignore[return-value]


VISIT_FIELDS = (
    "status",
    "starts_at",
    "ends_at",
    "minutes_spent",
    "people_helped",
    "team_id",
    "shift_index",
    "plan_id",
    "request_id",
)
MESSAGE_FIELDS = ("status", "price", "price_unit", "request_id", "volunteer_id", "created_at")
REQUEST_FIELDS = ("commune_id", "priority", "source", "created_at")


def _touched_days(session: Session, tz: ZoneInfo) -> set[date]:
    """The local days the session's pending changes touch in the reports."""
    days: set[date] = set()
    changed = [(obj, False) for obj in session.dirty] + [
        (obj, True) for obj in (*session.new, *session.deleted)
    ]
    for obj, whole in changed:
        if isinstance(obj, Visit):
            if whole or _changed(obj, VISIT_FIELDS):
                values = _history_values(obj, "starts_at")
                days |= _days_between(min(values, default=None), max(values, default=None), tz)
        elif isinstance(obj, VisitOutcome):
            visit = obj.visit if obj.visit is not None else session.get(Visit, obj.visit_id)
            if visit is not None and visit.starts_at is not None:
                days |= _days_between(visit.starts_at, visit.starts_at, tz)
        elif isinstance(obj, Message):
            if whole or _changed(obj, MESSAGE_FIELDS):
                values = _history_values(obj, "created_at")
                days |= _days_between(min(values, default=None), max(values, default=None), tz)
        elif isinstance(obj, HelpRequest):
            if whole or _changed(obj, REQUEST_FIELDS):
                values = _history_values(obj, "created_at")
                days |= _days_between(min(values, default=None), max(values, default=None), tz)
                if obj.id is not None:
                    days |= _days_between(*_visit_range(session, Visit.request_id == obj.id), tz)
                    days |= _days_between(
                        *_message_range(session, Message.request_id == obj.id), tz
                    )
        elif isinstance(obj, Plan):
            republished = (whole and obj.published_at is not None) or _changed(
                obj, ("published_at", "result")
            )
            if republished and obj.drive_id is not None:
                plans = select(Plan.id).where(Plan.drive_id == obj.drive_id)
                days |= _days_between(*_visit_range(session, Visit.plan_id.in_(plans)), tz)
        elif isinstance(obj, Team):
            if obj.id is not None and (whole or _changed(obj, ("code", "members"))):
                days |= _days_between(*_visit_range(session, Visit.team_id == obj.id), tz)
        elif (
            isinstance(obj, Volunteer)
            and obj.id is not None
            and (whole or _changed(obj, ("home_commune_id",)))
        ):
            own = (Message.volunteer_id == obj.id, Message.request_id.is_(None))
            days |= _days_between(*_message_range(session, *own), tz)
    return days


def _mark(session: Session, days: set[date], tz: ZoneInfo) -> None:
    """Mark stale the days among ``days`` that have totals."""
    days = {d for d in days if d <= last_closed_day(tz)}
    if not days:
        return
    computed = (
        set(
            session.scalars(
                select(ReportDay.day).where(ReportDay.day >= min(days), ReportDay.day <= max(days))
            )
        )
        & days
    )
    if computed:
        session.execute(
            insert(ReportStaleDay), [{"day": d, "marked_at": utcnow()} for d in sorted(computed)]
        )


_TRACKED = (Visit, VisitOutcome, Message, HelpRequest, Plan, Team, Volunteer)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not any(
        isinstance(obj, _TRACKED) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        return
    tz = _zone()
    with session.no_autoflush:
        _mark(session, _touched_days(session, tz), tz)


def _on_execute(state: ORMExecuteState) -> None:
    """Before a bulk UPDATE or DELETE of messages or visits, mark the days of the rows hit."""
    statement = state.statement
    if not isinstance(statement, (Update, Delete)) or state.execution_options.get("report_totals"):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name not in ("message", "visit"):
        return
    where = statement.whereclause
    column = Message.created_at if name == "message" else Visit.starts_at
    query = select(func.min(column), func.max(column))
    if where is not None:
        query = query.where(where)
    elif isinstance(state.parameters, (list, tuple)):
        # An ORM bulk UPDATE by primary key: the rows are the parameters' ids.
        ids = [p.get("id") for p in state.parameters if isinstance(p, dict)]
        key = Message.id if name == "message" else Visit.id
        query = query.where(key.in_([i for i in ids if i is not None]))
    session = state.session
    tz = _zone()
    first, last = session.execute(query, execution_options={"report_totals": True}).one()
    _mark(session, _days_between(first, last, tz), tz)


_installed = False


def install() -> None:
    """Listen to every session's flushes and bulk statements (once per process)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    _installed = True
