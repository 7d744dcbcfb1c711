"""Who reaches what, on every route: anonymous visitors, personal-link holders, coordinators
of commune A and of commune B, and admins. A coordinator of A never reaches a record of B."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import login
from tests.factories import problem_fields
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    ApiToken,
    DriveRequest,
    DriveVolunteer,
    HelpRequest,
    ImportJob,
    Message,
    MessageStatus,
)
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.services.messaging.templates import KINDS
from volunteer_hub.services.reference.accounts import create_api_token

# Blueprints anyone may reach: the home page and health check, the public forms, sign-in,
# personal SMS links (the code in the link is the key), Twilio's webhooks (signed) and the
# operators' /readyz and /metrics (its own token or allow-list: test_operations.py). Every
# other blueprint, present or future, is protected and walked by the matrix below.
# api_docs: the API's reference page and Swagger UI's files, public as the document it reads.
PUBLIC_BLUEPRINTS = (
    "public",
    "intake",
    "auth",
    "links",
    "webhooks",
    "operations",
    "places",
    "api_docs",
)


@pytest.fixture(autouse=True)
def outbox(world, session):  # type: ignore[no-untyped-def]
    """A held SMS of each commune's drive, for the routes that name a message; a token each."""
    for part in (world.a, world.b):
        create_api_token(session, part.coordinator, name=f"token of {part.commune.code}")
        message = queue_message(
            session,
            key=f"held-{part.commune.code}",
            kind="broadcast",
            to_phone=part.volunteer.phone,
            body="Doan TN: thu",
            drive_id=part.drive.id,
            volunteer_id=part.volunteer.id,
        )
        message.status = MessageStatus.HELD
        # A large import each coordinator queued: only its uploader (and admins) see it.
        session.add(
            ImportJob(
                kind="requests",
                user_id=part.coordinator.id,
                commune_ids=[part.commune.id],
                filename=f"yeu-cau-{part.commune.code}.csv",
                upload=b"beneficiary_name\n",
                errors=[],
            )
        )
    session.commit()


def record_ids(world_part) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """URL parameters that name a record of one commune."""
    message_id = db.session.scalar(
        select(Message.id).where(Message.drive_id == world_part.drive.id)
    )
    token_id = db.session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == world_part.coordinator.id)
    )
    job_id = db.session.scalar(
        select(ImportJob.id).where(ImportJob.user_id == world_part.coordinator.id)
    )
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
        "message_id": message_id,
        "user_id": world_part.coordinator.id,
        "token_id": token_id,
        "job_id": job_id,
    }


# Public by design: the API's description holds no data.
PUBLIC_ENDPOINTS = {"api.openapi"}
# URL parameters that do not name a record (formats, kinds): filled with a fixed value.
NON_RECORD = {"kind": "requests", "fmt": "csv", "locale": "vi"}
# The same names with other values on some routes (an SMS text's kind is not an import's).
NON_RECORD_BY_ENDPOINT = {"sms_admin.template_edit": {"kind": next(iter(KINDS))}}


def names_a_record(rule) -> bool:  # type: ignore[no-untyped-def]
    return bool(set(rule.arguments) - set(NON_RECORD))


def protected_rules(app: Flask):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        blueprint, dot, _name = rule.endpoint.partition(".")
        if not dot:  # the app's own static files
            continue
        if blueprint not in PUBLIC_BLUEPRINTS and rule.endpoint not in PUBLIC_ENDPOINTS:
            yield rule


def is_admin_only(rule) -> bool:  # type: ignore[no-untyped-def]
    return rule.endpoint.startswith(("admin.", "sms_admin."))


def test_a_coordinator_cannot_revoke_another_accounts_token(client, world, session):
    login(client, world.a.coordinator.email)
    token_id = record_ids(world.b)["token_id"]
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    assert session.get(ApiToken, token_id).revoked_at is None


