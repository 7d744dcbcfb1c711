"""The national demo, at a thousandth of its size: the country's shape, in seconds."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from volunteer_hub.demo.hue import (
    DemoError,
    is_demo_email,
    province_coordinator_email,
    seed_demo,
)
from volunteer_hub.demo.national import NationalCounts, seed_national
from volunteer_hub.models import (
    Commune,
    Drive,
    DriveStatus,
    HelpRequest,
    Message,
    Plan,
    Province,
    RequestStatus,
    Role,
    User,
    Visit,
    VisitOutcome,
    Volunteer,
)
from volunteer_hub.services.reference.accounts import authenticate

FACTOR = 0.001


def count(session, model, *where) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def national(session):  # type: ignore[no-untyped-def]
    report = seed_national(session, password="demo", factor=FACTOR)
    session.commit()
    return report


def test_the_whole_country_with_one_coordinator_per_province(session, national):
    provinces = session.scalars(select(Province)).all()
    assert len(provinces) == 34
    assert count(session, Commune) == 3321
    per_province = Counter(session.scalars(select(Commune.province_id)))
    assert len(per_province) == 34 and min(per_province.values()) >= 30
    assert session.scalar(select(Commune.name).where(Commune.code == "19789")) == "Phường Thuận Hóa"

    for province in provinces:
        email = province_coordinator_email(province.code)
        user = authenticate(session, email, "demo")
        assert user is not None and user.role is Role.COORDINATOR
        assert {c.id for c in user.communes} == {c.id for c in province.communes}
    # The Huế demo's own accounts are there as usual.
    assert authenticate(session, "admin@demo.vn", "demo").role is Role.ADMIN
    assert authenticate(session, "dieuphoi@demo.vn", "demo").role is Role.COORDINATOR


def test_volunteers_requests_drives_visits_and_messages_in_every_province(session, national):
    counts = NationalCounts.scaled(FACTOR, 34)
    bulk = Volunteer.source == "national-demo"
    assert count(session, Volunteer, bulk) == counts.volunteers
    # Every province has volunteers, and one completed drive a week.
    assert (
        session.scalar(
            select(func.count(func.distinct(Commune.province_id)))
            .select_from(Volunteer)
            .join(Commune, Commune.id == Volunteer.home_commune_id)
            .where(bulk)
        )
        == 34
    )
    national_drives = Drive.name.not_like("%trung tâm Huế")
    assert count(session, Drive, national_drives, Drive.status == DriveStatus.COMPLETED) == (
        34 * counts.weeks
    )
    open_ = HelpRequest.status.in_([RequestStatus.NEW, RequestStatus.TRIAGED])
    assert count(session, HelpRequest, open_) >= counts.open_requests
    national_visits = session.scalar(
        select(func.count())
        .select_from(Visit)
        .join(Plan, Plan.id == Visit.plan_id)
        .join(Drive, Drive.id == Plan.drive_id)
        .where(national_drives)
    )
    assert national_visits == counts.visits
    assert count(session, VisitOutcome) >= counts.visits
    # Two messages per visit: the volunteer's assignment and the household's confirmation.
    assert count(session, Message, Message.idempotency_key.like("national:%")) == 2 * counts.visits
    # Searchable like any request: the folded text is filled in.
    assert count(session, HelpRequest, HelpRequest.search_text == "") == 0


def test_seeding_again_adds_nothing(session, national):
    before = (count(session, Volunteer), count(session, HelpRequest), count(session, Message))
    again = seed_national(session, factor=FACTOR)
    session.commit()
    assert (again.volunteers, again.requests, again.drives) == (0, 0, 0)
    assert (count(session, Volunteer), count(session, HelpRequest), count(session, Message)) == (
        before
    )
    # The city demo accepts the province coordinators as the demo's own accounts...
    seed_demo(session, password="demo")
    assert is_demo_email(province_coordinator_email("46"))
    # ...but no one else's.
    session.add(User(email="real@example.vn", name="Real", role=Role.ADMIN))
    session.flush()
    with pytest.raises(DemoError):
        seed_national(session, factor=FACTOR)


def test_the_dashboards_answer_over_the_country(client, session, national):
    assert login(client, "admin@demo.vn", "demo").status_code == 302
    page = client.get("/reports")
    assert page.status_code == 200
    # Over the whole country the provinces come first; a province leads to its communes.
    body = page.get_data(as_text=True)
    assert "Hà Nội" in body
    assert "Phường Thuận Hóa" not in body
    hue = session.scalar(select(Province).where(Province.code == "46"))
    page = client.get(f"/reports?province={hue.code}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Phường Thuận Hóa" in body
    assert client.get("/dashboard").status_code == 200
    assert client.get("/reports/export.xlsx").status_code == 200

    hanoi = session.scalar(select(Province).where(Province.code == "01"))
    coordinator = client.application.test_client()
    email = province_coordinator_email(hanoi.code)
    assert login(coordinator, email, "demo").status_code == 302
    assert coordinator.get("/dashboard").status_code == 200
    report = coordinator.get("/reports")
    assert report.status_code == 200
    body = report.get_data(as_text=True)
    assert hanoi.communes[0].name in body
    assert "Phường Thuận Hóa" not in body  # Huế is not in Hà Nội's scope
