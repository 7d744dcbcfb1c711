"""Bad input never gives a 500, and never leaves half a record behind.

The public forms, the intake API, the coordinators' filters and every record URL get the values
that broke them once: digits that ``str.isdigit`` accepts and ``int`` refuses ("²"), numbers
beyond the database's INTEGER, names made only of invisible characters, NUL bytes, markup,
bidirectional marks, combining characters and JSON of the wrong type. Each answer is below 500;
a form either stores one complete record or reports an error and stores nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import REPO, login
from tests.factories import problem_fields
from volunteer_hub.models import (
    AuditEvent,
    HelpRequest,
    Message,
    RequestService,
    RequestWindow,
    Role,
    Volunteer,
    VolunteerAbsence,
    VolunteerAvailability,
    VolunteerSkill,
)
from volunteer_hub.phones import parse_phone
from volunteer_hub.services.reference.accounts import create_api_token, create_user

# --- the nasty values ---------------------------------------------------------------------------

UNICODE_DIGITS = ["²", "١٢", "０１", "߁", "Ⅻ"]
HUGE_NUMBERS = [
    "99999999999999999999",
    "2147483648",
    "9" * 5000,
    "-1",
    "0",
    "1e9",
    "nan",
    "inf",
    " 3 ",
    "3.5",
]
NUMBERS = UNICODE_DIGITS + HUGE_NUMBERS
INVISIBLE = [
    "\u200b",
    "\u200b\u200c\u200d\ufeff",
    "\u202e\u202d",
    "\u2066\u2069",
    "\u00ad",
    " \u200b \t",
]
ODD_TEXT = [
    "<script>alert(1)</script>",
    "a\x00b",
    "\x00",
    "\u202eTrần Thị Hoa",  # right-to-left override in front of a real name
    "Hoa\u200f\u200e",
    "e" + "\u0301" * 300,  # one letter under a pile of combining accents
    "x" * 5000,
    "𝕳𝖔𝖆 🙂",
    "%s%n{0}${x}",
]


def counts(session, *models) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Return the number of rows of each model (to prove nothing partial was stored)."""
    session.expire_all()
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in models}


REQUEST_ROWS = (HelpRequest, RequestService, RequestWindow, AuditEvent)
VOLUNTEER_ROWS = (
    Volunteer,
    VolunteerSkill,
    VolunteerAvailability,
    VolunteerAbsence,
    AuditEvent,
    Message,
)


def has_invisible(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in text)


def assert_complete_request(record: HelpRequest, session) -> None:  # type: ignore[no-untyped-def]
    assert record.reference and len(record.reference) == 6
    assert record.beneficiary_name.strip() and not has_invisible(record.beneficiary_name)
    assert len(record.beneficiary_name) <= 120
    assert record.commune_id is not None and record.services
    assert record.consent_at is not None and record.priority in range(1, 6)
    assert 1 <= record.people_count <= 20
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "help_request", AuditEvent.entity_id == str(record.id))
        )
        == 1
    )


def assert_complete_volunteer(volunteer: Volunteer, session) -> None:  # type: ignore[no-untyped-def]
    assert volunteer.full_name.strip() and not has_invisible(volunteer.full_name)
    assert len(volunteer.full_name) <= 120
    assert volunteer.phone.startswith("+84")
    assert volunteer.skills and volunteer.availability and volunteer.home_commune_id is not None
    assert 1 <= volunteer.max_visits_per_day <= 12
    assert volunteer.consent_at is not None


