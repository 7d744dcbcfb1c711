"""The intake API: partner apps submit requests with the web form's validation."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

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
    assert field in response.get_json()["errors"]
    assert count(session) == before


def test_field_errors_follow_accept_language(client, world, partner_token):
    vi = post(client, partner_token, payload(world, phone="12")).get_json()
    en = post(
        client, partner_token, payload(world, phone="12"), **{"Accept-Language": "en"}
    ).get_json()
    assert vi["errors"]["phone"] == ["Số điện thoại này không đúng định dạng số Việt Nam."]
    assert en["errors"]["phone"] == ["This is not a valid Vietnamese phone number."]


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
    assert other.status_code == 422 and "commune" in other.get_json()["errors"]


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
