"""What was achieved, per drive and per commune over a date range: the dashboard's figures.

Definitions (the same on the dashboard, in the API and in the Excel report):

* requests received: requests created in the period (follow-ups counted apart);
* planned: households with a visit in the newest published plan of their drive, in the period;
* served: those visits reported done (the visit happened, at least one service helped);
* people helped: the people counted in those reports;
* urgent (priority 4-5): received in the period, and how many of them are served by the end
  of the period, with their wait from request to visit;
* volunteer hours: for each volunteer, the visits they made (done or not at home) in the
  period: service minutes as reported (else as planned) plus their tour's travel;
* SMS: messages created in the period, by what happened to them, and what they cost.

For one drive, the figures are the drive's whatever the dates: its requests (those included
in it), the visits of its newest published plan, and the messages sent about it; the period
is then the drive's days (:func:`drive_period`).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from volunteer_hub.models import (
    Commune,
    Drive,
    DriveRequest,
    HelpRequest,
    Message,
    MessageStatus,
    Outcome,
    Plan,
    Province,
    RequestSource,
    Service,
    Team,
    User,
    Visit,
    VisitOutcome,
    VisitStatus,
    Volunteer,
    team_member,
)
from volunteer_hub.services import access
from volunteer_hub.services.results import stored
from volunteer_hub.services.results.figures import Figures, Period, Tally

ATTENDED = (VisitStatus.DONE, VisitStatus.NOT_HOME)
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


@dataclass
class Report:
    """Figures for the whole scope, for each province and for each commune in it."""

    period: Period
    total: Figures
    communes: list[tuple[Commune, Figures]]
    hours: Mapping[int, tuple[Volunteer, float, int]] = field(default_factory=dict)
    provinces: list[tuple[Province, Figures]] = field(default_factory=list)
    #: Local day -> (households served, people helped) that day: the trend over the period.
    daily: dict[date, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Bucket:
    """One step of the trend: a day, a week (from Monday) or a month, cut to the period."""

    first: date
    last: date
    served: int
    people_helped: int


def trend_unit(period: Period) -> str:
    """Days up to a month (a drive, a few weekends), weeks up to half a year, else months."""
    days = (period.last - period.first).days + 1
    return "day" if days <= 31 else "week" if days <= 183 else "month"


def trend(report: Report) -> tuple[str, list[Bucket]]:
    """The households served and people helped per day, week or month across the period,
    every step shown (zeros too) so that the time axis is even."""
    unit = trend_unit(report.period)
    buckets: list[Bucket] = []
    first = report.period.first
    while first <= report.period.last:
        if unit == "day":
            last = first
        elif unit == "week":
            last = first + timedelta(days=6 - first.weekday())
        else:
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            last = following - timedelta(days=1)
        last = min(last, report.period.last)
        days = [
            report.daily.get(first + timedelta(days=i), (0, 0))
            for i in range(0, (last - first).days + 1)
        ]
        buckets.append(Bucket(first, last, sum(d[0] for d in days), sum(d[1] for d in days)))
        first = last + timedelta(days=1)
    return unit, buckets


def newest_published_plans() -> ColumnElement[bool]:
    """A clause keeping only each drive's newest published plan (of ``Plan`` in the query).

    Written as "published, and no newer published plan of the same drive" (an anti-join):
    PostgreSQL estimated the earlier ``IN (newest per drive)`` at a few plans, not 1,770, and
    read every visit of every plan by ``plan_id`` (0.5 s) instead of the period's by their
    start.
    """
    newer = aliased(Plan)
    return Plan.published_at.is_not(None) & ~(
        select(newer.id)
        .where(
            newer.drive_id == Plan.drive_id,
            newer.published_at.is_not(None),
            newer.version > Plan.version,
        )
        .exists()
    )


def _travel_by_routes(result: dict[str, Any] | None) -> dict[tuple[str, int], tuple[float, int]]:
    """(team code, shift) -> (travel minutes, stops) from a plan's stored result JSON."""
    tours: dict[tuple[str, int], tuple[float, int]] = {}
    for route in (result or {}).get("routes", []):
        key = (route.get("team"), int(route.get("shift", 0)))
        tours[key] = (float(route.get("travel_min", 0.0)), len(route.get("stops", [])))
    return tours


