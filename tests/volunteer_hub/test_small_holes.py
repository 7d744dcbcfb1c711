"""Issue 15, item 7: the smaller holes (redirect targets with CR/LF or backslashes)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login

NEXT_VALUES = [
    "/requests\r\nSet-Cookie: evil=1",
    "/\r\n/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "/\t/evil.example",
]


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_next_with_control_characters_goes_home(client, target):
    response = client.get("/lang/vi", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Set-Cookie: evil" not in str(response.headers)


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_login_page_with_such_a_next_never_fails(client, target):
    assert client.get("/login", query_string={"next": target}).status_code < 500


# --- NUL bytes: PostgreSQL refuses them in text, so they must never reach the database ----------

NUL_TEXT = "Tổ\x00 9\x00"


def no_nul(*values) -> bool:  # type: ignore[no-untyped-def]
    return all(v is None or "\x00" not in v for v in values)


def test_a_nul_in_a_links_notes_is_dropped(client, session, world):
    from volunteer_hub.models import VisitResponse
    from volunteer_hub.services.messaging import links

    visit = world.b.visit  # rescheduling ends this visit; the volunteer declines another
    household = links.issue_link(
        session, purpose=links.HOUSEHOLD_VISIT, visit=visit, request_id=visit.request_id
    ).code
    volunteer = links.issue_link(
        session,
        purpose=links.VOLUNTEER_VISIT,
        visit=world.a.visit,
        volunteer_id=world.a.volunteer.id,
    ).code
    session.commit()
    answer = client.post(f"/s/{household}", data={"action": "reschedule", "note": NUL_TEXT})
    assert answer.status_code == 302
    answer = client.post(f"/s/{volunteer}", data={"action": "decline", "note": "ốm\x00"})
    assert answer.status_code == 302
    notes = sorted(r.note for r in session.scalars(select(VisitResponse)))
    assert notes == ["Tổ 9", "ốm"]


def test_a_nul_in_sms_admin_forms_is_dropped(client, session, world):
    from volunteer_hub.models import MessageTemplate, SmsOptOut

    login(client, world.admin.email)
    saved = client.post(
        "/admin/sms/templates/assignment/vi",
        data={"action": "save", "body": "{sender}:\x00 Lịch {date} {time}. {link}"},
    )
    assert saved.status_code == 303
    (template,) = session.scalars(select(MessageTemplate))
    assert template.body == "{sender}: Lịch {date} {time}. {link}"
    added = client.post("/admin/sms/opt-outs", data={"phone": "0901\x00234567", "note": NUL_TEXT})
    assert added.status_code == 303
    assert session.get(SmsOptOut, "+84901234567").note == "Tổ 9"


def test_a_nul_in_an_invitation_reason_or_a_hamlet_name_is_dropped(client, session, world):
    from tests import factories
    from volunteer_hub.models import DriveVolunteer, Hamlet

    login(client, world.a.coordinator.email)
    drive = world.a.drive
    volunteer = factories.volunteer(session, world.a.commune, phone_verified_at=factories.now())
    drive.volunteers.append(DriveVolunteer(volunteer=volunteer))  # invited
    session.commit()
    path = f"/drives/{drive.id}/volunteers"
    answered = client.post(
        path,
        data={
            "action": "answer",
            "volunteer_id": str(volunteer.id),
            "status": "declined",
            "reason": "bận\x00 việc",
        },
    )
    assert answered.status_code in (302, 303)
    invitation = session.scalars(
        select(DriveVolunteer).where(DriveVolunteer.volunteer_id == volunteer.id)
    ).one()
    assert invitation.reason == "bận việc"
    added = client.post(f"/communes/{world.a.commune.code}/hamlets", data={"name": NUL_TEXT})
    assert added.status_code in (302, 303)
    names = session.scalars(select(Hamlet.name).where(Hamlet.commune_id == world.a.commune.id))
    assert "Tổ 9" in list(names)


def test_nul_bytes_in_query_strings_and_json_never_reach_a_view(app):
    seen: dict[str, object] = {}

    @app.post("/_probe")
    def probe():  # type: ignore[no-untyped-def]
        from flask import request

        seen["args"] = request.args.getlist("q")
        seen["form"] = request.form.to_dict(flat=False)
        seen["json"] = request.get_json(silent=True)
        return ""

    client = app.test_client()
    client.post("/_probe?q=a%00b&q=%00", data={"n\x00ame": ["x\x00", "y"]})
    assert seen["args"] == ["ab", ""] and seen["form"] == {"name": ["x", "y"]}
    client.post("/_probe", json={"a\x00": ["b\x00", {"c": "\x00d"}, 1, None]})
    assert seen["json"] == {"a": ["b", {"c": "d"}, 1, None]}


# --- dates at the ends of the calendar, and years ahead --------------------------------------


@pytest.fixture
def partner_token(session, world) -> str:  # type: ignore[no-untyped-def]
    from volunteer_hub.models import Role
    from volunteer_hub.services.reference.accounts import create_api_token, create_user

    partner = create_user(
        session, email="app@partner.vn", name="App", role=Role.PARTNER, password=None
    )
    token = create_api_token(session, partner).token
    session.commit()
    return token


EDGE_WINDOWS = [
    ({"start": "9999-12-31T23:00:00-14:00", "end": "9999-12-31T23:30:00-14:00"}, "calendar"),
    ({"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-01T01:00:00+14:00"}, "calendar"),
    ({"start": "9999-06-01T08:00:00+07:00", "end": "9999-06-01T09:00:00+07:00"}, "too far"),
]


@pytest.mark.parametrize(("window", "words"), EDGE_WINDOWS)
def test_api_windows_at_the_calendar_edges_are_field_errors(
    client, session, world, partner_token, window, words
):
    from tests.volunteer_hub.test_api_intake import count, payload, post

    before = count(session)
    response = post(
        client, partner_token, payload(world, windows=[window]), **{"Accept-Language": "en"}
    )
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert "windows.0.start" in errors and words in errors["windows.0.start"]
    assert count(session) == before


def test_drive_days_years_ahead_or_at_year_one_are_refused(client, session, world):
    from tests.volunteer_hub.test_drive_setup import drive_form
    from volunteer_hub.models import Drive

    login(client, world.a.coordinator.email)
    client.get("/lang/en")
    far = client.post(
        "/drives/new", data=drive_form(world, block_day=["9999-12-31", "9999-12-31", ""])
    )
    assert far.status_code == 422
    assert "too far ahead" in far.get_data(as_text=True)
    assert session.scalars(select(Drive).where(Drive.name == "Cuối tuần số")).first() is None
    assert client.post("/drives/new", data=drive_form(world)).status_code == 302
    drive = session.scalars(select(Drive).where(Drive.name == "Cuối tuần số")).one()
    early = client.post(
        f"/drives/{drive.id}/edit",
        data=drive_form(
            world,
            block_day=["0001-01-01", "", ""],
            block_start=["00:30", "", ""],
            block_end=["03:00", "", ""],
        ),
    )
    assert early.status_code == 422
    assert "outside the calendar" in early.get_data(as_text=True)


def test_a_volunteers_time_away_in_year_9999_is_refused(client, session, world):
    from tests.volunteer_hub.test_volunteer_signup import signup
    from volunteer_hub.models import Volunteer

    client.get("/lang/en")
    data = signup(world, away_first=["2026-12-20", ""], away_last=["9999-12-31", ""])
    response = client.post("/volunteer", data=data)
    assert response.status_code == 422
    assert "too far ahead" in response.get_data(as_text=True)
    assert session.scalars(select(Volunteer).where(Volunteer.phone == "+84987654321")).all() == []
