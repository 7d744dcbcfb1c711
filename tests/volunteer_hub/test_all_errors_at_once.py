"""Every field's error in one answer: the forms, the staff entry, the API and the imports
(issue 14, item 4: "the request form reports a bad phone only after the name and commune are
fixed")."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.factories import problem_fields
from tests.volunteer_hub.test_intake import form
from tests.volunteer_hub.test_volunteer_signup import signup
from volunteer_hub.models import HelpRequest, Role, Volunteer
from volunteer_hub.services.intake.help_requests import parse_request
from volunteer_hub.services.intake.volunteers import parse_volunteer
from volunteer_hub.services.reference.accounts import create_api_token, create_user
from volunteer_hub.services.validation import FieldErrors


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def _years_ago(years: int) -> str:
    today = date.today()
    return str(today.replace(year=today.year - years, day=min(today.day, 28)))


def _error_ids(body: str) -> set[str]:
    return set(re.findall(r'id="([\w.]+)-error"', body))


# --- the household's request form --------------------------------------------------------------


def test_the_request_form_shows_every_error_at_once_and_keeps_what_was_typed(
    client, world, session
):
    client.get("/lang/en")
    before = _count(session, HelpRequest)
    data = form(
        world,
        beneficiary_name="",  # missing: a schema error
        phone="12345",  # wrong: found by the phone check, which used to wait for the rest
        contact_name="",  # asking for someone else without saying who
        commune=None,  # missing
        services=[],
        consent=None,
        house="7 kiệt 3 Hùng Vương",
    )
    response = client.post("/request", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _count(session, HelpRequest) == before
    assert {
        "beneficiary_name",
        "phone",
        "contact_name",
        "commune",
        "services",
        "consent",
    } <= _error_ids(body)
    assert "This is not a valid Vietnamese phone number." in body
    assert "Tell us who is asking." in body
    assert "This field is required." in body
    # What the person typed stays in the form.
    assert 'value="12345"' in body
    assert 'value="7 kiệt 3 Hùng Vương"' in body
    assert 'value="Trần Minh Anh"' not in body  # it was emptied, and stays empty


def test_a_wrong_hamlet_and_a_wrong_phone_are_reported_with_a_missing_name(client, world, session):
    """The commune's hamlets are checked in the database, with the rest, not after it."""
    response = client.post(
        "/request",
        data=form(world, beneficiary_name="", phone="012345", hamlet_id=str(world.b.hamlet.id)),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert {"beneficiary_name", "phone", "hamlet_id"} <= _error_ids(body)
    assert "Số điện thoại này không đúng định dạng số Việt Nam." in body


def test_no_phone_and_no_way_to_reach_is_reported_with_the_other_errors(client, world, session):
    response = client.post(
        "/request", data=form(world, phone="", reach_note="", people_count="0", lat="16.4")
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert {"reach_note", "people_count", "lat"} <= _error_ids(body)


def test_parse_request_lists_schema_and_cross_field_errors_together(session, world):
    with pytest.raises(FieldErrors) as caught:
        parse_request(
            {
                "beneficiary_name": "",
                "phone": "12",
                "commune": world.a.commune.code,
                "hamlet_id": world.b.hamlet.id,
                "services": ["vneid_activate", "no_such_service"],
                "windows": [
                    {"start": "2026-12-05T09:00:00+07:00", "end": "2026-12-05T08:00:00+07:00"}
                ],
                "lat": 48.85,
                "lng": 2.35,
                "consent": True,
            },
            session=session,
        )
    assert set(caught.value.errors) == {
        "beneficiary_name",
        "phone",
        "hamlet_id",
        "services",
        "windows.0",
        "lat",
    }
    # Without a session the database is not asked; the rest is still reported at once.
    with pytest.raises(FieldErrors) as alone:
        parse_request({"beneficiary_name": "", "phone": "12", "commune": "1", "consent": True})
    assert set(alone.value.errors) == {"beneficiary_name", "phone", "services"}


def test_a_field_that_is_wrong_on_its_own_is_not_blamed_twice(session, world):
    """A phone too long to be one is one error, not also "give a way to reach you"."""
    with pytest.raises(FieldErrors) as caught:
        parse_request(
            {"beneficiary_name": "Bà Hoa", "phone": "9" * 40, "commune": world.a.commune.code}
            | {"services": ["vneid_activate"], "consent": True},
            session=session,
        )
    assert set(caught.value.errors) == {"phone"}


def test_the_staff_entry_form_shows_every_error_at_once(client, world, session):
    login(client, world.a.coordinator.email)
    before = _count(session, HelpRequest)
    response = client.post(
        "/requests/new",
        data=form(world, beneficiary_name="", phone="12345", services=[], source="nowhere"),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert {"beneficiary_name", "phone", "services", "source"} <= _error_ids(body)
    assert _count(session, HelpRequest) == before


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def partner_token(session, world):  # type: ignore[no-untyped-def]
    partner = create_user(
        session, email="app@partner.vn", name="Partner", role=Role.PARTNER, password=None
    )
    token = create_api_token(session, partner).token
    session.commit()
    return token


def test_the_api_lists_every_field_error_in_one_problem(client, world, session, partner_token):
    before = _count(session, HelpRequest)
    response = client.post(
        "/api/v1/requests",
        data=json.dumps(
            {
                "beneficiary_name": "",
                "contact_is_beneficiary": False,
                "phone": "12345",
                "commune": world.a.commune.code,
                "hamlet_id": world.b.hamlet.id,
                "services": ["no_such_service"],
                "people_count": 99,
                "consent": True,
            }
        ),
        headers={"Authorization": f"Bearer {partner_token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert set(problem_fields(response)) == {
        "beneficiary_name",
        "contact_name",
        "phone",
        "hamlet_id",
        "services",
        "people_count",
    }
    assert _count(session, HelpRequest) == before


# --- the volunteer's sign-up form --------------------------------------------------------------


def test_the_sign_up_form_shows_every_error_at_once_and_keeps_what_was_typed(
    client, world, session
):
    client.get("/lang/en")
    before = _count(session, Volunteer)
    data = signup(
        world,
        full_name="",
        phone="0234 3822 456",  # a landline
        date_of_birth=_years_ago(16),  # a minor, without a guardian
        guardian_phone="12345",
        commune=None,
        travel_mode="rocket",
        availability=[],
        away_first=["2026-12-27", "2026-12-01"],
        away_last=["2026-12-20", "nope"],
        consent=None,
    )
    response = client.post("/volunteer", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _count(session, Volunteer) == before
    assert {
        "full_name",
        "phone",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
        "commune",
        "travel_mode",
        "availability",
        "away.0",
        "away.1",
        "consent",
    } <= _error_ids(body)
    assert "Enter a Vietnamese mobile number" in body
    assert "Under 18: a parent or guardian&#39;s name is needed." in body
    assert "they get an SMS when you are given visits" in body
    assert "The last day must not be before the first day." in body
    # Kept as typed.
    assert 'value="0234 3822 456"' in body
    assert 'value="12345"' in body
    assert 'value="Trường Đại học Khoa học, Đại học Huế"' in body
    assert 'value="2026-12-27"' in body


def test_a_minor_s_guardian_phone_must_be_a_mobile_and_not_their_own(client, world, session):
    minor = signup(
        world,
        date_of_birth=_years_ago(16),
        guardian_name="Lê Văn Hùng",
        guardian_consent="yes",
    )
    before = _count(session, Volunteer)
    for phone in ("0234 3822 456", "0987 654 321"):  # a landline; the volunteer's own number
        response = client.post("/volunteer", data=minor | {"guardian_phone": phone})
        assert response.status_code == 422, phone
        assert _error_ids(response.get_data(as_text=True)) == {"guardian_phone"}
    assert _count(session, Volunteer) == before
    ok = client.post("/volunteer", data=minor | {"guardian_phone": "0905 123 456"})
    assert ok.status_code == 302


def test_an_adult_s_hidden_guardian_fields_are_ignored(client, world, session):
    response = client.post("/volunteer", data=signup(world, guardian_phone="12345"))
    assert response.status_code == 302
    volunteer = session.scalars(select(Volunteer).where(Volunteer.phone == "+84987654321")).one()
    assert volunteer.guardian_phone is None and volunteer.guardian_name is None


def test_parse_volunteer_checks_skills_place_and_guardian_with_the_schema(session, world):
    with pytest.raises(FieldErrors) as caught:
        parse_volunteer(
            {
                "full_name": "Lê Minh Khôi",
                "phone": "12",
                "kind": "student",
                "date_of_birth": _years_ago(15),
                "commune": world.a.commune.code,
                "hamlet_id": world.b.hamlet.id,
                "travel_mode": "bicycle",
                "skills": {"vneid": 2, "juggling": 3},
                "availability": ["sat_morning"],
                "max_visits_per_day": 40,
                "consent": True,
            },
            session=session,
        )
    assert set(caught.value.errors) == {
        "phone",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
        "hamlet_id",
        "skills",
        "max_visits_per_day",
    }


def test_the_guardian_fields_say_they_are_required_under_18(client, world):
    body = client.get("/volunteer").get_data(as_text=True)
    start = body.index("data-minor-only")
    block = body[start : body.index("</div>\n  </div>", start)]
    assert block.count("bắt buộc nếu dưới 18 tuổi") == 3
    assert "không bắt buộc" not in block
    client.get("/lang/en")
    body = client.get("/volunteer").get_data(as_text=True)
    assert body.count("(required if under 18)") == 3
    assert "They get an SMS each time you are given visits" in body