def request_form(world, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {
        "beneficiary_name": "Nguyễn Thị Hoa",
        "age_group": "75_plus",
        "situations": ["elderly_alone"],
        "people_count": "1",
        "phone": "0912 345 678",
        "commune": world.a.commune.code,
        "hamlet_id": str(world.a.hamlet.id),
        "house": "12 kiệt 45 Lê Lợi",
        "services": ["vneid_activate"],
        "consent": "yes",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def volunteer_form(world, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {
        "full_name": "Lê Minh Khôi",
        "phone": "0987 654 321",
        "kind": "student",
        "date_of_birth": "2004-09-02",
        "commune": world.a.commune.code,
        "hamlet_id": str(world.a.hamlet.id),
        "travel_mode": "motorbike",
        "skill_vneid": "3",
        "availability": ["sat_morning"],
        "max_visits_per_day": "4",
        "consent": "yes",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def outcome_is_whole(  # type: ignore[no-untyped-def]
    response, before: dict[str, int], after: dict[str, int], main: str, value: object = None
) -> bool:
    """Assert one of the two allowed outcomes; return True when a record was stored."""
    shown = repr(value)[:40]
    assert response.status_code < 500, (shown, response.get_data(as_text=True)[:300])
    if response.status_code in (201, 302):
        assert after[main] == before[main] + 1, shown
        return True
    assert 400 <= response.status_code < 500, shown
    assert after == before, f"{shown}: a refused submission stored rows: {before} -> {after}"
    return False


# --- the public request form --------------------------------------------------------------------

# One test per field, looping over its values: a world per value would make the suite slow.
REQUEST_CASES = {
    "people_count": NUMBERS,
    "hamlet_id": NUMBERS,
    "block": NUMBERS,
    "lat": NUMBERS,
    "beneficiary_name": INVISIBLE + ODD_TEXT,
    "house": INVISIBLE + ODD_TEXT,
    "notes": ODD_TEXT + ["\n\n\u200b\n"],
    "commune": ["\x00", "²", "x" * 300, "<b>", "\u202e19789"],
    "services": [["\x00"], ["²"], ["x" * 300], ["vneid_activate\x00"], ["VNEID_ACTIVATE"]],
    "situations": [["\x00"], ["x" * 300]],
    "phone": ["０９１２３４５６７８", "²" * 10, "\x00", "+" + "9" * 5000],
}


@pytest.mark.parametrize("field", REQUEST_CASES)
def test_the_request_form_never_fails_on_bad_input(client, world, session, field):
    for value in REQUEST_CASES[field]:
        before = counts(session, *REQUEST_ROWS)
        response = client.post("/request", data=request_form(world, **{field: value}))
        if outcome_is_whole(response, before, counts(session, *REQUEST_ROWS), "HelpRequest", value):
            assert_complete_request(
                session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first(),
                session,
            )


def test_a_name_of_invisible_characters_is_refused_as_missing(client, world, session):
    for name in INVISIBLE:
        before = counts(session, *REQUEST_ROWS)
        response = client.post("/request", data=request_form(world, beneficiary_name=name))
        assert response.status_code == 422, repr(name)
        assert 'id="beneficiary_name-error"' in response.get_data(as_text=True)
        assert counts(session, *REQUEST_ROWS) == before


def test_a_name_is_counted_after_cleaning(client, world, session):
    # 118 letters hidden among zero-width spaces fit the 120 allowed once the spaces go.
    name = "\u200b".join("Hoa" * 40)[:300]
    response = client.post("/request", data=request_form(world, beneficiary_name=name))
    assert response.status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.beneficiary_name == "Hoa" * 40


# --- the volunteer sign-up form -----------------------------------------------------------------

VOLUNTEER_CASES = {
    "max_visits_per_day": NUMBERS,
    "hamlet_id": NUMBERS,
    "skill_vneid": UNICODE_DIGITS + ["9" * 5000],
    "full_name": INVISIBLE + ODD_TEXT,
    "school_or_unit": ODD_TEXT,
    "date_of_birth": ["２００４-09-02", "99999-01-01", "2004-13-45", "\x00", "9" * 5000],
    "away_first": ["２０２６-12-20", "99999-01-01", "\x00"],
    "phone": ["０９８７６５４３２１", "\x00", "9" * 5000],
    "commune": ["\x00", "²", "x" * 300],
    "languages": [["\x00"], ["x" * 300], ["ＶＩ"]],
    "availability": [["\x00"], ["x" * 300]],
    "kind": ["\x00", "x" * 300],
}


@pytest.mark.parametrize("field", VOLUNTEER_CASES)
def test_the_volunteer_form_never_fails_on_bad_input(client, world, session, field):
    for index, value in enumerate(VOLUNTEER_CASES[field]):
        # A new phone each time: a value that is accepted must not make the next a duplicate.
        form = volunteer_form(world, phone=f"0987 654 {index:03d}") | {field: value}
        before = counts(session, *VOLUNTEER_ROWS)
        response = client.post("/volunteer", data=form)
        if outcome_is_whole(response, before, counts(session, *VOLUNTEER_ROWS), "Volunteer", value):
            assert_complete_volunteer(
                session.scalars(select(Volunteer).order_by(Volunteer.id.desc())).first(), session
            )


def test_a_volunteer_named_only_with_invisible_characters_is_refused(client, world, session):
    for name in INVISIBLE:
        before = counts(session, *VOLUNTEER_ROWS)
        response = client.post("/volunteer", data=volunteer_form(world, full_name=name))
        assert response.status_code == 422, repr(name)
        assert 'id="full_name-error"' in response.get_data(as_text=True)
        assert counts(session, *VOLUNTEER_ROWS) == before


def test_a_phone_code_in_other_digits_is_just_wrong(client, world, session):
    assert client.post("/volunteer", data=volunteer_form(world)).status_code == 302
    for code in ["²²²²²²", "١٢٣٤٥٦", "9" * 5000, "\x00"]:
        response = client.post("/volunteer/verify", data={"action": "verify", "code": code})
        assert response.status_code == 422, repr(code)


# --- the intake API -----------------------------------------------------------------------------


@pytest.fixture
def partner_token(session, world) -> str:  # type: ignore[no-untyped-def]
    partner = create_user(
        session, email="app@partner.vn", name="App", role=Role.PARTNER, password=None
    )
    token = create_api_token(session, partner).token
    session.commit()
    return token


def api_payload(world) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "beneficiary_name": "Nguyễn Thị Lan",
        "phone": "0912 345 678",
        "commune": world.a.commune.code,
        "services": ["vneid_activate"],
        "consent": True,
    }


# Raw JSON fragments, so values json.dumps cannot write (1e400, NaN, lone surrogates) get sent.
API_VALUES = {
    "hamlet_id": [
        "99999999999999999999",
        "2147483648",
        "-1",
        "0",
        '"²"',
        '"١٢"',
        "1e400",
        "NaN",
        "true",
        "[]",
        "{}",
        "1.5",
        '"9' + "9" * 5000 + '"',
        "9" * 5000,
    ],
    "people_count": ["99999999999999999999", '"²"', "1e400", "-Infinity", "null", '"3"', "[1]"],
    "beneficiary_name": [
        '"\\u200b"',
        '"\\u202e\\u200b"',
        '"\\ud800"',
        '"a\\u0000b"',
        "42",
        "null",
        "[]",
        '{"a": 1}',
        json.dumps("x" * 5000),
        json.dumps("e" + "\u0301" * 300),
        json.dumps("<script>alert(1)</script>"),
    ],
    "services": [
        '["\\u0000"]',
        '["\\ud800"]',
        "[1]",
        '"vneid_activate"',
        '[["vneid_activate"]]',
        "[null]",
        json.dumps(["x" * 300]),
        json.dumps(["vneid_activate"] * 500),
    ],
    "commune": ['"\\u0000"', '"\\ud800"', "12345", '"²"', json.dumps("1" * 300)],
    "windows": [
        '[{"start": "²", "end": "x"}]',
        '[{"start": "99999-01-01T00:00:00+07:00", "end": 1}]',
        '"x"',
        "[[]]",
        "[1]",
    ],
    "lat": ["1e400", "NaN", '"²"', "true", "[]"],
    "languages": ['["\\u0000"]', '["vi\\u0000"]', "[1]"],
    "situations": ['["\\u0000"]', "[{}]"],
    "consent": ['"yes"', "1", "null"],
    "house": ['"\\u0000"', '"\\ud800"', "{}"],
    "notes": ['"\\u0000\\n\\u200b"', json.dumps("x\n" * 3000)],
}


def post_raw(client, token: str, body: str | bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/requests",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("field", API_VALUES)
def test_the_intake_api_never_fails_on_bad_json(client, world, session, partner_token, field):
    for raw in API_VALUES[field]:
        body = json.dumps(api_payload(world))[:-1] + f', "{field}": {raw}}}'
        before = counts(session, *REQUEST_ROWS)
        response = post_raw(client, partner_token, body)
        if outcome_is_whole(response, before, counts(session, *REQUEST_ROWS), "HelpRequest", raw):
            assert_complete_request(
                session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first(),
                session,
            )
        else:
            assert response.status_code in (400, 422), (raw[:40], response.status_code)
            if response.status_code == 422:
                assert problem_fields(response)


def test_the_intake_api_never_fails_on_a_bad_body(client, world, session, partner_token):
    bodies = [
        "[]",
        '"text"',
        "123",
        "null",
        "true",
        "[" * 50_000 + "]" * 50_000,
        '{"a": ' * 5000 + "1" + "}" * 5000,
        "\x00",
        b"\xff\xfe{",
        "{" + '"k": 1,' * 10_000 + '"z": 2}',
    ]
    for body in bodies:
        before = counts(session, *REQUEST_ROWS)
        response = post_raw(client, partner_token, body)
        assert 400 <= response.status_code < 500, repr(body)[:40]
        assert counts(session, *REQUEST_ROWS) == before


def test_a_huge_hamlet_id_is_a_field_error_not_a_crash(client, world, session, partner_token):
    body = api_payload(world) | {"hamlet_id": 99999999999999999999}
    response = post_raw(client, partner_token, json.dumps(body))
    assert response.status_code == 422
    assert "hamlet_id" in problem_fields(response)


# --- the coordinators' lists and filters ----------------------------------------------------------

FILTER_VALUES = NUMBERS + ["\x00", "\u202e1", "<script>", "", "x" * 3000, "e\u0301\u0301"]


def filter_paths(world) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    a = world.a
    return [
        ("/requests", "commune"),
        ("/requests", "priority"),
        ("/requests", "page"),
        ("/requests", "q"),
        ("/requests", "status"),
        ("/volunteers", "commune"),
        ("/volunteers", "page"),
        ("/volunteers", "q"),
        ("/volunteers", "status"),
        ("/drives", "page"),
        (f"/drives/{a.drive.id}/requests", "commune"),
        (f"/drives/{a.drive.id}/requests", "hamlet"),
        (f"/drives/{a.drive.id}/requests", "service"),
        (f"/drives/{a.drive.id}/requests", "priority"),
        (f"/drives/{a.drive.id}/requests", "older"),
        (f"/drives/{a.drive.id}/requests", "page"),
        (f"/drives/{a.drive.id}/requests", "status"),
        (f"/plans/{a.plan.id}/compare", "with"),
        ("/reports", "drive"),
        ("/reports", "commune"),
        ("/reports", "from"),
        ("/reports/export.csv", "drive"),
        (f"/volunteers/{a.volunteer.id}/certificate", "drive"),
    ]


def test_coordinator_filters_never_fail(client, world):
    login(client, world.a.coordinator.email)
    for path, name in filter_paths(world):
        for value in FILTER_VALUES:
            response = client.get(path, query_string={name: value})
            assert response.status_code < 500, (
                f"GET {path}?{name}={value[:20]!r} gave {response.status_code}"
            )


def test_a_page_that_does_not_exist_is_404(client, world):
    login(client, world.a.coordinator.email)
    for page in ["99999999999999999999", "2147483648", "9" * 5000, "0", "-1", "²", "2"]:
        for path in ("/requests", "/volunteers", "/drives", f"/drives/{world.a.drive.id}/requests"):
            assert client.get(path, query_string={"page": page}).status_code == 404, (
                path,
                page[:20],
            )


def test_the_first_page_is_the_default(client, world):
    login(client, world.a.coordinator.email)
    assert client.get("/requests", query_string={"page": ""}).status_code == 200
    assert client.get("/requests", query_string={"page": "1"}).status_code == 200


def test_a_search_with_control_characters_finds_by_the_clean_text(client, world):
    login(client, world.a.coordinator.email)
    name = world.a.request.beneficiary_name
    body = client.get("/requests", query_string={"q": f"\x00{name}\u200b"}).get_data(as_text=True)
    assert world.a.request.reference in body


# --- record URLs --------------------------------------------------------------------------------

BAD_IDS = [
    "²",
    "١٢",
    "99999999999999999999",
    "2147483648",
    "9" * 5000,
    "0",
    "-1",
    "1.5",
    "%00",
    "1e3",
]


def record_paths(world) -> list[str]:  # type: ignore[no-untyped-def]
    code = world.a.commune.code
    return [
        "/requests/{}",
        "/volunteers/{}",
        "/drives/{}",
        "/drives/{}/edit",
        "/drives/{}/requests",
        "/drives/{}/volunteers",
        "/drives/{}/board",
        "/plans/{}",
        "/plans/{}/progress.json",
        "/plans/{}/map.json",
        "/plans/{}/compare",
        "/plans/{}/sheets",
        "/plans/{}/export.csv",
        "/visits/{}/outcome",
        f"/posters/{code}/{{}}",
        f"/posters/{code}/{{}}/qr.svg",
    ]


def test_a_record_url_with_a_bad_id_is_404(client, world):
    login(client, world.a.coordinator.email)
    for bad in BAD_IDS:
        for template in record_paths(world):
            path = template.format(bad)
            assert client.get(path).status_code == 404, path[:60]
        for template in (
            "/volunteers/{}/status",
            "/volunteers/{}/profile",
            "/drives/{}/plans",
            "/plans/{}/stop",
            "/plans/{}/publish",
            "/drives/{}/requests",
            "/drives/{}/volunteers",
        ):
            path = template.format(bad)
            assert client.post(path, data={"status": "active"}).status_code == 404, path[:60]


def test_api_record_urls_with_a_bad_id_are_404(client, world, session):
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for bad in BAD_IDS:
        for path in (f"/api/v1/plans/{bad}", f"/api/v1/plans/{bad}/problem"):
            assert client.get(path, headers=headers).status_code == 404, path[:60]
        assert (
            client.post(f"/api/v1/drives/{bad}/plans", json={}, headers=headers).status_code == 404
        )


def test_place_codes_in_urls_are_404(client, world):
    login(client, world.a.coordinator.email)
    for code in ["%00", "\u202e", "x" * 3000, "²", "<b>"]:
        for path in (f"/communes/{code}", f"/posters/{code}", f"/posters/{code}/qr.svg"):
            assert client.get(path).status_code == 404, path[:60]
        assert client.post(f"/communes/{code}/hamlets", data={"name": "Tổ 9"}).status_code == 404


# --- ids in the coordinators' forms -------------------------------------------------------------


def test_ids_ticked_in_planning_forms_never_fail(client, world, session):
    login(client, world.a.coordinator.email)
    for bad in NUMBERS + ["\x00"]:
        post_everywhere(client, world, bad)


def post_everywhere(client, world, bad: str) -> None:  # type: ignore[no-untyped-def]
    drive = world.a.drive
    posts = [
        (
            f"/drives/{drive.id}/requests",
            {"action": "include", "request_ids": [bad, str(world.a.request.id)]},
        ),
        (f"/drives/{drive.id}/requests", {"action": "triage", "request_ids": [bad]}),
        (
            f"/drives/{drive.id}/requests",
            {"action": f"priority-{bad}", "request_ids": [str(world.a.request.id)]},
        ),
        (f"/drives/{drive.id}/volunteers", {"action": "invite", "volunteer_ids": [bad]}),
        (
            f"/drives/{drive.id}/volunteers",
            {"action": "answer", "status": "accepted", "volunteer_id": bad},
        ),
        (
            f"/drives/{drive.id}/volunteers",
            {"action": "move", "volunteer_id": bad, "team_code": bad},
        ),
        (f"/drives/{drive.id}/plans", {"time_limit_s": bad}),
        (f"/plans/{world.a.plan.id}/publish", {"row_version": bad}),
        (
            f"/plans/{world.a.plan.id}/visits/{world.a.request.reference}/move",
            {"start": f"{bad}:{bad}", "day": f"{bad}-1-1", "row_version": bad},
        ),
        (
            f"/plans/{world.a.plan.id}/visits/{world.a.request.reference}/move",
            {"start": "08:00", "day": f"{bad}-01-01"},
        ),
        (
            f"/volunteers/{world.a.volunteer.id}/profile",
            {"max_visits_per_day": bad, "travel_mode": "walk", "skill_vneid": bad},
        ),
        (
            "/requests/new",
            {
                "source": "phone",
                "priority": bad,
                "beneficiary_name": "Hoa",
                "phone": "0912345678",
                "commune": world.a.commune.code,
                "services": ["vneid_activate"],
                "consent": "yes",
                "hamlet_id": bad,
                "people_count": bad,
            },
        ),
    ]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code < 500, f"POST {path} {data} gave {response.status_code}"
        # Redirects go back to the drive's own pages (query strings cannot steer them).
        if response.status_code in (302, 303):
            assert response.headers["Location"].startswith("/")


def test_a_query_string_cannot_break_the_redirect_after_an_update(client, world):
    login(client, world.a.coordinator.email)
    drive = world.a.drive
    response = client.post(
        f"/drives/{drive.id}/requests?drive_id=7&_external=1&_scheme=javascript&priority=3",
        data={"action": "triage", "request_ids": [str(world.a.request.id)]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/drives/{drive.id}/requests?priority=3"


# --- random forms -------------------------------------------------------------------------------

NASTY = st.sampled_from(NUMBERS + INVISIBLE + ODD_TEXT + ["", " ", "yes", "no"])
FORM_TEXT = st.one_of(
    NASTY, st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
)


def mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Return the valid form with some fields dropped, replaced by junk, or repeated."""
    value = st.one_of(FORM_TEXT, st.lists(FORM_TEXT, max_size=3))
    change = st.one_of(st.none(), value)
    return st.fixed_dictionaries({}, optional={k: change for k in keys}).map(
        lambda changes: {k: v for k, v in ({**base, **changes}).items() if v is not None}
    )


REQUEST_KEYS = [
    "beneficiary_name",
    "age_group",
    "situations",
    "people_count",
    "phone",
    "reach_note",
    "commune",
    "hamlet_id",
    "house",
    "landmark",
    "services",
    "notes",
    "consent",
    "contact_is_beneficiary",
    "contact_name",
    "lat",
    "lng",
    "block",
]
VOLUNTEER_KEYS = [
    "full_name",
    "phone",
    "kind",
    "school_or_unit",
    "date_of_birth",
    "guardian_name",
    "guardian_phone",
    "guardian_consent",
    "commune",
    "hamlet_id",
    "travel_mode",
    "skill_vneid",
    "languages",
    "availability",
    "away_first",
    "away_last",
    "max_visits_per_day",
    "notes",
    "consent",
]
RANDOM_FORMS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@RANDOM_FORMS
@given(data=st.data())
def test_random_request_forms_store_one_complete_record_or_none(client, world, session, data):
    form = data.draw(mutated(request_form(world), REQUEST_KEYS))
    before = counts(session, *REQUEST_ROWS)
    response = client.post("/request", data=form)
    if outcome_is_whole(response, before, counts(session, *REQUEST_ROWS), "HelpRequest"):
        assert response.status_code == 302
        assert_complete_request(
            session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first(), session
        )
    else:
        assert response.status_code == 422


@RANDOM_FORMS
@given(data=st.data())
def test_random_volunteer_forms_store_one_complete_record_or_none(client, world, session, data):
    phone = data.draw(st.integers(min_value=0, max_value=9_999_999))
    form = data.draw(mutated(volunteer_form(world, phone=f"098{phone:07d}"), VOLUNTEER_KEYS))
    before = counts(session, *VOLUNTEER_ROWS)
    registered = set(session.scalars(select(Volunteer.phone)))
    response = client.post("/volunteer", data=form)
    after = counts(session, *VOLUNTEER_ROWS)
    if response.status_code == 302 and after == before:
        # A number drawn twice: answered as for a new one, and nothing added (issue 15).
        assert parse_phone(form["phone"], mobile_only=True).e164 in registered
    elif outcome_is_whole(response, before, after, "Volunteer"):
        assert response.status_code == 302
        assert_complete_volunteer(
            session.scalars(select(Volunteer).order_by(Volunteer.id.desc())).first(), session
        )
    else:
        assert response.status_code == 422


# --- every signed-in route, with junk in every field any form has -------------------------------

#: Every field name a template posts or a filter reads, so each route gets the ones it knows.
TEMPLATE_FIELDS = sorted(
    set(
        re.findall(
            r'name="([a-z_0-9]+)"',
            "".join(
                path.read_text(encoding="utf-8")
                for path in (REPO / "volunteer_hub" / "templates").rglob("*.html")
            ),
        )
    )
    - {"csrf_token"}
)
JUNK = ["\x00", "x\x00y", "9" * 30, "²", "\u202e" + "x" * 5000]


@pytest.mark.parametrize("who", ["admin", "coordinator"])
def test_no_signed_in_route_fails_on_junk_fields(client, app, world, session, who):
    from tests.volunteer_hub.test_authorization import build, protected_rules, record_ids
    from volunteer_hub.models import ImportJob, MessageStatus
    from volunteer_hub.services.messaging.outbox import queue_message

    held = queue_message(
        session,
        key="held",
        kind="broadcast",
        to_phone=world.a.volunteer.phone,
        body="Doan TN: thu",
        drive_id=world.a.drive.id,
    )
    held.status = MessageStatus.HELD
    create_api_token(session, world.a.coordinator, name="token of a")  # for the revoke routes
    session.add(  # for the import's progress page
        ImportJob(kind="requests", user_id=world.a.coordinator.id, filename="a.csv", errors=[])
    )
    session.commit()
    login(client, (world.admin if who == "admin" else world.a.coordinator).email)
    # Also every URL parameter's name and url_for's own: a page that hands its query string
    # to url_for whole once broke on ?fmt=, ?drive_id= or ?_scheme=.
    names = set(TEMPLATE_FIELDS) | {"_scheme", "_external", "_anchor", "_method"}
    names |= {arg for rule in app.url_map.iter_rules() for arg in rule.arguments}
    failures = []
    for rule in protected_rules(app):
        if rule.endpoint.startswith("api."):
            continue
        path = build(rule, record_ids(world.a))
        for value in JUNK:
            junk = {name: value for name in names}
            if "GET" in rule.methods:
                response = client.get(path, query_string=junk)
                if response.status_code >= 500:
                    failures.append(f"GET {path} ?…={value[:10]!r}")
            if "POST" in rule.methods:
                response = client.post(path, data=junk)
                if response.status_code >= 500:
                    failures.append(f"POST {path} …={value[:10]!r}")
    assert failures == []
