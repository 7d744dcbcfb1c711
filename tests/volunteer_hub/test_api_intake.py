"""The intake API: partner apps submit requests with the web form's validation."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from tests.factories import problem_fields
from volunteer_hub.models import HelpRequest, RequestSource, Role
from volunteer_hub.services.reference.accounts import create_api_token, create_user


@pytest.fixture
def partner_token(session, world):  # type: ignore[no-untyped-def]
    partner = create_user(
        session, email="hue-s@partner.vn", name="Hue-S", role=Role.PARTNER, password=None
    )
    token = create_api_token(session, partner).token
    session.commit()
    return token


def payload(world, **changes):  # type: ignore[no-untyped-def]
    body = {
        "beneficiary_name": "Nguyễn Thị Lan",
        "age_group": "75_plus",
        "situations": ["elderly_alone"],
        "phone": "0912 345 678",
        "commune": world.a.commune.code,
        "house": "3 Lê Lợi",
        "services": ["vneid_activate"],
        "consent": True,
    }
    body.update(changes)
    return body


def post(client, token, body, **headers):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/requests",
        data=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(HelpRequest))


def test_a_partner_app_submits_a_request_and_gets_its_reference(
    client, world, session, partner_token
):
    response = post(client, partner_token, payload(world))
    assert response.status_code == 201
    body = response.get_json()
    record = session.scalars(
        select(HelpRequest).where(HelpRequest.reference == body["reference"])
    ).one()
    assert record.source is RequestSource.API and record.status.value == "new"
    assert body == {
        "reference": record.reference,
        "status": "new",
        "priority": 5,
        "possible_duplicate": False,
    }
    again = post(client, partner_token, payload(world))
    assert again.get_json()["possible_duplicate"] is True


def test_no_token_is_401(client, world, session):
    before = count(session)
    response = client.post("/api/v1/requests", json=payload(world))
    assert response.status_code == 401
    assert count(session) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"commune": "99999"}, "commune"),
        ({"services": []}, "services"),
        ({"services": "vneid_activate"}, "services"),
        ({"consent": False}, "consent"),
        ({"beneficiary_name": 42}, "beneficiary_name"),
        ({"beneficiary_name": "x" * 500}, "beneficiary_name"),
        ({"people_count": "many"}, "people_count"),
        (
            {"windows": [{"start": "2026-11-28T07:30:00", "end": "2026-11-28T11:00:00+07:00"}]},
            "windows.0.start",
        ),
        (
            {
                "windows": [
                    {"start": "2026-11-28T11:00:00+07:00", "end": "2026-11-28T07:30:00+07:00"}
                ]
            },
            "windows.0",
        ),
        ({"surprise": True}, "surprise"),
        ({"lat": 48.85, "lng": 2.35}, "lat"),
        ({"beneficiary_name": "\ud800"}, "beneficiary_name"),
    ],
)
def test_bad_fields_give_422_with_field_errors_and_store_nothing(
    client, world, session, partner_token, change, field
):
    before = count(session)
    response = post(client, partner_token, payload(world, **change))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in problem_fields(response)
    assert count(session) == before


def test_field_errors_follow_accept_language(client, world, partner_token):
    vi = post(client, partner_token, payload(world, phone="12")).get_json()
    en = post(
        client, partner_token, payload(world, phone="12"), **{"Accept-Language": "en"}
    ).get_json()
    assert vi["errors"] == [
        {"field": "phone", "message": "Số điện thoại này không đúng định dạng số Việt Nam."}
    ]
    assert en["errors"] == [
        {"field": "phone", "message": "This is not a valid Vietnamese phone number."}
    ]
    assert en["title"] == "Some fields need attention." and vi["title"] != en["title"]


def test_malformed_bodies_are_4xx(client, world, partner_token):
    assert post(client, partner_token, "{not json").status_code == 400
    assert post(client, partner_token, "[1, 2]").status_code == 422
    not_json = client.post(
        "/api/v1/requests",
        data="a=b",
        headers={"Authorization": f"Bearer {partner_token}"},
        content_type="application/x-www-form-urlencoded",
    )
    assert not_json.status_code == 415


def test_a_coordinator_token_submits_only_for_their_communes(client, world, session):
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    assert post(client, token, payload(world)).status_code == 201
    other = post(client, token, payload(world, commune=world.b.commune.code))
    assert other.status_code == 422 and "commune" in problem_fields(other)


def test_a_partner_token_cannot_read_coordinator_data(client, world, partner_token):
    headers = {"Authorization": f"Bearer {partner_token}"}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["role"] == "partner"
    for path in (
        "/api/v1/drives",
        f"/api/v1/plans/{world.a.plan.id}",
        f"/api/v1/plans/{world.a.plan.id}/problem",
        "/api/v1/reports/summary",
        f"/api/v1/reports/summary?commune={world.a.commune.code}",
    ):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 403, path
        assert world.a.drive.name not in refused.get_data(as_text=True)
    started = client.post(f"/api/v1/drives/{world.a.drive.id}/plans", json={}, headers=headers)
    assert started.status_code == 403


def test_the_openapi_document_is_valid_and_its_example_is_accepted(
    client, world, session, partner_token
):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert ("/requests", "post") in operations and ("/me", "get") in operations
    for path, item in spec["paths"].items():
        for _method, operation in item.items():
            body = operation.get("requestBody")
            if not body:
                continue
            example = body["content"]["application/json"]["example"]
            if path == "/requests":
                example = dict(example, commune=world.a.commune.code)
                response = post(client, partner_token, example)
                assert response.status_code == 201, response.get_data(as_text=True)


def test_every_api_error_is_problem_details_and_web_pages_keep_theirs(client, world, partner_token):
    auth = {"Authorization": f"Bearer {partner_token}"}
    answers = {
        401: client.get("/api/v1/me"),
        403: client.get("/api/v1/drives", headers=auth),
        404: client.get("/api/v1/no-such-thing", headers=auth),
        405: client.delete("/api/v1/me", headers=auth),
        415: client.post("/api/v1/requests", data="a=b", headers=auth),
        400: post(client, partner_token, "{not json"),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert response.mimetype == "application/problem+json", status
        body = response.get_json()
        assert body["type"] == "about:blank" and body["status"] == status
        assert body["title"] and body["instance"] == response.request.path
    assert "Allow" in answers[405].headers
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


@pytest.mark.app_config(PROPAGATE_EXCEPTIONS=False)
def test_a_crash_in_the_api_is_a_500_problem(app, client, world, partner_token, monkeypatch):
    from volunteer_hub.web import api

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "parse_request", broken)
    response = post(client, partner_token, payload(world))
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "boom" not in response.get_data(as_text=True)


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_API="2 per minute")
def test_too_many_calls_is_a_429_problem_with_retry_after(client, world, partner_token):
    auth = {"Authorization": f"Bearer {partner_token}"}
    statuses = [client.get("/api/v1/me", headers=auth) for _ in range(3)]
    refused = statuses[-1]
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429 and refused.headers["Retry-After"]