def drive_period(drive: Drive, tz: ZoneInfo) -> Period | None:
    """Return the local days of the drive's time blocks, or None when it has none yet."""
    days = sorted({b.starts_at.astimezone(tz).date() for b in drive.blocks})
    return Period(days[0], days[-1]) if days else None


def certificate_volunteer(
    session: Session, user: User, volunteer_id: int, drive: Drive | None
) -> Volunteer:
    """Return the volunteer whose certificate the user may print, else raise NotVisibleError.

    Anyone the user may see; and, for a drive the user may see, anyone in one of its teams (a
    drive often takes students from other communes' schools). Being invited is not enough: a
    volunteer who declined did nothing to certify, and their details stay with their commune.
    """
    if drive is not None and any(
        member.id == volunteer_id for team in drive.teams for member in team.members
    ):
        volunteer = session.get(Volunteer, volunteer_id)
        if volunteer is not None:
            return volunteer
    return access.visible_volunteer(session, user, volunteer_id)


class Hours(Mapping[int, tuple[Volunteer, float, int]]):
    """Each volunteer's hours and visits in the report, by volunteer id: (volunteer, hours,
    visits). The volunteer records are read only when asked for (a certificate needs one; a
    country's report has ten thousand)."""

    def __init__(self, session: Session, figures: dict[int, tuple[float, int]]) -> None:
        self._session = session
        self._figures = figures
        self._people: dict[int, Volunteer] = {}

    def _load(self, ids: list[int]) -> None:
        wanted = [i for i in ids if i not in self._people]
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            for volunteer in self._session.scalars(
                select(Volunteer).where(Volunteer.id.in_(chunk))
            ):
                self._people[volunteer.id] = volunteer

    def __getitem__(self, volunteer_id: int) -> tuple[Volunteer, float, int]:
        hours, visits = self._figures[volunteer_id]
        self._load([volunteer_id])
        if volunteer_id not in self._people:
            raise KeyError(volunteer_id)
        return self._people[volunteer_id], hours, visits

    def __iter__(self) -> Iterator[int]:
        return iter(self._figures)

    def __len__(self) -> int:
        return len(self._figures)

    def items(self):  # type: ignore[no-untyped-def,override]
        self._load(sorted(self._figures))
        return super().items()

    def top(self, offset: int, limit: int) -> list[tuple[int, Volunteer, float, int]]:
        """One page of the volunteers by hours, most first (ties by id): (id, volunteer, hours,
        visits). Only the page's volunteer records are read (one query), so a country's
        dashboard shows fifty people without loading ten thousand."""
        ranked = sorted(self._figures.items(), key=lambda item: (-item[1][0], item[0]))
        page = ranked[offset : offset + limit]
        self._load([vid for vid, _figures in page])
        return [
            (vid, self._people[vid], hours, visits)
            for vid, (hours, visits) in page
            if vid in self._people
        ]


