"""Outcomes, follow-ups, volunteer hours, dashboards, reports, and the retention purge."""

from __future__ import annotations

import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import login
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    AuditEvent,
    HelpRequest,
    Message,
    MessageStatus,
    Outcome,
    Plan,
    RequestSource,
    RequestStatus,
    VisitStatus,
    utcnow,
)
from volunteer_hub.services import planning, publishing
from volunteer_hub.services.accounts import create_api_token
from volunteer_hub.services.outcomes import OutcomeIn, parse_outcome, record_outcome
from volunteer_hub.services.privacy import REMOVED, purge_contacts
from volunteer_hub.services.reports import Period, build_report
from volunteer_hub.services.validation import FieldErrors

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def published(session):  # type: ignore[no-untyped-def]
    """A drive planned and published, its messages delivered at a price."""
    dw = factories.drive_world(session)
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4, solution_limit=150)
    session.commit()
    planning.run_plan(lambda: Session(db.engine), plan.id, workers=1)
    session.expire_all()
    plan = session.get(Plan, plan.id)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    for index, message in enumerate(session.scalars(select(Message))):
        message.status = MessageStatus.FAILED if index == 0 else MessageStatus.DELIVERED
        message.price = None if index == 0 else -0.05
        message.price_unit = "USD"
    session.commit()
    return dw, plan


def report_all(visit, outcome: Outcome, reason=None, people=1) -> OutcomeIn:  # type: ignore[no-untyped-def]
    return parse_outcome({
        "services": {s.code: {"outcome": outcome.value, "reason": reason} for s in visit.request.services},
        "people_helped": people, "minutes_spent": 25,
    })


def assigned(plan):  # type: ignore[no-untyped-def]
    return sorted((v for v in plan.visits if v.team), key=lambda v: v.starts_at)