def build(rule, values: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    values = {**NON_RECORD, **NON_RECORD_BY_ENDPOINT.get(rule.endpoint, {}), **values}
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
    covered = {rule.endpoint.partition(".")[0] for rule in rules}
    assert covered == set(app.blueprints) - set(PUBLIC_BLUEPRINTS)
    assert {
        "coordinator",
        "records",
        "drives",
        "plans",
        "day",
        "reports",
        "admin",
        "sms_admin",
        "api",
    } <= covered


def test_coordinator_of_a_gets_403_or_404_for_every_record_of_b(client, app, world, session):
    login(client, world.a.coordinator.email)
    token = create_api_token(session, world.a.coordinator).token
    checked = 0
    for rule in protected_rules(app):
        if not names_a_record(rule):
            continue
        path = build(rule, record_ids(world.b))
        for method in methods(rule):
            headers = (
                {"Authorization": f"Bearer {token}"} if rule.endpoint.startswith("api.") else {}
            )
            response = call(client, method, path, headers)
            assert response.status_code in (403, 404), (
                f"{method} {path} gave {response.status_code}"
            )
            checked += 1
    assert checked >= 5


def test_list_pages_of_a_never_show_records_of_b(client, app, world):
    login(client, world.a.coordinator.email)
    for rule in protected_rules(app):
        if (
            names_a_record(rule)
            or "GET" not in rule.methods
            or rule.endpoint.startswith("api.")
            or is_admin_only(rule)
        ):
            continue
        body = client.get(build(rule, {})).get_data(as_text=True)
        for secret in (
            world.b.request.reference,
            world.b.request.beneficiary_name,
            world.b.volunteer.full_name,
            world.b.drive.name,
        ):
            assert secret not in body, f"{rule.rule} shows {secret!r} of commune B"


def test_coordinator_of_b_reaches_the_same_pages(client, app, world):
    # The 404s above are about scope, not broken pages: B's own coordinator gets them.
    login(client, world.b.coordinator.email)
    for rule in protected_rules(app):
        if (
            not names_a_record(rule)
            or "GET" not in rule.methods
            or rule.endpoint.startswith("api.")
            or is_admin_only(rule)
        ):
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
        if not is_admin_only(rule) or "GET" not in rule.methods:
            continue
        response = client.get(build(rule, record_ids(world.a)))
        assert response.status_code in ((302,) if who == "anonymous" else (403,)), rule.rule


def test_anonymous_visitors_are_sent_to_sign_in_or_get_401(client, app, world):
    for rule in protected_rules(app):
        path = build(rule, record_ids(world.a))
        for method in methods(rule):
            response = call(client, method, path)
            # Reports also answer scripts with a bearer token, so without one they say 401.
            expected = (401,) if rule.endpoint.startswith(("api.", "reports.")) else (302,)
            assert response.status_code in expected, f"{method} {path} gave {response.status_code}"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]


# --- commune B's ids in query strings and form bodies ------------------------------------------


def secrets_of(part) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return (
        part.request.reference,
        part.request.beneficiary_name,
        part.volunteer.full_name,
        part.drive.name,
    )


