"""The retention purge scrubs every copy: plans' JSON, SMS, audit details, volunteers too."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    AuditEvent,
    Message,
    Plan,
    Volunteer,
    VolunteerStatus,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.services.drives import planning
from volunteer_hub.services.privacy import (
    REMOVED,
    purge_contacts,
    purge_volunteers,
    retention_days,
)
from volunteer_hub.services.reference.accounts import create_api_token

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def planned(session):  # type: ignore[no-untyped-def]
    """A drive planned once; its teams start at their first member's home."""
    dw = factories.drive_world(session)
    for team in dw.drive.teams:
        team.meeting_point = None
    session.commit()
    plan = planning.start_plan(
        session, dw.drive, user=None, tz=TZ, time_limit_s=4, solution_limit=50
    )
    session.commit()
    planning.run_plan(lambda: Session(db.engine), plan.id, workers=1)
    session.expire_all()
    return dw, session.get(Plan, plan.id)


def _end_everything(session, dw):  # type: ignore[no-untyped-def]
    from volunteer_hub.models import RequestStatus

    for request in dw.requests:
        request.status = RequestStatus.DONE
        request.status_changed_at = utcnow()
    session.commit()


def _points(doc: object) -> set[tuple[float, float]]:
    """Every (lat, lng) pair anywhere in a JSON document."""
    found: set[tuple[float, float]] = set()
    if isinstance(doc, dict):
        if "lat" in doc and "lng" in doc:
            found.add((doc["lat"], doc["lng"]))
        for value in doc.values():
            found |= _points(value)
    elif isinstance(doc, list):
        for value in doc:
            found |= _points(value)
    return found


def test_the_api_no_longer_returns_a_purged_household_s_point(client, session, planned):
    dw, plan = planned
    assert plan.result is not None
    homes = {(r.lat, r.lng) for r in dw.requests}
    issued = create_api_token(session, dw.coordinator)
    session.commit()
    bearer = {"Authorization": f"Bearer {issued.token}"}
    before = client.get(f"/api/v1/plans/{plan.id}/problem", headers=bearer)
    assert before.status_code == 200 and homes <= _points(before.get_json())
    _end_everything(session, dw)
    report = purge_contacts(session, days=180, now=utcnow() + timedelta(days=400))
    session.commit()
    assert report.requests == len(dw.requests)
    after = client.get(f"/api/v1/plans/{plan.id}/problem", headers=bearer)
    assert after.status_code == 200
    assert not homes & _points(after.get_json())
    session.expire_all()
    stored = session.get(Plan, plan.id)
    assert not homes & _points(stored.problem) and not homes & _points(stored.result)
    # The area stays, so the old plan still loads and its review page still opens.
    assert (dw.commune.lat, dw.commune.lng) in _points(stored.problem)
    planning.problem_of(stored)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "purge"))
    assert event.detail["plans"] == 1


def test_the_purge_blanks_sms_and_drops_personal_text_from_audit_details(session, planned):
    dw, _plan = planned
    target = dw.requests[0]
    session.add(
        Message(
            to_phone=target.phone,
            body="Chào bác, đội sẽ đến",
            request_id=target.id,
            kind="reminder",
            idempotency_key="t-reminder-1",
        )
    )
    audit.record(
        session,
        action="update",
        entity="help_request",
        entity_id=target.id,
        detail={"note": "Bà Lan, hẻm 3", "status": "done"},
    )
    _end_everything(session, dw)
    purge_contacts(session, days=180, now=utcnow() + timedelta(days=400))
    session.commit()
    assert all(m.body == "" and m.to_phone == "" for m in session.scalars(select(Message)))
    kept = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "update",
            AuditEvent.entity == "help_request",
            AuditEvent.entity_id == str(target.id),
        )
    )
    assert kept.detail == {"status": "done"}


def test_volunteers_and_guardians_are_purged_after_their_retention(session, planned):
    dw, plan = planned
    minor = dw.volunteers[0]
    minor.guardian_name, minor.guardian_phone = "Mẹ của em", "+84905111222"
    session.commit()
    home = (minor.home_lat, minor.home_lng)
    assert home in _points(plan.problem)
    later = utcnow() + timedelta(days=800)
    assert purge_volunteers(session, days=730).volunteers == 0  # they went on a drive lately
    dry = purge_volunteers(session, days=730, now=later, dry_run=True)
    session.rollback()
    assert dry.volunteers == len(dw.volunteers) and dry.guardians == 1
    assert session.get(Volunteer, minor.id).guardian_phone == "+84905111222"
    report = purge_volunteers(session, days=730, now=later)
    session.commit()
    assert report.volunteers == dry.volunteers
    session.expire_all()
    gone = session.get(Volunteer, minor.id)
    assert gone.full_name == REMOVED and gone.guardian_name is None and gone.guardian_phone is None
    assert gone.home_lat is None and "+84" not in gone.phone
    assert gone.status is VolunteerStatus.INACTIVE and gone.contact_purged_at is not None
    stored = session.get(Plan, plan.id)
    assert not {(v.home_lat, v.home_lng) for v in dw.volunteers} - {(None, None)}
    assert home not in _points(stored.problem)
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "purge", AuditEvent.entity == "volunteer")
    )
    assert event.detail["volunteers"] == len(dw.volunteers) and event.detail["guardians"] == 1
    assert purge_volunteers(session, days=730, now=later).volunteers == 0  # nothing twice


def test_a_volunteer_who_only_signed_up_is_kept_until_the_retention_ends(session, world):
    fresh = factories.volunteer(session, world.a.commune, full_name="Mới đăng ký")
    session.commit()
    assert purge_volunteers(session, days=30, now=utcnow() + timedelta(days=29)).volunteers == 0
    report = purge_volunteers(session, days=30, now=utcnow() + timedelta(days=31))
    assert fresh.id in report.ids


def test_the_volunteer_retention_setting_is_checked(app):
    from volunteer_hub.services.privacy import RetentionError

    assert retention_days(app.config, "VOLUNTEER_RETENTION_DAYS") >= 1
    with pytest.raises(RetentionError, match="VH_VOLUNTEER_RETENTION_DAYS"):
        retention_days({"VOLUNTEER_RETENTION_DAYS": "soon"}, "VOLUNTEER_RETENTION_DAYS")


def test_the_command_purges_volunteers_with_a_dry_run(app, session, world):
    factories.volunteer(session, world.a.commune, full_name="Lâu rồi")
    session.commit()
    for v in session.scalars(select(Volunteer)):
        v.created_at = utcnow() - timedelta(days=40)
    session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["privacy", "purge", "--volunteer-days", "30", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove the personal details of" in dry.output
    assert dry.output.strip().splitlines()[-1] == "0"
    assert session.scalar(select(Volunteer).where(Volunteer.full_name == "Lâu rồi")) is not None
    done = runner.invoke(args=["privacy", "purge", "--volunteer-days", "30"])
    assert done.exit_code == 0, done.output
    session.expire_all()
    assert session.scalar(select(Volunteer).where(Volunteer.full_name == "Lâu rồi")) is None
    detail = session.scalar(select(AuditEvent.detail).where(AuditEvent.entity == "volunteer"))
    assert detail["volunteers"] >= 1 and detail["days"] == 30