def build_report(
    session: Session,
    user: User,
    period: Period,
    *,
    tz: ZoneInfo,
    commune_code: str | None = None,
    drive_id: int | None = None,
    province_code: str | None = None,
    totals: bool = True,
    trend: bool = True,
) -> Report:
    """Compute the figures the user may see for the period (one commune, province or drive if
    asked).

    The database counts: each figure is one grouped query (by commune) with the user's communes
    in its WHERE; no request, visit or message is loaded to be counted. A province's figures
    are its communes' added up, except those that do not add up: the volunteers who went (one
    person may go in two communes) are counted as distinct people per province, and the
    median wait is taken over the province's waits.

    Every report but a drive's reads, for the days the worker has totalled
    (``services/results/totals.py``; ``totals=False`` never does), the per-commune daily
    totals of its communes (an admin's whole country: all of them) instead of the raw rows,
    and counts the raw rows only for the other days (today, yesterday, days not totalled yet
    or changed since): the figures are the same either way. The urgent requests served and
    their median wait join a request's day to its visit's: on totalled days they come from one
    stored row per urgent visit done (with its request's arrival and wait), never from a sum.
    A scope smaller than the country also counts the messages about the drives the user may
    see that belong to none of its communes; on totalled days those alone are counted from
    the rows (see :func:`_sms`, ``outside``).

    ``trend=False`` leaves ``daily`` (the trend over time, which only the dashboard draws)
    empty and its queries unrun: the summary API and the exports.
    """
    start, end = period.bounds(tz)
    # With their provinces in one statement (a province's filter and rows read them).
    communes = list(
        session.scalars(access.communes_for(user).options(selectinload(Commune.province)))
    )
    if commune_code:
        communes = [c for c in communes if c.code == commune_code]
    if province_code:
        communes = [c for c in communes if c.province.code == province_code]
    commune_ids = sorted(c.id for c in communes)
    tally = Tally({c.id: Figures() for c in communes})
    total, figures = tally.total, tally.figures

    # An admin's whole-country report needs no list of communes in its WHERE: over 3,321
    # communes the IN list was most of each query's time (the rows are all in scope anyway).
    everywhere = user.is_admin and not commune_code and not province_code
    # The totals' rows are read for the scope's communes (all of them: None).
    scope = None if everywhere else commune_ids
    covered: list[date] = []
    if totals and drive_id is None:
        covered = stored.covered_days(session, period, tz)
    for part in uncovered(period, covered):
        part_start, part_end = part.bounds(tz)
        count_into(
            tally,
            session,
            user,
            part_start,
            part_end,
            commune_ids,
            drive_id=drive_id,
            everywhere=everywhere,
        )
    if covered:
        stored.add_totals(session, covered, tally, scope)
        if not everywhere:
            # The totals hold the messages placed in the scope's communes; those about a
            # drive the user may see, placed in no commune of the scope (a volunteer from
            # another commune's school, a request moved away, none at all), are counted from
            # the rows: the drive's index, the totalled days' range and the scope's WHERE.
            ranges = [p.bounds(tz) for p in runs(covered)]
            _sms(session, user, start, end, commune_ids, tally, outside=ranges)

    # Urgent served: of the urgent requests received (so the share never passes 100%). The
    # median needs the waits themselves: only the urgent served visits' two dates are read.
    waits: dict[int, list[float]] = defaultdict(list)
    all_waits: list[float] = []
    received = _received(start, end, drive_id)
    urgent = (HelpRequest.priority >= 4) & (HelpRequest.source != RequestSource.FOLLOW_UP)
    in_scope = true() if everywhere else HelpRequest.commune_id.in_(commune_ids)
    served: list[tuple[int, float]] = []
    for part in uncovered(period, covered):
        part_start, part_end = part.bounds(tz)
        rows = session.execute(
            _visits(in_scope, part_start, part_end, drive_id, HelpRequest.commune_id)
            .add_columns(Visit.starts_at, HelpRequest.created_at)
            .where(Visit.status == VisitStatus.DONE, urgent, *received)
        )
        served += [(c, (visited - created).total_seconds() / 86400) for c, visited, created in rows]
    if covered:
        served += stored.urgent_served(session, covered, start, end, scope)
    for commune_id, wait in served:
        for f in tally.both(commune_id):
            f.urgent_served += 1
        if commune_id in figures:
            waits[commune_id].append(wait)
            all_waits.append(wait)
    for commune_id, values in waits.items():
        figures[commune_id].urgent_wait_days = round(statistics.median(values), 1)
    total.urgent_wait_days = round(statistics.median(all_waits), 1) if all_waits else None

    # The volunteers who went, per commune, per province and in all, and their hours.
    went: dict[int, set[int]] = defaultdict(set)
    minutes: Counter[int] = Counter()
    visits_by_volunteer: Counter[int] = Counter()
    for (commune_id, volunteer_id), (spent, visits) in tally.went.items():
        went[commune_id].add(volunteer_id)
        minutes[volunteer_id] += spent
        visits_by_volunteer[volunteer_id] += int(visits)
    province_of: dict[int, int] = {c.id: c.province_id for c in communes}
    missing = sorted(set(went) - set(province_of))
    if missing:
        province_of.update(
            session.execute(
                select(Commune.id, Commune.province_id).where(Commune.id.in_(missing))
            ).all()
        )
    went_by_province: dict[int, set[int]] = defaultdict(set)
    for commune_id, people_who_went in went.items():
        went_by_province[province_of[commune_id]] |= people_who_went
    everyone = set().union(*went.values()) if went else set()
    counted_by_commune = {c: len(people) for c, people in went.items()}
    volunteers_by_province = {pid: len(people) for pid, people in went_by_province.items()}
    total.volunteers = len(everyone)
    if tally.stored is not None:
        # The totalled days' distinct counts come from the database; a volunteer of the live
        # days adds one only where the totalled days do not already have them.
        kept = tally.stored
        seen, seen_in_province, seen_people = kept.seen(session, set(tally.went))
        counted_by_commune = {
            c: len({v for v in people if (c, v) not in seen}) for c, people in went.items()
        }
        volunteers_by_province = {
            pid: len({v for v in people if (pid, v) not in seen_in_province})
            for pid, people in went_by_province.items()
        }
        for commune_id, count in kept.by_commune.items():
            counted_by_commune[commune_id] = counted_by_commune.get(commune_id, 0) + count
        for province_id, count in kept.by_province.items():
            volunteers_by_province[province_id] = volunteers_by_province.get(province_id, 0) + count
        total.volunteers = kept.total + len(everyone - seen_people)
        for volunteer_id, (spent, visits) in kept.minutes.items():
            minutes[volunteer_id] += spent
            visits_by_volunteer[volunteer_id] += visits
    for commune_id, count in counted_by_commune.items():
        if commune_id in figures:
            figures[commune_id].volunteers = count
    hours = Hours(
        session,
        {vid: (minutes[vid] / 60, visits_by_volunteer[vid]) for vid in minutes},
    )

    # The commonest currency (ties: the first by name).
    unit = min(tally.units, key=lambda u: (-tally.units[u], u)) if tally.units else ""
    for f in [total, *figures.values()]:
        f.sms_cost_unit = unit
    report_rows = [(c, figures[c.id]) for c in sorted(communes, key=lambda c: c.name)]
    provinces = _by_province(report_rows, waits, volunteers_by_province)
    daily = _daily(session, tz, period, covered, in_scope, drive_id, scope) if trend else {}
    return Report(period, total, report_rows, hours, provinces, daily)


