"""The report figures the database computes equal those of plain Python counting over the rows.

``old_build_report`` is the report as it was computed before the figures moved to SQL (every
request, visit, outcome and message loaded and counted in Python): kept here, and only here, as
the independent expected values.
"""

# ruff: noqa: C901, PLR0912, PLR0915

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, selectinload

from tests import factories
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL, seed_demo
from volunteer_hub.models import (
    Commune,
    Drive,
    DriveRequest,
    HelpRequest,
    Message,
    MessageStatus,
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
from volunteer_hub.services.results.reports import (
    ATTENDED,
    FAILED,
    SENT,
    Figures,
    Period,
    Report,
    build_report,
    newest_published_plans,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _old_travel_by_tour(plan: Plan) -> dict[tuple[str, int], tuple[float, int]]:
    """(team code, shift) -> (travel minutes, stops) from the stored plan JSON."""
    tours: dict[tuple[str, int], tuple[float, int]] = {}
    for route in (plan.result or {}).get("routes", []):
        key = (route.get("team"), int(route.get("shift", 0)))
        tours[key] = (float(route.get("travel_min", 0.0)), len(route.get("stops", [])))
    return tours


def old_build_report(
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
            tours = travel_cache.setdefault(plan.id, _old_travel_by_tour(plan))
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

    _old_sms(session, user, start, end, communes, total, figures, drive_id)
    rows = [(c, figures[c.id]) for c in sorted(communes, key=lambda c: c.name)]
    hours = {vid: (people[vid], minutes[vid] / 60, visits_by_volunteer[vid]) for vid in people}
    return Report(period, total, rows, hours)


def _old_sms(
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


def _user(session: Session, email: str) -> User:
    return session.scalars(select(User).where(User.email == email)).one()


def _wide(session: Session) -> Period:
    today = datetime.now(TZ).date()
    return Period(today - timedelta(days=800), today + timedelta(days=120))


def _same(new: Figures, old: Figures) -> None:
    assert new.as_json() == old.as_json()
    assert new.volunteer_hours == pytest.approx(old.volunteer_hours)
    assert new.sms_cost == pytest.approx(old.sms_cost)


def _compare(new: Report, old: Report) -> None:
    _same(new.total, old.total)
    assert [c.id for c, _f in new.communes] == [c.id for c, _f in old.communes]
    for (_c, nf), (_o, of) in zip(new.communes, old.communes, strict=True):
        _same(nf, of)
    assert set(new.hours) == set(old.hours)
    for vid, (_v, h, n) in old.hours.items():
        assert new.hours[vid][1] == pytest.approx(h)
        assert new.hours[vid][2] == n


@pytest.fixture
def demo(session):  # type: ignore[no-untyped-def]
    seed_demo(session, password="demo")
    session.commit()
    return session


@pytest.mark.parametrize("email", [ADMIN_EMAIL, COORDINATOR_EMAIL])
def test_the_demo_figures_are_those_of_counting_the_rows(demo, email):
    user = _user(demo, email)
    period = _wide(demo)
    old = old_build_report(demo, user, period, tz=TZ)
    assert old.total.requests_received > 0 and old.total.planned > 0
    assert old.total.sms_sent + old.total.sms_failed > 0
    _compare(build_report(demo, user, period, tz=TZ), old)


def test_each_demo_drive_and_commune_gives_the_same_figures(demo):
    user = _user(demo, ADMIN_EMAIL)
    period = _wide(demo)
    for drive in demo.scalars(select(Drive)):
        old = old_build_report(demo, user, period, tz=TZ, drive_id=drive.id)
        _compare(build_report(demo, user, period, tz=TZ, drive_id=drive.id), old)
    # One commune asked for: its row of the whole report. (The old counting gave a commune the
    # messages of other communes' households sent to its volunteers when it was asked alone.)
    everything = build_report(demo, user, period, tz=TZ)
    for commune, expected in everything.communes[:5]:
        alone = build_report(demo, user, period, tz=TZ, commune_code=commune.code)
        # The total adds the messages about the commune's own drives, which belong to no
        # commune; the currency is the scope's commonest (none where nothing was priced).
        assert {**alone.total.as_json(), "sms": None} == {**expected.as_json(), "sms": None}
        [(_c, row)] = alone.communes
        if not row.sms_cost and not alone.total.sms_cost:
            row.sms_cost_unit = expected.sms_cost_unit
        assert row.as_json() == expected.as_json()


def test_a_coordinator_counts_only_their_communes_and_their_messages(demo):
    admin = _user(demo, ADMIN_EMAIL)
    period = _wide(demo)
    everything = build_report(demo, admin, period, tz=TZ)
    busiest = max(everything.communes, key=lambda row: row[1].sms_sent + row[1].requests_received)
    commune, expected = busiest
    coordinator = factories.user(demo, communes=[commune])
    demo.commit()
    report = build_report(demo, coordinator, period, tz=TZ)
    assert [c.id for c, _f in report.communes] == [commune.id]
    mine = report.communes[0][1]
    assert mine.requests_received == expected.requests_received
    assert mine.sms_sent == expected.sms_sent and mine.sms_delivered == expected.sms_delivered
    # Drive-wide messages of drives spanning other communes are not theirs.
    assert report.total.sms_sent < everything.total.sms_sent
    assert report.total.as_json() == expected.as_json()
