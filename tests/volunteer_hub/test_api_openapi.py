"""The OpenAPI document is generated from the routes and the response models, and the views
answer what the models say (the models are the document's schemas, so a drift shows here)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from tests import factories
from tests.volunteer_hub.test_api_requests import partner_token, submit
from volunteer_hub.extensions import db
from volunteer_hub.services.drives import planning
from volunteer_hub.services.reference.accounts import create_api_token
from volunteer_hub.web import api_models, openapi


@pytest.fixture
def dw(session):  # type: ignore[no-untyped-def]
    return factories.drive_world(session)


@pytest.fixture
def token(session, dw):  # type: ignore[no-untyped-def]
    value = create_api_token(session, dw.coordinator).token
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def operations(spec):  # type: ignore[no-untyped-def]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_comes_from_the_decorated_views_and_validates(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"] == "3.1.0" and spec["servers"] == [{"url": "/api/v1"}]
    ids = {operation["operationId"] for _path, _method, operation in operations(spec)}
    assert ids == set(openapi.EXTRAS)  # every decorated view, and only those
    assert not any(path.startswith("/api/") for path in spec["paths"])  # relative to the server
    # Its schemas are the pydantic models' own JSON Schemas.
    schemas = spec["components"]["schemas"]
    drive = api_models.DriveDetail.model_json_schema(ref_template="#/components/schemas/{model}")
    drive.pop("$defs", None)
    assert schemas["DriveDetail"] == drive


def test_every_error_is_problem_details_in_the_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, method, operation in operations(spec):
        for code, answer in operation["responses"].items():
            if int(code) >= 400:
                assert list(answer["content"]) == ["application/problem+json"], (path, code)
                ref = answer["content"]["application/problem+json"]["schema"]["$ref"]
                assert ref in ("#/components/schemas/Error", "#/components/schemas/FieldErrors")
            elif code == "304":
                assert "content" not in answer and "ETag" in answer["headers"]
        assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"type", "title", "status", "instance"}
    assert spec["components"]["schemas"]["FieldErrors"]["required"][-1] == "errors"


def test_the_planner_json_has_real_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    problem = spec["paths"]["/plans/{plan_id}/problem"]["get"]["responses"]["200"]
    assert problem["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlannerProblem"
    }
    visit = schemas["PlannerVisit"]["properties"]
    assert visit["priority"] == {"maximum": 5, "minimum": 1, "title": "Priority", "type": "integer"}
    assert schemas["PlannerProblem"]["properties"]["teams"]["items"] == {
        "$ref": "#/components/schemas/PlannerTeam"
    }
    route = schemas["PlannerRoute"]["properties"]["stops"]["items"]
    assert route == {"$ref": "#/components/schemas/PlannerStop"}


def test_every_answer_matches_its_model(client, session, dw, token, world):
    """A real plan, a real request and a real report, each read against its response model."""
    started = client.post(
        f"/api/v1/drives/{dw.drive.id}/plans", json={"time_limit_s": 4}, headers=token
    )
    api_models.PlanStarted.model_validate(started.get_json())
    plan_id = started.get_json()["id"]
    api_models.PlanDetail.model_validate(client.get(f"/api/v1/plans/{plan_id}", headers=token).json)
    assert planning.run_plan(lambda: Session(db.engine), plan_id, workers=1)
    done = api_models.PlanDetail.model_validate(
        client.get(f"/api/v1/plans/{plan_id}", headers=token).get_json()
    )
    assert done.plan is not None and done.plan.routes
    problem = client.get(f"/api/v1/plans/{plan_id}/problem", headers=token).get_json()
    assert len(api_models.PlannerProblem.model_validate(problem).visits) == 8
    api_models.Me.model_validate(client.get("/api/v1/me", headers=token).get_json())
    api_models.DrivePage.model_validate(client.get("/api/v1/drives", headers=token).get_json())
    api_models.DriveDetail.model_validate(
        client.get(f"/api/v1/drives/{dw.drive.id}", headers=token).get_json()
    )
    api_models.Summary.model_validate(
        client.get("/api/v1/reports/summary", headers=token).get_json()
    )
    _user, partner = partner_token(session)
    created = submit(client, partner, world.a.commune.code)
    api_models.RequestCreated.model_validate(created.get_json())
    api_models.RequestStatus.model_validate(
        client.get(created.headers["Location"], headers=partner).get_json()
    )
    bad = client.get("/api/v1/drives?limit=0", headers=token)
    api_models.FieldErrors.model_validate(bad.get_json())
    missing = client.get("/api/v1/plans/999999", headers=token)
    api_models.Error.model_validate(missing.get_json())


def test_the_document_is_built_once_per_app(app, client):
    first = client.get("/api/v1/openapi.json").get_json()
    assert app.extensions["openapi"] is openapi.build_spec(app)
    assert client.get("/api/v1/openapi.json").get_json() == first
