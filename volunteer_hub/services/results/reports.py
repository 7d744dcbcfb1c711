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
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session, selectinload

from volunteer_hub.models import (
    Commune,
    Drive,
    DriveRequest,
    HelpRequest,
    Message,
    MessageStatus,
    Outcome,
    Plan,
    RequestSource,
    Team,
    User,
    Visit,
    VisitOutcome,
    VisitStatus,
    Volunteer,
)
from volunteer_hub.services import access

ATTENDED = (VisitStatus.DONE, VisitStatus.NOT_HOME)
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    first: date
    last: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time.min, tz)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tz)
        return start, end


@dataclass
class Figures:
    """The headline figures of one scope (everything, or one commune)."""

    requests_received: int = 0
    follow_ups_received: int = 0
    planned: int = 0
    served: int = 0
    not_home: int = 0
    people_helped: int = 0
    urgent_received: int = 0
    urgent_served: int = 0
    urgent_wait_days: float | None = None
    volunteer_hours: float = 0.0
    volunteers: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    sms_sent: int = 0
    sms_delivered: int = 0
    sms_failed: int = 0
    sms_cost: float = 0.0
    sms_cost_unit: str = ""

    @property
    def urgent_share(self) -> float | None:
        return self.urgent_served / self.urgent_received if self.urgent_received else None

    def as_json(self) -> dict[str, object]:
        return {
            "requests_received": self.requests_received,
            "follow_ups_received": self.follow_ups_received,
            "planned": self.planned,
            "served": self.served,
            "not_home": self.not_home,
            "people_helped": self.people_helped,
            "urgent": {
                "received": self.urgent_received,
                "served": self.urgent_served,
                "share_served": round(self.urgent_share, 4)
                if self.urgent_share is not None
                else None,
                "median_wait_days": self.urgent_wait_days,
            },
            "volunteer_hours": round(self.volunteer_hours, 1),
            "volunteers": self.volunteers,
            "outcomes": self.outcomes,
            "sms": {
                "sent": self.sms_sent,
                "delivered": self.sms_delivered,
                "failed": self.sms_failed,
                "cost": round(self.sms_cost, 4),
                "cost_unit": self.sms_cost_unit,
            },
        }


@dataclass
class Report:
    """Figures for the whole scope and for each commune in it."""

    period: Period
    total: Figures
    communes: list[tuple[Commune, Figures]]
    hours: dict[int, tuple[Volunteer, float, int]] = field(default_factory=dict)


def newest_published_plans() -> ColumnElement[bool]:
    """A clause keeping only each drive's newest published plan."""
    newest = (
        select(Plan.drive_id, func.max(Plan.version).label("version"))
        .where(Plan.published_at.is_not(None))
        .group_by(Plan.drive_id)
        .subquery()
    )
    return Plan.id.in_(
        select(Plan.id).join(
            newest, (newest.c.drive_id == Plan.drive_id) & (newest.c.version == Plan.version)
        )
    )


def _travel_by_tour(plan: Plan) -> dict[tuple[str, int], tuple[float, int]]:
    """(team code, shift) -> (travel minutes, stops) from the stored plan JSON."""
    tours: dict[tuple[str, int], tuple[float, int]] = {}
    for route in (plan.result or {}).get("routes", []):
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