def _daily(
    session: Session,
    tz: ZoneInfo,
    period: Period,
    covered: list[date],
    in_scope: ColumnElement[bool],
    drive_id: int | None,
    scope: list[int] | None = None,
) -> dict[date, tuple[int, int]]:
    """The trend: households served and people helped per local day. The database counts
    the raw rows of the days without totals; the totalled days come from their stored totals
    (the same figures: a day's ``served`` and ``people_helped`` are its visits done)."""
    daily: dict[date, tuple[int, int]] = {}
    done = Visit.status == VisitStatus.DONE
    for part in uncovered(period, covered):
        part_start, part_end = part.bounds(tz)
        day = _local_date(session, Visit.starts_at, tz, part_start)
        query = (
            _visits(
                in_scope,
                part_start,
                part_end,
                drive_id,
                day,
                func.count(),
                func.sum(func.coalesce(Visit.people_helped, 0)),
            )
            .where(done)
            .group_by(day)
        )
        for d, n, helped in session.execute(query):
            if d is None:
                continue
            key = d if isinstance(d, date) else date.fromisoformat(str(d))
            served, people = daily.get(key, (0, 0))
            daily[key] = (served + int(n), people + int(helped or 0))
    if covered:
        for key, (n, helped) in stored.daily_served(session, covered, scope).items():
            served, people = daily.get(key, (0, 0))
            daily[key] = (served + n, people + helped)
    return daily


def runs(days: list[date]) -> list[Period]:
    """The runs of consecutive days among ``days`` (sorted), as periods."""
    found: list[Period] = []
    for day in days:
        if found and found[-1].last + timedelta(days=1) == day:
            found[-1] = Period(found[-1].first, day)
        else:
            found.append(Period(day, day))
    return found


def uncovered(period: Period, covered: list[date]) -> list[Period]:
    """The runs of the period's days that are not in ``covered`` (sorted), as periods."""
    runs: list[Period] = []
    taken = set(covered)
    day, first = period.first, None
    while day <= period.last:
        if day in taken:
            if first is not None:
                runs.append(Period(first, day - timedelta(days=1)))
                first = None
        elif first is None:
            first = day
        day += timedelta(days=1)
    if first is not None:
        runs.append(Period(first, period.last))
    return runs


def _received(start: datetime, end: datetime, drive_id: int | None) -> list[ColumnElement[bool]]:
    """Requests received: in the period, or included in the drive."""
    if drive_id is None:
        return [HelpRequest.created_at >= start, HelpRequest.created_at < end]
    return [
        HelpRequest.id.in_(select(DriveRequest.request_id).where(DriveRequest.drive_id == drive_id))
    ]


