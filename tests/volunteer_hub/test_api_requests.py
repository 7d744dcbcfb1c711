"""GET /api/v1/requests/{reference}: a partner reads back what became of a request it sent."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tests import factories
from volunteer_hub.extensions import db
from volunteer_hub.models import Outcome, Plan, Role
from volunteer_hub.services.drives import planning, publishing
from volunteer_hub.services.reference.accounts import create_api_token, create_user
from volunteer_hub.services.results.outcomes import parse_outcome, record_outcome

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def partner_token(session, email="hue-s@partner.vn"):  # type: ignore[no-untyped-def]
    user = create_user(session, email=email, name=email, role=Role.PARTNER, password=None)
    token = create_api_token(session, user).token
    session.commit()
    return user, {"Authorization": f"Bearer {token}"}


def submit(client, headers, commune):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/requests",
        json={
            "beneficiary_name": "Nguyễn Thị Lan",
            "age_group": "75_plus",
            "phone": "0912 345 678",
            "commune": commune,
            "house": "3 Lê Lợi",
            "services": ["vneid_activate"],
            "consent": True,
        },
        headers=headers,
    )


def test_the_201_says_where_the_request_is_and_the_partner_reads_it_back(client, world, session):
    _user, headers = partner_token(session)
    created = submit(client, headers, world.a.commune.code)
    assert created.status_code == 201
    reference = created.get_json()["reference"]
    assert created.headers["Location"].endswith(f"/api/v1/requests/{reference}")
    read = client.get(created.headers["Location"], headers=headers)
    assert read.status_code == 200
    body = read.get_json()
    assert body["reference"] == reference and body["status"] == "new"
    assert body["planned"] is None and body["outcome"] is None
    assert body["services"] == ["vneid_activate"]
    assert "phone" not in body and "beneficiary_name" not in body
    # Spaces, dashes and case are forgiven, as on the phone.
    spaced = client.get(
        f"/api/v1/requests/{reference[:3].lower()}-{reference[3:]}", headers=headers
    )
    assert spaced.status_code == 200


def test_other_partners_and_other_communes_get_404(client, world, session):
    _user, headers = partner_token(session)
    reference = submit(client, headers, world.a.commune.code).get_json()["reference"]
    _other, other_headers = partner_token(session, "portal@partner.vn")
    for path in (
        f"/api/v1/requests/{reference}",
        "/api/v1/requests/ZZZZZZ",
        "/api/v1/requests/%00",
    ):
        refused = client.get(path, headers=other_headers)
        assert refused.status_code == 404, path
        assert refused.mimetype == "application/problem+json"
    staff_b = create_api_token(session, world.b.coordinator).token
    staff_a = create_api_token(session, world.a.coordinator).token
    session.commit()
    assert (
        client.get(
            f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {staff_b}"}
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {staff_a}"}
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/requests/{reference}").status_code == 401


def test_the_planned_day_and_block_and_the_outcome_once_published(client, session):
    dw = factories.drive_world(session)
    partner, headers = partner_token(session)
    plan = planning.start_plan(
        session, dw.drive, user=None, tz=TZ, time_limit_s=4, solution_limit=150
    )
    session.commit()
    planning.run_plan(lambda: Session(db.engine), plan.id, workers=1)
    session.expire_all()
    plan = session.get(Plan, plan.id)
    visit = next(v for v in plan.visits if v.team)
    visit.request.submitted_by_id = partner.id
    session.commit()
    reference = visit.request.reference
    # Planned but not published: the household has not been told, nor is the partner.
    before = client.get(f"/api/v1/requests/{reference}", headers=headers).get_json()
    assert before["planned"] is None

    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    body = client.get(f"/api/v1/requests/{reference}", headers=headers).get_json()
    block = dw.drive.blocks[0]
    assert body["planned"]["day"] == visit.starts_at.astimezone(TZ).date().isoformat()
    assert body["planned"]["block"] == {
        "starts_at": block.starts_at.astimezone(TZ).isoformat(),
        "ends_at": block.ends_at.astimezone(TZ).isoformat(),
    }
    assert body["status"] == visit.request.status.value
    assert "team" not in str(body) and body["outcome"] is None

    record_outcome(
        session,
        visit,
        parse_outcome(
            {
                "services": {
                    s.code: {"outcome": "done", "reason": None} for s in visit.request.services
                },
                "people_helped": 2,
                "minutes_spent": 25,
            }
        ),
        tz=TZ,
        user=dw.coordinator,
    )
    session.commit()
    done = client.get(f"/api/v1/requests/{reference}", headers=headers).get_json()
    assert done["status"] == "done"
    assert done["outcome"]["people_helped"] == 2
    assert {s["outcome"] for s in done["outcome"]["services"]} == {Outcome.DONE.value}