def build_report(
    session: Session,
    user: User,
    period: Period,
    *,
    tz: ZoneInfo,
    commune_code: str | None = None,
    drive_id: int | None = None,
) -> Report:
    """Compute the figures the user may see for the period (one commune or drive if asked)."""
    start, end = period.bounds(tz)
    communes = list(session.scalars(access.communes_for(user)))
    if commune_code:
        communes = [c for c in communes if c.code == commune_code]
    commune_ids = {c.id for c in communes}
    figures: dict[int, Figures] = {c.id: Figures() for c in communes}
    total = Figures()

    def both(commune_id: int) -> list[Figures]:
        return [total, figures[commune_id]] if commune_id in figures else []

    # Requests received: in the period, or included in the drive.
    if drive_id is None:
        received = select(HelpRequest).where(
            HelpRequest.commune_id.in_(commune_ids),
            HelpRequest.created_at >= start,
            HelpRequest.created_at < end,
        )
    else:
        received = (
            select(HelpRequest)
            .join(DriveRequest, DriveRequest.request_id == HelpRequest.id)
            .where(HelpRequest.commune_id.in_(commune_ids), DriveRequest.drive_id == drive_id)
        )
    urgent_ids: set[int] = set()
    for request in session.scalars(received):
        for f in both(request.commune_id):
            if request.source is RequestSource.FOLLOW_UP:
                f.follow_ups_received += 1
            else:
                f.requests_received += 1
            if request.priority >= 4 and request.source is not RequestSource.FOLLOW_UP:
                f.urgent_received += 1
        if request.priority >= 4 and request.source is not RequestSource.FOLLOW_UP:
            urgent_ids.add(request.id)

    # Visits of the newest published plans.
    visit_filter: list[ColumnElement[bool]] = [
        newest_published_plans(),
        Visit.team_id.is_not(None),
        HelpRequest.commune_id.in_(commune_ids),
    ]
    if drive_id is None:
        visit_filter += [Visit.starts_at >= start, Visit.starts_at < end]
    else:
        visit_filter.append(Plan.drive_id == drive_id)
    visits = list(
        session.scalars(
            select(Visit)
            .join(Plan, Plan.id == Visit.plan_id)
            .join(HelpRequest, HelpRequest.id == Visit.request_id)
            .where(*visit_filter)
            .options(
                selectinload(Visit.outcomes).selectinload(VisitOutcome.service),
                selectinload(Visit.team).selectinload(Team.members),
            )
        )
    )
    waits: dict[int, list[float]] = defaultdict(list)
    all_waits: list[float] = []
    minutes: Counter[int] = Counter()
    visits_by_volunteer: Counter[int] = Counter()
    people: dict[int, Volunteer] = {}
    travel_cache: dict[int, dict[tuple[str, int], tuple[float, int]]] = {}
    for visit in visits:
        commune_id = visit.request.commune_id
        targets = both(commune_id)
        if visit.status is VisitStatus.CANCELLED:
            continue
        for f in targets:
            f.planned += 1
        if visit.status is VisitStatus.DONE:
            for f in targets:
                f.served += 1
                f.people_helped += visit.people_helped or 0
            # Urgent served: of the urgent requests received (so the share never passes 100%).
            if visit.request_id in urgent_ids:
                wait = (visit.starts_at - visit.request.created_at).total_seconds() / 86400  # type: ignore[operator]
                for f in targets:
                    f.urgent_served += 1
                waits[commune_id].append(wait)
                all_waits.append(wait)
        elif visit.status is VisitStatus.NOT_HOME:
            for f in targets:
                f.not_home += 1
        for outcome in visit.outcomes:
            for f in targets:
                by = f.outcomes.setdefault(outcome.service.code, {})
                by[outcome.outcome.value] = by.get(outcome.outcome.value, 0) + 1
        if visit.status in ATTENDED and visit.team is not None:
            plan = visit.plan
            tours = travel_cache.setdefault(plan.id, _travel_by_tour(plan))
            travel, stops = tours.get((visit.team.code, visit.shift_index or 0), (0.0, 1))
            planned = (
                (visit.ends_at - visit.starts_at).total_seconds() / 60
                if visit.ends_at and visit.starts_at
                else 0
            )
            spent = visit.minutes_spent if visit.minutes_spent is not None else planned
            share = spent + travel / max(1, stops)
            for member in visit.team.members:
                minutes[member.id] += share
                visits_by_volunteer[member.id] += 1
                people[member.id] = member
            for f in targets:
                f.volunteer_hours += share * len(visit.team.members) / 60
    for commune_id, values in waits.items():
        figures[commune_id].urgent_wait_days = round(statistics.median(values), 1)
    total.urgent_wait_days = round(statistics.median(all_waits), 1) if all_waits else None
    total.volunteers = len(people)
    per_commune_volunteers: dict[int, set[int]] = defaultdict(set)
    for visit in visits:
        if visit.status in ATTENDED and visit.team is not None:
            per_commune_volunteers[visit.request.commune_id].update(
                m.id for m in visit.team.members
            )
    for commune_id, ids in per_commune_volunteers.items():
        if commune_id in figures:
            figures[commune_id].volunteers = len(ids)

    _sms(session, user, start, end, communes, total, figures, drive_id)
    rows = [(c, figures[c.id]) for c in sorted(communes, key=lambda c: c.name)]
    hours = {vid: (people[vid], minutes[vid] / 60, visits_by_volunteer[vid]) for vid in people}
    return Report(period, total, rows, hours)


def _sms(
    session: Session,
    user: User,
    start: datetime,
    end: datetime,
    communes: list[Commune],
    total: Figures,
    figures: dict[int, Figures],
    drive_id: int | None = None,
) -> None:
    """Count the period's (or drive's) messages about the scope's households, volunteers, drives."""
    commune_ids = [c.id for c in communes]
    request_commune = select(HelpRequest.id, HelpRequest.commune_id).where(
        HelpRequest.commune_id.in_(commune_ids)
    )
    volunteer_commune = select(Volunteer.id, Volunteer.home_commune_id).where(
        Volunteer.home_commune_id.in_(commune_ids)
    )
    by_request = dict(session.execute(request_commune).all())
    by_volunteer = dict(session.execute(volunteer_commune).all())
    scope = access.drive_clause(user) if not user.is_admin else true()
    visible_drives = set(session.scalars(select(Drive.id).where(scope)))
    units: Counter[str] = Counter()
    if drive_id is None:
        messages = select(Message).where(Message.created_at >= start, Message.created_at < end)
    else:
        messages = select(Message).where(Message.drive_id == drive_id)
    for message in session.scalars(messages):
        commune_id = by_request.get(message.request_id) if message.request_id else None
        if commune_id is None and message.volunteer_id:
            commune_id = by_volunteer.get(message.volunteer_id)
        in_scope = commune_id is not None or (message.drive_id in visible_drives)
        if not in_scope:
            continue
        targets = [total] + ([figures[commune_id]] if commune_id in figures else [])
        for f in targets:
            if message.status in SENT:
                f.sms_sent += 1
            if message.status is MessageStatus.DELIVERED:
                f.sms_delivered += 1
            if message.status in FAILED:
                f.sms_failed += 1
            if message.price is not None:
                f.sms_cost += abs(float(message.price))
        if message.price_unit:
            units[message.price_unit] += 1
    unit = units.most_common(1)[0][0] if units else ""
    for f in [total, *figures.values()]:
        f.sms_cost_unit = unit


#: Outcome values in the order a report lists them.
OUTCOME_ORDER = [o.value for o in Outcome]