def _visits(
    in_scope: ColumnElement[bool],
    start: datetime,
    end: datetime,
    drive_id: int | None,
    *columns: Any,
) -> Select[Any]:
    """The visits of the newest published plans (cancelled ones count for nothing)."""
    visit_filter: list[ColumnElement[bool]] = [
        newest_published_plans(),
        Visit.team_id.is_not(None),
        in_scope,
        Visit.status != VisitStatus.CANCELLED,
    ]
    if drive_id is None:
        visit_filter += [Visit.starts_at >= start, Visit.starts_at < end]
    else:
        visit_filter.append(Plan.drive_id == drive_id)
    return (
        select(*columns)
        .select_from(Visit)
        .join(Plan, Plan.id == Visit.plan_id)
        .join(HelpRequest, HelpRequest.id == Visit.request_id)
        .where(*visit_filter)
    )


def count_into(
    tally: Tally,
    session: Session,
    user: User | None,
    start: datetime,
    end: datetime,
    commune_ids: list[int],
    *,
    drive_id: int | None = None,
    everywhere: bool = False,
) -> None:
    """Count the raw rows of ``[start, end)`` (or of the drive) into ``tally``: everything
    but the urgent requests served (see :func:`build_report`). ``user`` may be None only
    ``everywhere``."""
    in_scope = true() if everywhere else HelpRequest.commune_id.in_(commune_ids)
    received = _received(start, end, drive_id)
    follow_up = HelpRequest.source == RequestSource.FOLLOW_UP
    urgent = (HelpRequest.priority >= 4) & (HelpRequest.source != RequestSource.FOLLOW_UP)
    rows = session.execute(
        select(
            HelpRequest.commune_id,
            func.sum(case((follow_up, 1), else_=0)),
            func.sum(case((follow_up, 0), else_=1)),
            func.sum(case((urgent, 1), else_=0)),
        )
        .where(in_scope, *received)
        .group_by(HelpRequest.commune_id)
    )
    for commune_id, follow_ups, requests, urgents in rows:
        for f in tally.both(commune_id):
            f.follow_ups_received += int(follow_ups or 0)
            f.requests_received += int(requests or 0)
            f.urgent_received += int(urgents or 0)

    def visits(*columns: Any) -> Select[Any]:
        return _visits(in_scope, start, end, drive_id, *columns)

    # Outcomes per service.
    rows = session.execute(
        visits(HelpRequest.commune_id, Service.code, VisitOutcome.outcome, func.count())
        .join(VisitOutcome, VisitOutcome.visit_id == Visit.id)
        .join(Service, Service.id == VisitOutcome.service_id)
        .group_by(HelpRequest.commune_id, Service.code, VisitOutcome.outcome)
    )
    for commune_id, code, outcome, count in rows:
        for f in tally.both(commune_id):
            by = f.outcomes.setdefault(code, {})
            by[outcome.value] = by.get(outcome.value, 0) + count

    # One pass over the visits for the visits' counts, the volunteers who went and their hours:
    # the database counts and sums per tour (plan, team, shift), commune and status; each
    # tour's travel, shared between its stops, comes from the plan's stored routes, and the
    # volunteers who went (the members of the teams of attended visits, per commune) come from
    # the tours' teams. At national scale each pass over a quarter's 230,000 visits costs
    # ~0.4 s on PostgreSQL: this used to take five of them. A team's size is its members
    # read for the volunteers who went (counting every team's members in the query read the
    # country's 335,000 team members for two days of one province's visits).
    planned_minutes = case(
        (
            Visit.ends_at.is_not(None) & Visit.starts_at.is_not(None),
            _minutes_between(session, Visit.starts_at, Visit.ends_at),
        ),
        else_=0,
    )
    spent = func.coalesce(Visit.minutes_spent, planned_minutes)
    shift = func.coalesce(Visit.shift_index, 0)
    tours = (
        visits(
            HelpRequest.commune_id,
            Visit.plan_id,
            Visit.team_id,
            Team.code,
            shift,
            Visit.status,
            func.count(),
            func.sum(spent),
            func.sum(func.coalesce(Visit.people_helped, 0)),
        )
        .join(Team, Team.id == Visit.team_id)
        .group_by(HelpRequest.commune_id, Visit.plan_id, Visit.team_id, Team.code, shift)
        .group_by(Visit.status)
    )
    tour_rows = session.execute(tours).all()
    attended_rows = [row for row in tour_rows if row[5] in ATTENDED]
    travel_cache = _travel(session, {row[1] for row in attended_rows})
    for commune_id, _plan, _team, _code, _shift, status, count, _m, helped in tour_rows:
        for f in tally.both(commune_id):
            f.planned += count
            if status is VisitStatus.DONE:
                f.served += count
                f.people_helped += int(helped or 0)
            elif status is VisitStatus.NOT_HOME:
                f.not_home += count
    members_of: dict[int, set[int]] = defaultdict(set)
    wanted = {row[2] for row in attended_rows}
    for team_id, volunteer_id in _team_members(session, {row[1] for row in attended_rows}):
        if team_id in wanted:
            members_of[team_id].add(volunteer_id)
    # (commune, team) -> [minutes, visits] that count for each of the team's members there.
    shares: dict[tuple[int, int], list[float]] = {}
    for commune_id, plan_id, team_id, code, shift_index, _s, count, spent_min, _h in attended_rows:
        travel, stops = travel_cache.get(plan_id, {}).get((code, shift_index), (0.0, 1))
        share = float(spent_min or 0) + count * travel / max(1, stops)
        entry = shares.setdefault((commune_id, team_id), [0.0, 0])
        entry[0] += share
        entry[1] += count
        for f in tally.both(commune_id):
            f.volunteer_hours += share * len(members_of[team_id]) / 60
    for (commune_id, team_id), (share, count) in shares.items():
        for volunteer_id in members_of[team_id]:
            tally.add_went(commune_id, volunteer_id, share, int(count))

    _sms(session, user, start, end, commune_ids, tally, drive_id, everywhere=everywhere)


