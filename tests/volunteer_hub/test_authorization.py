"""A coordinator of commune A never reaches a record of commune B, on any route."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import login
from volunteer_hub.services.accounts import create_api_token

# Blueprints whose every route needs a signed-in account (or a token, for the API).
PROTECTED_BLUEPRINTS = ("coordinator", "records", "planning", "admin", "api")


def record_ids(world_part) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """URL parameters that name a record of one commune."""
    return {
        "request_id": world_part.request.id,
        "volunteer_id": world_part.volunteer.id,
        "drive_id": world_part.drive.id,
        "plan_id": world_part.plan.id,
        "team_id": world_part.team.id,
        "visit_id": world_part.visit.id,
        "hamlet_id": world_part.hamlet.id,
        "code": world_part.commune.code,
        "commune_id": world_part.commune.id,
        "reference": world_part.request.reference,
        "team_code": world_part.team.code,
    }


# Public by design: the API's description holds no data.
PUBLIC_ENDPOINTS = {"api.openapi"}
# URL parameters that do not name a record (formats, kinds): filled with a fixed value.
NON_RECORD = {"kind": "requests", "fmt": "csv"}


def names_a_record(rule) -> bool:  # type: ignore[no-untyped-def]
    return bool(set(rule.arguments) - set(NON_RECORD))


def protected_rules(app: Flask):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint in PROTECTED_BLUEPRINTS and rule.endpoint not in PUBLIC_ENDPOINTS:
            yield rule


def build(rule, values: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    values = {**NON_RECORD, **values}
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: add {missing} to record_ids() so the matrix covers it"
    built = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def methods(rule) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(m for m in rule.methods if m in {"GET", "POST", "PUT", "PATCH", "DELETE"})


def call(client, method: str, path: str, headers=None):  # type: ignore[no-untyped-def]
    return client.open(path, method=method, headers=headers or {}, data={})


def test_the_matrix_covers_every_protected_route(app, world):
    rules = list(protected_rules(app))
    assert len(rules) >= 10
    for rule in rules:
        build(rule, record_ids(world.b))


def test_coordinator_of_a_gets_403_or_404_for_every_record_of_b(client, app, world, session):
    login(client, world.a.coordinator.email)
    token = create_api_token(session, world.a.coordinator).token
    checked = 0
    for rule in protected_rules(app):
        if not names_a_record(rule):
            continue
        path = build(rule, record_ids(world.b))
        for method in methods(rule):
            headers = {"Authorization": f"Bearer {token}"} if rule.endpoint.startswith("api.") else {}
            response = call(client, method, path, headers)
            assert response.status_code in (403, 404), f"{method} {path} gave {response.status_code}"
            checked += 1
    assert checked >= 5


def test_list_pages_of_a_never_show_records_of_b(client, app, world):
    login(client, world.a.coordinator.email)
    for rule in protected_rules(app):
        if names_a_record(rule) or "GET" not in rule.methods or rule.endpoint.startswith(("api.", "admin.")):
            continue
        body = client.get(build(rule, {})).get_data(as_text=True)
        for secret in (world.b.request.reference, world.b.request.beneficiary_name,
                       world.b.volunteer.full_name, world.b.drive.name):
            assert secret not in body, f"{rule.rule} shows {secret!r} of commune B"


def test_coordinator_of_b_reaches_the_same_pages(client, app, world):
    # The 404s above are about scope, not broken pages: B's own coordinator gets them.
    login(client, world.b.coordinator.email)
    for rule in protected_rules(app):
        if not names_a_record(rule) or "GET" not in rule.methods or rule.endpoint.startswith(("api.", "admin.")):
            continue
        path = build(rule, record_ids(world.b))
        response = client.get(path)
        assert response.status_code in (200, 302), f"GET {path} gave {response.status_code}"


def test_admins_see_every_commune(client, app, world):
    login(client, world.admin.email)
    for rule in protected_rules(app):
        if "GET" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        path = build(rule, record_ids(world.b))
        assert client.get(path).status_code in (200, 302), path


@pytest.mark.parametrize("who", ["anonymous", "coordinator"])
def test_admin_pages_are_for_admins_only(client, app, world, who):
    if who == "coordinator":
        login(client, world.a.coordinator.email)
    for rule in protected_rules(app):
        if not rule.endpoint.startswith("admin.") or "GET" not in rule.methods:
            continue
        response = client.get(build(rule, record_ids(world.a)))
        assert response.status_code in ((302,) if who == "anonymous" else (403,)), rule.rule


def test_anonymous_visitors_are_sent_to_sign_in_or_get_401(client, app, world):
    for rule in protected_rules(app):
        path = build(rule, record_ids(world.a))
        for method in methods(rule):
            response = call(client, method, path)
            expected = (401,) if rule.endpoint.startswith("api.") else (302,)
            assert response.status_code in expected, f"{method} {path} gave {response.status_code}"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]
