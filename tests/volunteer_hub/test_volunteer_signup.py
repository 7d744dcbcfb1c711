"""Volunteers sign up, verify their phone by SMS code, and coordinators review them."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.fakes import real_text
from volunteer_hub.models import Message, Volunteer, VolunteerStatus
from volunteer_hub.services.intake.volunteers import can_be_assigned


def signup(world, **changes):  # type: ignore[no-untyped-def]
    data = {
        "full_name": "Lê Minh Khôi",
        "phone": "0987 654 321",
        "kind": "student",
        "school_or_unit": "Trường Đại học Khoa học, Đại học Huế",
        "date_of_birth": "2004-09-02",
        "commune": world.a.commune.code,
        "hamlet_id": str(world.a.hamlet.id),
        "travel_mode": "motorbike",
        "skill_vneid": "3",
        "skill_epayment": "2",
        "languages": ["km"],
        "availability": ["sat_morning", "sun_morning"],
        "away_first": ["2026-12-20", ""],
        "away_last": ["2026-12-27", ""],
        "max_visits_per_day": "5",
        "consent": "yes",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def latest_code(session, phone: str) -> str:  # type: ignore[no-untyped-def]
    message = session.scalars(
        select(Message)
        .where(Message.to_phone == phone, Message.kind == "phone_code")
        .order_by(Message.id.desc())
    ).first()
    assert message is not None, "no code was queued"
    return re.search(r"\b(\d{6})\b", real_text(message)).group(1)


def test_a_volunteer_signs_up_and_verifies_the_phone(client, world, session):
    response = client.post("/volunteer", data=signup(world))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/volunteer/verify")
    volunteer = session.scalars(select(Volunteer).where(Volunteer.phone == "+84987654321")).one()
    assert volunteer.status is VolunteerStatus.PENDING
    assert volunteer.phone_verified_at is None
    assert volunteer.skill_codes == {"vneid", "epayment"}
    assert volunteer.languages == ["vi", "km"]
    assert [(a.first_day, a.last_day) for a in volunteer.absences] == [
        (date(2026, 12, 20), date(2026, 12, 27))
    ]
    assert "0987 654 321" in client.get("/volunteer/verify").get_data(as_text=True)

    wrong = client.post("/volunteer/verify", data={"action": "verify", "code": "000000"})
    assert wrong.status_code == 422
    code = latest_code(session, "+84987654321")
    ok = client.post("/volunteer/verify", data={"action": "verify", "code": code})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/volunteer/thanks")
    session.refresh(volunteer)
    assert volunteer.phone_verified_at is not None
    assert not can_be_assigned(volunteer)  # still waits for a coordinator


def test_a_minor_needs_a_guardian(client, world, session):
    minor = signup(world, date_of_birth=str(date.today().replace(year=date.today().year - 16)))
    response = client.post("/volunteer", data=minor)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("guardian_name", "guardian_phone", "guardian_consent"):
        assert f'id="{field}-error"' in body or f"{field}" in body
    ok = client.post(
        "/volunteer",
        data=minor
        | {
            "guardian_name": "Lê Văn Hùng",
            "guardian_phone": "0905 123 456",
            "guardian_consent": "yes",
        },
    )
    assert ok.status_code == 302
    volunteer = session.scalars(select(Volunteer).where(Volunteer.phone == "+84987654321")).one()
    assert volunteer.guardian_phone == "+84905123456" and volunteer.guardian_consent_at is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "0234 3822 456"),  # a landline cannot receive SMS
        ("phone", "12345"),
        ("date_of_birth", "2020-01-01"),
        ("date_of_birth", "yesterday"),
        ("kind", "astronaut"),
        ("commune", "00000"),
        ("skill_vneid", "0"),
        ("availability", []),
        ("consent", None),
        ("full_name", "x" * 200),
    ],
)
def test_bad_sign_ups_are_refused_and_store_nothing(client, world, session, field, value):
    data = signup(world, **{field: value})
    if field == "skill_vneid":
        data.pop("skill_epayment")
    before = session.scalar(select(func.count()).select_from(Volunteer))
    response = client.post("/volunteer", data=data)
    assert response.status_code == 422, field
    assert session.scalar(select(func.count()).select_from(Volunteer)) == before


# --- a stranger learns nothing about whether a phone is registered (issue 15, item 7) -----------


def _same_page(text: str) -> str:
    """The page without what differs between any two visitors: the CSRF token and the number."""
    text = re.sub(r'name="csrf_token" value="[^"]*"', "", text)
    text = re.sub(r'name="csrf_token" content="[^"]*"', "", text)
    return re.sub(r"0\d{2,3} \d{3} \d{3,4}|\+84\d{9}", "PHONE", text)


def _answer(client, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    first = getattr(client, method)(path, **kwargs)
    page = client.get(first.headers["Location"]) if first.status_code in (302, 303) else first
    return (
        first.status_code,
        first.headers.get("Location"),
        page.status_code,
        _same_page(page.get_data(as_text=True)),
    )


def _messages(session, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.kind for m in session.scalars(select(Message).where(Message.to_phone == phone))]


@pytest.mark.parametrize("verified", [False, True])
def test_signing_up_with_a_registered_phone_answers_as_for_a_new_one(app, world, session, verified):
    owner = world.a.volunteer
    if verified:
        owner.phone_verified_at = owner.created_at
        session.commit()
    before = session.scalar(select(func.count()).select_from(Volunteer))
    known = _answer(app.test_client(), "post", "/volunteer", data=signup(world, phone=owner.phone))
    assert session.scalar(select(func.count()).select_from(Volunteer)) == before  # none added
    fresh = _answer(app.test_client(), "post", "/volunteer", data=signup(world))
    assert known == fresh and known[:3] == (302, "/volunteer/verify", 200)
    # The owner hears of it: a code to verify, or a notice that they are already registered.
    assert _messages(session, owner.phone) == ["already_registered" if verified else "phone_code"]
    assert _messages(session, "+84987654321") == ["phone_code"]


def test_the_session_cookie_does_not_say_whether_the_phone_is_registered(app, world, session):
    client = app.test_client()
    client.post("/volunteer", data=signup(world, phone=world.a.volunteer.phone))
    with client.session_transaction() as stored:
        assert stored.get("verify_phone") == world.a.volunteer.phone
        assert not any("volunteer" in key for key in stored)


def test_verify_by_phone_answers_alike_for_registered_and_unknown_numbers(app, world, session):
    registered, unknown = app.test_client(), app.test_client()
    phone = world.a.volunteer.phone
    for _ in range(2):  # the second asks within a minute: the limit must not show either
        start = {"action": "start"}
        assert _answer(registered, "post", "/volunteer/verify", data=start | {"phone": phone}) == (
            _answer(unknown, "post", "/volunteer/verify", data=start | {"phone": "0909 000 111"})
        )
    resend = {"action": "resend"}
    assert _answer(registered, "post", "/volunteer/verify", data=resend) == _answer(
        unknown, "post", "/volunteer/verify", data=resend
    )
    wrong = {"action": "verify", "code": "000000"}
    answered = _answer(registered, "post", "/volunteer/verify", data=wrong)
    assert answered == _answer(unknown, "post", "/volunteer/verify", data=wrong)
    assert answered[0] == 422
    assert _messages(session, phone) == ["phone_code"]  # one code: the second came too soon


def test_an_imported_volunteer_verifies_by_phone_number(client, world, session):
    volunteer = world.a.volunteer
    assert volunteer.phone_verified_at is None
    started = client.post("/volunteer/verify", data={"action": "start", "phone": volunteer.phone})
    assert started.status_code == 302
    code = latest_code(session, volunteer.phone)
    client.post("/volunteer/verify", data={"action": "verify", "code": code})
    session.refresh(volunteer)
    assert volunteer.phone_verified_at is not None


def test_asking_for_a_code_for_an_unknown_number_says_the_same_thing(client, world, session):
    before = session.scalar(select(func.count()).select_from(Message))
    response = client.post(
        "/volunteer/verify",
        data={"action": "start", "phone": "0909 000 111"},
        follow_redirects=True,
    )
    assert "Nếu số này là của một tình nguyện viên" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Message)) == before


def test_a_coordinator_approves_and_edits_a_volunteer(client, world, session):
    login(client, world.a.coordinator.email)
    volunteer = world.a.volunteer
    response = client.post(f"/volunteers/{volunteer.id}/status", data={"status": "inactive"})
    assert response.status_code == 302
    session.refresh(volunteer)
    assert volunteer.status is VolunteerStatus.INACTIVE
    client.post(f"/volunteers/{volunteer.id}/status", data={"status": "active"})
    session.refresh(volunteer)
    assert (
        volunteer.status is VolunteerStatus.ACTIVE
        and volunteer.approved_by_id == world.a.coordinator.id
    )

    client.post(
        f"/volunteers/{volunteer.id}/profile",
        data={
            "skill_vneid": "3",
            "skill_health_book": "1",
            "travel_mode": "bicycle",
            "max_visits_per_day": "3",
            "languages": ["hmn"],
        },
    )
    session.refresh(volunteer)
    assert volunteer.skill_codes == {"vneid", "health_book"}
    assert volunteer.travel_mode.value == "bicycle" and volunteer.max_visits_per_day == 3
    assert volunteer.languages == ["vi", "hmn"]


def test_a_bad_review_changes_nothing(client, world, session):
    login(client, world.a.coordinator.email)
    volunteer = world.a.volunteer
    assert (
        client.post(f"/volunteers/{volunteer.id}/status", data={"status": "emperor"}).status_code
        == 400
    )
    response = client.post(
        f"/volunteers/{volunteer.id}/profile",
        data={"travel_mode": "rocket", "max_visits_per_day": "99"},
    )
    assert response.status_code == 303
    session.refresh(volunteer)
    assert volunteer.travel_mode.value == "motorbike"