def _by_province(
    rows: list[tuple[Commune, Figures]],
    waits: dict[int, list[float]],
    volunteers: dict[int, int],
) -> list[tuple[Province, Figures]]:
    """Add the communes' figures up by province (by name); see :func:`build_report`."""
    grouped: dict[int, tuple[Province, Figures, list[float]]] = {}
    for commune, f in rows:
        province, g, province_waits = grouped.setdefault(
            commune.province_id, (commune.province, Figures(), [])
        )
        for name in _ADDED:
            setattr(g, name, getattr(g, name) + getattr(f, name))
        for code, counts in f.outcomes.items():
            by = g.outcomes.setdefault(code, {})
            for outcome, count in counts.items():
                by[outcome] = by.get(outcome, 0) + count
        g.sms_cost_unit = f.sms_cost_unit
        province_waits.extend(waits.get(commune.id, []))
    result = []
    for province_id, (province, g, province_waits) in grouped.items():
        g.volunteers = volunteers.get(province_id, 0)
        g.urgent_wait_days = round(statistics.median(province_waits), 1) if province_waits else None
        result.append((province, g))
    return sorted(result, key=lambda row: row[0].name)


#: The figures a province has as the sum of its communes'.
_ADDED = (
    "requests_received",
    "follow_ups_received",
    "planned",
    "served",
    "not_home",
    "people_helped",
    "urgent_received",
    "urgent_served",
    "volunteer_hours",
    "sms_sent",
    "sms_delivered",
    "sms_failed",
    "sms_cost",
)


def _local_date(session: Session, column: Any, tz: ZoneInfo, at: datetime) -> Any:
    """The local date of a timestamp column, in the database's own arithmetic.

    PostgreSQL converts with the zone's rules; SQLite (naive UTC text) adds the zone's offset
    at ``at``, exact for zones without summer time such as Vietnam's.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(tz.key, column))
    offset = at.utcoffset() or timedelta(0)
    return func.date(column, f"{int(offset.total_seconds()) // 60:+d} minutes")


def _minutes_between(session: Session, first: Any, last: Any) -> ColumnElement[float]:
    """Minutes from one timestamp column to another, in the database's own arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", last - first) / 60.0
    return (func.julianday(last) - func.julianday(first)) * 1440.0


def _travel(
    session: Session, plan_ids: set[int]
) -> dict[int, dict[tuple[str, int], tuple[float, int]]]:
    """The stored routes' travel of the plans the hours come from (one row per plan)."""
    # Only the routes: a plan's problem JSON (every household and volunteer) stays unread.
    rows = session.execute(select(Plan.id, Plan.result).where(Plan.id.in_(sorted(plan_ids))))
    return {plan_id: _travel_by_routes(result) for plan_id, result in rows}


