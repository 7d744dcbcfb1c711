"""The planning API: outside tools list drives, start planning and recheck plans."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from sqlalchemy.orm import Session

from tests import factories
from volunteer_hub.extensions import db
from volunteer_hub.services.drives import planning
from volunteer_hub.services.reference.accounts import create_api_token


@pytest.fixture
def dw(session):  # type: ignore[no-untyped-def]
    return factories.drive_world(session)


@pytest.fixture
def token(session, dw):  # type: ignore[no-untyped-def]
    value = create_api_token(session, dw.coordinator).token
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_listing_drives(client, dw, token):
    body = client.get("/api/v1/drives", headers=token).get_json()
    assert [d["id"] for d in body["drives"]] == [dw.drive.id]
    assert body["drives"][0]["communes"] == [dw.commune.code]


def test_planning_through_the_api_and_rechecking_with_the_cli(client, session, dw, token, tmp_path):
    started = client.post(
        f"/api/v1/drives/{dw.drive.id}/plans", json={"time_limit_s": 4}, headers=token
    )
    assert started.status_code == 202
    plan_id = started.get_json()["id"]
    assert started.headers["Location"].endswith(f"/api/v1/plans/{plan_id}")
    queued = client.get(f"/api/v1/plans/{plan_id}", headers=token).get_json()
    assert queued["status"] == "queued" and "plan" not in queued

    assert planning.run_plan(lambda: Session(db.engine), plan_id, workers=1)
    done = client.get(f"/api/v1/plans/{plan_id}", headers=token).get_json()
    assert done["status"] == "done" and done["plan"]["version"] == 1
    problem = client.get(f"/api/v1/plans/{plan_id}/problem", headers=token).get_json()
    (tmp_path / "problem.json").write_text(json.dumps(problem))
    (tmp_path / "plan.json").write_text(json.dumps(done["plan"]))
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduling",
            "check",
            str(tmp_path / "problem.json"),
            str(tmp_path / "plan.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_bad_plan_requests_are_4xx(client, session, dw, token, world):
    assert (
        client.post(
            f"/api/v1/drives/{dw.drive.id}/plans", json={"time_limit_s": "soon"}, headers=token
        ).status_code
        == 422
    )
    assert (
        client.post(f"/api/v1/drives/{dw.drive.id}/plans", json=[1], headers=token).status_code
        == 422
    )
    assert client.post("/api/v1/drives/999999/plans", json={}, headers=token).status_code == 404
    # Another commune's drive is invisible.
    assert (
        client.post(f"/api/v1/drives/{world.b.drive.id}/plans", json={}, headers=token).status_code
        == 404
    )
    assert client.get(f"/api/v1/plans/{world.b.plan.id}", headers=token).status_code == 404
    assert client.get("/api/v1/drives").status_code == 401


def test_partner_tokens_cannot_plan(client, session, dw):
    from volunteer_hub.models import Role
    from volunteer_hub.services.reference.accounts import create_user

    partner = create_user(
        session, email="app@partner.vn", name="App", role=Role.PARTNER, password=None
    )
    value = create_api_token(session, partner).token
    session.commit()
    assert (
        client.get("/api/v1/drives", headers={"Authorization": f"Bearer {value}"}).status_code
        == 403
    )


def test_every_api_route_is_in_the_openapi_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {path for path in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            path = rule.rule.removeprefix("/api/v1")
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)  # <id:plan_id> -> {plan_id}
            assert path in documented, path