def test_a_done_visit_ends_the_request(session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    result = record_outcome(session, visit, report_all(visit, Outcome.DONE, people=2), tz=TZ, user=dw.coordinator)
    session.commit()
    assert result.follow_up is None
    assert visit.status is VisitStatus.DONE and visit.people_helped == 2 and visit.minutes_spent == 25
    assert visit.request.status is RequestStatus.DONE
    assert [o.outcome for o in visit.outcomes] == [Outcome.DONE]


@pytest.mark.parametrize("outcome", [Outcome.NOT_HOME, Outcome.PARTLY_DONE, Outcome.REFERRED])
def test_unfinished_visits_create_a_linked_follow_up(session, published, outcome):
    dw, plan = published
    visit = assigned(plan)[0]
    reason = "Công an phường" if outcome is Outcome.REFERRED else None
    people = 0 if outcome is Outcome.NOT_HOME else 1
    result = record_outcome(session, visit, report_all(visit, outcome, reason, people), tz=TZ, user=dw.coordinator)
    session.commit()
    follow = result.follow_up
    assert follow is not None and follow.follow_up_of_id == visit.request_id
    assert follow.source is RequestSource.FOLLOW_UP and follow.status is RequestStatus.TRIAGED
    assert follow.commune_id == visit.request.commune_id and follow.phone == visit.request.phone
    assert outcome.value in follow.follow_up_reason
    assert follow.priority == min(5, visit.request.priority + 1)
    # Reporting again updates the same follow-up instead of making another.
    record_outcome(session, visit, report_all(visit, outcome, reason, people), tz=TZ, user=dw.coordinator)
    session.commit()
    assert session.scalar(select(func.count()).select_from(HelpRequest).where(
        HelpRequest.follow_up_of_id == visit.request_id)) == 1


def test_a_report_must_cover_every_service_and_give_reasons(session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    with pytest.raises(FieldErrors) as missing:
        record_outcome(session, visit, parse_outcome({"services": {"nonsense": {"outcome": "done"}},
                                                      "people_helped": 1}), tz=TZ)
    assert "services" in missing.value.errors
    with pytest.raises(FieldErrors) as reason:
        record_outcome(session, visit, report_all(visit, Outcome.NOT_POSSIBLE), tz=TZ)
    assert any(k.endswith(".reason") for k in reason.value.errors)
    with pytest.raises(FieldErrors):
        parse_outcome({"services": {"x": {"outcome": "exploded"}}})
    with pytest.raises(FieldErrors):
        record_outcome(session, visit, report_all(visit, Outcome.DONE, people=0), tz=TZ)
    session.rollback()


def test_coordinators_report_from_the_board(client, session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    login(client, dw.coordinator.email)
    board = client.get(f"/drives/{dw.drive.id}/board").get_data(as_text=True)
    assert f"/visits/{visit.id}/outcome" in board
    form = {f"outcome_{s.code}": "done" for s in visit.request.services} | {"people_helped": "1"}
    assert client.post(f"/visits/{visit.id}/outcome", data=form).status_code == 302
    session.refresh(visit)
    assert visit.status is VisitStatus.DONE
    bad = {f"outcome_{s.code}": "referred" for s in visit.request.services} | {"people_helped": "1"}
    response = client.post(f"/visits/{visit.id}/outcome", data=bad)
    assert response.status_code == 422


def _report_everything(session, dw, plan):  # type: ignore[no-untyped-def]
    visits = assigned(plan)
    record_outcome(session, visits[0], report_all(visits[0], Outcome.DONE, people=2), tz=TZ, user=dw.coordinator)
    record_outcome(session, visits[1], report_all(visits[1], Outcome.NOT_HOME, people=0), tz=TZ, user=dw.coordinator)
    for visit in visits[2:]:
        record_outcome(session, visit, report_all(visit, Outcome.DONE, people=1), tz=TZ, user=dw.coordinator)
    session.commit()
    return visits


def _period(plan):  # type: ignore[no-untyped-def]
    day = plan.drive.blocks[0].starts_at.astimezone(TZ).date()
    return Period(day - timedelta(days=30), day + timedelta(days=1))


def test_the_report_counts_what_the_database_holds(session, published):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    report = build_report(session, dw.coordinator, _period(plan), tz=TZ)
    t = report.total
    assert t.requests_received == len(dw.requests) + 0  # follow-ups are counted apart
    assert t.follow_ups_received == 1
    assert t.planned == len(visits)
    assert t.served == len(visits) - 1 and t.not_home == 1
    assert t.people_helped == 2 + (len(visits) - 2)
    assert t.volunteers == len({m.id for v in visits for m in v.team.members})
    assert t.volunteer_hours > 0
    assert t.sms_failed == 1 and t.sms_delivered == session.scalar(
        select(func.count()).select_from(Message).where(Message.status == MessageStatus.DELIVERED))
    assert t.sms_cost == pytest.approx(0.05 * t.sms_delivered) and t.sms_cost_unit == "USD"
    urgent = [r for r in dw.requests if r.priority >= 4]
    assert t.urgent_received == len(urgent)
    assert sum(sum(c.values()) for c in t.outcomes.values()) == sum(len(v.request.services) for v in visits)
    # Each member of a team gets the hours of the visits they made.
    assert sum(h for _v, h, _n in report.hours.values()) == pytest.approx(t.volunteer_hours)


def test_the_excel_report_carries_the_same_totals(client, session, published):
    dw, plan = published
    _report_everything(session, dw, plan)
    period = _period(plan)
    login(client, dw.coordinator.email)
    response = client.get(f"/reports/export.xlsx?from={period.first}&to={period.last}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    summary = book.worksheets[0]
    # The indicator table: numbered rows "#, indicator, result".
    values = {row[1]: row[2] for row in summary.iter_rows(values_only=True) if isinstance(row[0], int)}
    report = build_report(session, dw.coordinator, period, tz=TZ)
    assert values["Số hộ đã được hỗ trợ"] == report.total.served == session.scalar(
        select(func.count()).select_from(db.Model.metadata.tables["visit"]).where(
            db.Model.metadata.tables["visit"].c.status == "done"))
    assert values["Số người được hỗ trợ"] == report.total.people_helped
    assert values["Số yêu cầu nhận được"] == report.total.requests_received
    assert [ws.title for ws in book.worksheets][1:] == [c.short_name for c, _f in report.communes]
    csv_body = client.get(f"/reports/export.csv?from={period.first}&to={period.last}").get_data(as_text=True)
    assert dw.commune.code in csv_body


def test_the_summary_api_and_bearer_export(client, session, published):
    dw, plan = published
    _report_everything(session, dw, plan)
    period = _period(plan)
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(f"/api/v1/reports/summary?from={period.first}&to={period.last}", headers=headers).get_json()
    report = build_report(session, dw.coordinator, period, tz=TZ)
    assert body["totals"]["served"] == report.total.served
    assert body["totals"]["people_helped"] == report.total.people_helped
    assert body["communes"][0]["code"] == dw.commune.code
    one = client.get(f"/api/v1/reports/summary?from={period.first}&to={period.last}&commune={dw.commune.code}",
                     headers=headers).get_json()
    assert one["totals"]["served"] == report.total.served
    assert client.get("/api/v1/reports/summary?from=2026-13-01", headers=headers).status_code == 422
    assert client.get("/api/v1/reports/summary?from=2026-11-10&to=2026-11-01", headers=headers).status_code == 422
    assert client.get("/api/v1/reports/summary?commune=00000", headers=headers).status_code == 422
    assert client.get("/api/v1/reports/summary").status_code == 401
    xlsx = client.get(f"/reports/export.xlsx?from={period.first}&to={period.last}", headers=headers)
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/reports/export.xlsx").status_code == 401


def test_dashboards_show_only_the_users_communes(client, session, published, world):
    dw, plan = published
    _report_everything(session, dw, plan)
    login(client, world.b.coordinator.email)
    page = client.get("/reports").get_data(as_text=True)
    assert dw.commune.name not in page
    assert "<svg" in page or "Không có" in page
    client.post("/logout")
    login(client, dw.coordinator.email)
    page = client.get("/reports").get_data(as_text=True)
    assert dw.commune.name in page and "<svg" in page
    assert dw.requests[0].beneficiary_name not in page  # aggregates only
    assert client.get("/reports?from=nonsense").status_code == 422


def test_a_certificate_of_hours(client, session, published):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    volunteer = visits[0].team.members[0]
    login(client, dw.coordinator.email)
    page = client.get(f"/volunteers/{volunteer.id}/certificate?drive={dw.drive.id}").get_data(as_text=True)
    assert volunteer.full_name in page and dw.drive.name in page


def test_the_purge_removes_contacts_but_keeps_the_counts(session, published):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    period = _period(plan)
    before = build_report(session, dw.coordinator, period, tz=TZ).total
    later = utcnow() + timedelta(days=400)
    dry = purge_contacts(session, days=180, now=later, dry_run=True)
    assert dry.requests >= len(visits) and dw.requests[0].phone is not None
    report = purge_contacts(session, days=180, now=later)
    session.commit()
    done = session.get(HelpRequest, visits[0].request_id)
    assert done.beneficiary_name == REMOVED and done.phone is None and done.house is None
    assert done.contact_purged_at is not None and done.services
    assert all(m.body == "" for m in session.scalars(select(Message).where(Message.request_id == done.id)))
    after = build_report(session, dw.coordinator, period, tz=TZ).total
    assert (after.served, after.people_helped, after.planned) == (before.served, before.people_helped, before.planned)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "purge")) == 1
    assert purge_contacts(session, days=180, now=later).requests == 0  # nothing twice
    assert report.requests == dry.requests


def test_recent_households_are_not_purged(session, published):
    _dw, plan = published
    assert purge_contacts(session, days=180).requests == 0


def test_a_period_is_checked():
    from volunteer_hub.web.reports import PeriodError, parse_period

    today = date(2026, 11, 22)
    assert parse_period({}, today) == Period(date(2026, 8, 24), today)
    with pytest.raises(PeriodError):
        parse_period({"from": "2020-01-01", "to": "2026-01-01"}, today)