def _team_members(session: Session, plan_ids: set[int]) -> list[tuple[int, int]]:
    """(team id, volunteer id) of every team of the plans' drives (a short IN list: plans)."""
    return list(
        session.execute(
            select(team_member.c.team_id, team_member.c.volunteer_id)
            .join(Team, Team.id == team_member.c.team_id)
            .join(Plan, Plan.drive_id == Team.drive_id)
            .where(Plan.id.in_(sorted(plan_ids)))
        ).all()
    )


def _sms(
    session: Session,
    user: User | None,
    start: datetime,
    end: datetime,
    commune_ids: list[int],
    tally: Tally,
    drive_id: int | None = None,
    *,
    everywhere: bool = False,
    outside: list[tuple[datetime, datetime]] | None = None,
) -> None:
    """Count the period's (or drive's) messages about the scope's households, volunteers, drives.

    A message belongs to its household's commune, else to its volunteer's home commune; it is
    counted when that commune is in the scope, or when it is about a drive of the scope: a
    drive whose every commune is in the scope (for a coordinator's whole scope, the drives
    they may see; for a province or commune chosen, its own drives, so that an admin's
    province counts what its coordinator's report counts, not every drive of the country).

    ``outside`` (time ranges, for the days read from totals) counts only the messages of those
    ranges that are about a drive of the scope and belong to no commune of the scope: the
    part of a scope's messages the per-commune totals do not hold.
    """
    if everywhere:
        about_drive: ColumnElement[bool] = true()
    else:
        assert user is not None
        ids = sorted(commune_ids)
        within = Drive.communes.any() & ~Drive.communes.any(~Commune.id.in_(ids))
        about_drive = Message.drive_id.in_(select(Drive.id).where(within))
    if outside is not None:
        when = [or_(*[(Message.created_at >= a) & (Message.created_at < b) for a, b in outside])]
    elif drive_id is None:
        when = [Message.created_at >= start, Message.created_at < end]
    else:
        when = [Message.drive_id == drive_id]

    def visible_for(commune: Any) -> ColumnElement[bool]:
        if everywhere:
            return true()
        if outside is not None:
            return about_drive & (commune.is_(None) | commune.not_in(commune_ids))
        return commune.in_(commune_ids) | about_drive

    # Two queries, households' messages and the others, rather than one outer join of both:
    # volunteers' messages have no request, and PostgreSQL's hash join put those hundreds of
    # thousands of NULL keys in one bucket (108 s over a country's 90 days, instead of ~1 s).
    def households(*columns: Any) -> Select[Any]:
        visible = visible_for(HelpRequest.commune_id)
        return (
            select(*columns)
            .select_from(Message)
            .join(HelpRequest, HelpRequest.id == Message.request_id)
            .where(visible, *when)
        )

    def others(*columns: Any) -> Select[Any]:
        visible = visible_for(Volunteer.home_commune_id)
        return (
            select(*columns)
            .select_from(Message)
            .outerjoin(Volunteer, Volunteer.id == Message.volunteer_id)
            .where(Message.request_id.is_(None), visible, *when)
        )

    def counted(statuses: tuple[MessageStatus, ...]) -> ColumnElement[int]:
        return func.sum(case((Message.status.in_(statuses), 1), else_=0))

    figures_of = (
        counted(SENT),
        counted((MessageStatus.DELIVERED,)),
        counted(FAILED),
        func.sum(func.abs(Message.price)),
    )
    for part, commune in (
        (households, HelpRequest.commune_id),
        (others, Volunteer.home_commune_id),
    ):
        # Grouped by currency too (one in practice): the commonest is counted in the same pass.
        for commune_id, price_unit, count, sent, delivered, failed, cost in session.execute(
            part(commune, Message.price_unit, func.count(), *figures_of).group_by(
                commune, Message.price_unit
            )
        ):
            placed = tally.figures.get(commune_id) if commune_id is not None else None
            for f in (tally.total, placed if placed is not None else tally.unplaced):
                f.sms_sent += int(sent or 0)
                f.sms_delivered += int(delivered or 0)
                f.sms_failed += int(failed or 0)
                f.sms_cost += float(cost or 0)
            if price_unit:
                tally.units[price_unit] += count
                key = commune_id if placed is not None else None
                tally.units_by_commune.setdefault(key, Counter())[price_unit] += count


#: Outcome values in the order a report lists them.
OUTCOME_ORDER = [o.value for o in Outcome]
