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
from volunteer_hub.services.results.figures import Figures, Period, Tally
from volunteer_hub.services.results.reports import _visits, count_into
from volunteer_hub.services.results.stored import (
    ADDED,
    _zone_name,
    last_closed_day,
)

#: An urgent request, as the report counts them (follow-ups are not).
URGENT = (HelpRequest.priority >= 4) & (HelpRequest.source != RequestSource.FOLLOW_UP)


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
        units = dict(tally.units_by_commune.get(commune_id, {}))
        if not any(getattr(f, name) for name in ADDED) and not f.outcomes and not units:
            continue
        rows.append(
            {
                "day": day,
                "commune_id": commune_id,
                **{name: getattr(f, name) for name in ADDED},
                "outcomes": f.outcomes,
                # The currencies of the commune's messages (for a province's or commune's
                # report); the country's report reads the day's from the row without commune.
                "sms_units": units,
            }
        )
    # The row without commune: the SMS of no commune, and the day's currencies (all messages').
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