def query_args_of(part) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Query strings naming the records of ``part``, as the filters and reports read them."""
    return [
        {"commune": part.commune.id},
        {"commune": part.commune.code},
        {"drive": part.drive.id},
        {"hamlet": part.hamlet.id},
        {"with": part.plan.id},
        {"volunteer": part.volunteer.id},
        {"request": part.request.id},
        {"plan": part.plan.id},
        {"hamlet_id": part.hamlet.id},
        {"q": part.request.reference},
        {"q": part.volunteer.full_name},
    ]


def test_ids_of_b_in_query_strings_never_show_b(client, app, world):
    login(client, world.a.coordinator.email)
    checked = 0
    for rule in protected_rules(app):
        if "GET" not in rule.methods or rule.endpoint.startswith("api.") or is_admin_only(rule):
            continue
        path = build(rule, record_ids(world.a))
        for args in query_args_of(world.b):
            response = client.get(path, query_string=args)
            assert response.status_code in (200, 302, 403, 404, 422), (
                f"{path}?{args} gave {response.status_code}"
            )
            body = response.get_data(as_text=True)
            # A search box shows back what was searched: only the other secrets must not appear.
            for secret in set(secrets_of(world.b)) - {str(v) for v in args.values()}:
                assert secret not in body, f"{path}?{args} shows {secret!r} of commune B"
            checked += 1
    assert checked >= 100


def test_b_ids_in_report_queries_are_404_or_refused(client, world, session):
    login(client, world.a.coordinator.email)
    for path in (
        "/reports",
        "/reports/export.csv",
        f"/volunteers/{world.a.volunteer.id}/certificate",
    ):
        assert client.get(path, query_string={"drive": world.b.drive.id}).status_code == 404, path
    assert client.get("/reports", query_string={"commune": world.b.commune.code}).status_code in (
        404,
        422,
    )
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    summary = client.get(
        "/api/v1/reports/summary",
        query_string={"commune": world.b.commune.code},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert summary.status_code == 422 and "commune" in problem_fields(summary)


def state_of_b(session, world):  # type: ignore[no-untyped-def]
    """What a coordinator of A must never change in commune B."""
    session.expire_all()
    request = session.get(HelpRequest, world.b.request.id)
    message = session.scalar(select(Message).where(Message.drive_id == world.b.drive.id))
    return {
        "request": (request.status, request.priority, request.status_changed_at),
        "drives of the request": sorted(
            session.scalars(
                select(DriveRequest.drive_id).where(DriveRequest.request_id == request.id)
            )
        ),
        "drives of the volunteer": sorted(
            session.scalars(
                select(DriveVolunteer.drive_id).where(
                    DriveVolunteer.volunteer_id == world.b.volunteer.id
                )
            )
        ),
        "volunteer": (world.b.volunteer.status, world.b.volunteer.max_visits_per_day),
        "message": message.status,
        "requests in B": len(
            list(
                session.scalars(
                    select(HelpRequest.id).where(HelpRequest.commune_id == world.b.commune.id)
                )
            )
        ),
    }


def test_ids_of_b_in_form_bodies_change_nothing_of_b(client, world, session):
    login(client, world.a.coordinator.email)
    a, b = world.a, world.b
    before = state_of_b(session, world)
    posts = [
        (f"/drives/{a.drive.id}/requests", {"action": action, "request_ids": [str(b.request.id)]})
        for action in ("include", "exclude", "triage", "cancel", "priority-5")
    ] + [
        (
            f"/drives/{a.drive.id}/volunteers",
            {"action": "invite", "volunteer_ids": [str(b.volunteer.id)]},
        ),
        (
            f"/drives/{a.drive.id}/volunteers",
            {"action": "answer", "status": "declined", "volunteer_id": str(b.volunteer.id)},
        ),
        (
            f"/drives/{a.drive.id}/volunteers",
            {"action": "move", "volunteer_id": str(b.volunteer.id), "team_code": b.team.code},
        ),
        (
            f"/drives/{a.drive.id}/messages/{record_ids(b)['message_id']}/decide",
            {"decision": "cancel"},
        ),
        (f"/plans/{a.plan.id}/visits/{b.request.reference}/move", {"team_code": a.team.code}),
        (f"/plans/{a.plan.id}/visits/{b.request.reference}/pin", {"pinned": "yes"}),
        (
            "/requests/new",
            {
                "source": "phone",
                "beneficiary_name": "Hoa",
                "phone": "0912345678",
                "commune": b.commune.code,
                "services": ["vneid_activate"],
                "consent": "yes",
            },
        ),
        (
            "/requests/new",
            {
                "source": "phone",
                "beneficiary_name": "Hoa",
                "phone": "0912345678",
                "commune": a.commune.code,
                "hamlet_id": str(b.hamlet.id),
                "services": ["vneid_activate"],
                "consent": "yes",
            },
        ),
        (
            "/drives/new",
            {
                "name": "Đợt của B",
                "communes": [b.commune.code],
                "block_day": ["2031-05-03"],
                "block_start": ["07:30"],
                "block_end": ["11:00"],
            },
        ),
        (
            f"/drives/{a.drive.id}/edit",
            {
                "name": "Đợt A và B",
                "communes": [a.commune.code, b.commune.code],
                "block_day": ["2031-05-03"],
                "block_start": ["07:30"],
                "block_end": ["11:00"],
            },
        ),
    ]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code in (302, 303, 404, 409, 422), (
            f"POST {path} {data} gave {response.status_code}"
        )
        assert state_of_b(session, world) == before, f"POST {path} {data} changed commune B"
        if response.status_code in (302, 303):
            followed = client.get(response.headers["Location"])
            for secret in secrets_of(b):
                assert secret not in followed.get_data(as_text=True), (
                    f"POST {path} led to {secret!r} of B"
                )
    assert "Đợt của B" not in client.get("/drives").get_data(as_text=True)


def test_a_token_of_a_cannot_plan_or_read_b(client, world, session):
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.post(
            f"/api/v1/drives/{world.b.drive.id}/plans", json={}, headers=headers
        ).status_code
        == 404
    )
    drives = client.get("/api/v1/drives", headers=headers).get_json()["drives"]
    assert world.b.drive.id not in {d["id"] for d in drives}


# --- a personal-link holder --------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["volunteer_visit", "household_visit"])
def test_a_personal_link_opens_its_visit_and_nothing_else(client, app, world, session, purpose):
    from volunteer_hub.services.messaging import links

    visit = world.a.visit
    issued = links.issue_link(
        session,
        purpose=purpose,
        visit=visit,
        request_id=visit.request_id,
        volunteer_id=world.a.volunteer.id if purpose == links.VOLUNTEER_VISIT else None,
    )
    session.commit()
    page = client.get(f"/s/{issued.code}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for secret in secrets_of(world.b):
        assert secret not in body
    # Holding a link (and the cookie its page set) opens no signed-in page, of A or of B.
    for part in (world.a, world.b):
        for rule in protected_rules(app):
            path = build(rule, record_ids(part))
            for method in methods(rule):
                response = call(client, method, path)
                expected = (401,) if rule.endpoint.startswith(("api.", "reports.")) else (302,)
                assert response.status_code in expected, (
                    f"{method} {path} gave {response.status_code}"
                )
    # Another visit's link cannot be reached by changing the code a little.
    neighbour = issued.code[:-1] + ("y" if issued.code.endswith("x") else "x")
    assert client.get(f"/s/{neighbour}").status_code == 404
