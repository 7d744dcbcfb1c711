"""The demo data: realistic, complete enough to explore, and never duplicated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from volunteer_hub.demo.hue import next_saturday, seed_demo
from volunteer_hub.models import (
    Commune,
    Drive,
    DriveStatus,
    HelpRequest,
    Role,
    User,
    Volunteer,
)
from volunteer_hub.phones import parse_phone
from volunteer_hub.services.reference.accounts import authenticate


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_the_demo_is_huế_with_volunteers_requests_and_a_drive(session):
    report = seed_demo(session, password="demo")
    session.commit()
    assert report.volunteers == 40 and report.drives == 3
    assert 150 + 2 * 36 <= report.requests <= 150 + 2 * 36 + 40  # with the past drives' follow-ups
    assert count(session, Commune) == 40
    assert session.scalar(select(Commune.name).where(Commune.code == "19789")) == "Phường Thuận Hóa"

    volunteers = session.scalars(select(Volunteer)).all()
    assert {v.kind.value for v in volunteers} == {"student", "ambassador", "community"}
    assert any(v.is_minor_on(date.today()) for v in volunteers)
    assert all(parse_phone(v.phone, mobile_only=True).e164 == v.phone for v in volunteers)

    requests = session.scalars(select(HelpRequest)).all()
    assert {r.priority for r in requests} >= {2, 3, 4, 5}
    assert any(r.phone is None and r.reach_note for r in requests)
    assert all(r.services for r in requests)

    drive = session.scalars(select(Drive).where(Drive.status == DriveStatus.DRAFT)).one()
    assert len(drive.blocks) == 3 and len(drive.communes) == 4
    assert drive.requests and drive.volunteers and drive.teams
    assert any(dr.request.source.value == "follow_up" for dr in drive.requests)
    past = session.scalars(select(Drive).where(Drive.status == DriveStatus.COMPLETED)).all()
    assert len(past) == 2
    for old in past:
        plan = old.plans[-1]
        assert plan.is_locked and any(v.outcomes for v in plan.visits)

    admin = authenticate(session, "admin@demo.vn", "demo")
    coordinator = authenticate(session, "dieuphoi@demo.vn", "demo")
    assert admin.role is Role.ADMIN
    assert coordinator.role is Role.COORDINATOR and coordinator.communes


def test_seeding_twice_adds_nothing(session):
    seed_demo(session)
    session.commit()
    before = {m: count(session, m) for m in (Volunteer, HelpRequest, Drive, User, Commune)}
    report = seed_demo(session)
    session.commit()
    assert (report.volunteers, report.requests, report.drives, report.accounts) == (0, 0, 0, 0)
    assert {m: count(session, m) for m in before} == before


@pytest.mark.parametrize("days_later", [3, 45])
def test_seeding_again_days_or_weeks_later_adds_nothing_and_never_fails(session, days_later):
    # Once on a Wednesday; again on Saturday (the next week's drive) or six weeks later: the past
    # drives' dates shift with the day, their requests do not (they were visited and are done).
    first = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    seed_demo(session, now=first)
    session.commit()
    before = {m: count(session, m) for m in (Volunteer, HelpRequest, Drive, User, Commune)}
    report = seed_demo(session, now=first + timedelta(days=days_later))
    session.commit()
    assert (report.volunteers, report.requests, report.drives, report.accounts) == (0, 0, 0, 0)
    assert {m: count(session, m) for m in before} == before
    assert count(session, Drive) == 3


def test_the_drive_is_on_the_next_saturday():
    assert next_saturday(date(2026, 11, 22)) == date(2026, 11, 28)  # a Sunday
    assert next_saturday(date(2026, 11, 28)) == date(2026, 12, 5)  # a Saturday
    assert next_saturday(date(2026, 11, 27)) == date(2026, 11, 28)  # a Friday


def test_without_a_password_the_demo_accounts_get_a_random_one(session):
    first = seed_demo(session)
    session.commit()
    assert first.password and len(first.password) >= 16
    assert authenticate(session, "admin@demo.vn", "demo") is None
    assert authenticate(session, "admin@demo.vn", first.password) is not None
    again = seed_demo(session)
    assert again.password is None  # kept: nothing to print
    assert authenticate(session, "admin@demo.vn", first.password) is not None


def test_the_demo_refuses_a_database_with_real_accounts(session):
    from tests import factories
    from volunteer_hub.demo.hue import DemoError

    factories.user(session, Role.ADMIN, email="bithu@thanhdoan-hue.vn")
    session.commit()
    with pytest.raises(DemoError, match="bithu@thanhdoan-hue.vn"):
        seed_demo(session, password="demo")
    assert count(session, Volunteer) == 0
