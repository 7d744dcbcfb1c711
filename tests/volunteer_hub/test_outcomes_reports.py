"""Outcomes, follow-ups, volunteer hours, dashboards, reports, and the retention purge."""

from __future__ import annotations

import io
import re
import statistics
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import login
from tests.factories import problem_fields
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
from volunteer_hub.services.drives import planning, publishing
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.services.privacy import REMOVED, purge_contacts
from volunteer_hub.services.reference.accounts import create_api_token
from volunteer_hub.services.results.outcomes import OutcomeIn, parse_outcome, record_outcome
from volunteer_hub.services.results.reports import Period, build_report
from volunteer_hub.services.validation import FieldErrors

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def published(session):  # type: ignore[no-untyped-def]
    """A drive planned and published, its messages delivered at a price."""
    dw = factories.drive_world(session)
    plan = planning.start_plan(
        session, dw.drive, user=None, tz=TZ, time_limit_s=4, solution_limit=150
    )
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
    return parse_outcome(
        {
            "services": {
                s.code: {"outcome": outcome.value, "reason": reason} for s in visit.request.services
            },
            "people_helped": people,
            "minutes_spent": 25,
        }
    )


def assigned(plan):  # type: ignore[no-untyped-def]
    return sorted((v for v in plan.visits if v.team), key=lambda v: v.starts_at)


def test_a_done_visit_ends_the_request(session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    result = record_outcome(
        session, visit, report_all(visit, Outcome.DONE, people=2), tz=TZ, user=dw.coordinator
    )
    session.commit()
    assert result.follow_up is None
    assert (
        visit.status is VisitStatus.DONE and visit.people_helped == 2 and visit.minutes_spent == 25
    )
    assert visit.request.status is RequestStatus.DONE
    assert [o.outcome for o in visit.outcomes] == [Outcome.DONE]


@pytest.mark.parametrize("outcome", [Outcome.NOT_HOME, Outcome.PARTLY_DONE, Outcome.REFERRED])
def test_unfinished_visits_create_a_linked_follow_up(session, published, outcome):
    dw, plan = published
    visit = assigned(plan)[0]
    reason = "Công an phường" if outcome is Outcome.REFERRED else None
    people = 0 if outcome is Outcome.NOT_HOME else 1
    result = record_outcome(
        session, visit, report_all(visit, outcome, reason, people), tz=TZ, user=dw.coordinator
    )
    session.commit()
    follow = result.follow_up
    assert follow is not None and follow.follow_up_of_id == visit.request_id
    assert follow.source is RequestSource.FOLLOW_UP and follow.status is RequestStatus.TRIAGED
    assert follow.commune_id == visit.request.commune_id and follow.phone == visit.request.phone
    assert outcome.value in follow.follow_up_reason
    assert follow.priority == min(5, visit.request.priority + 1)
    # Reporting again updates the same follow-up instead of making another.
    record_outcome(
        session, visit, report_all(visit, outcome, reason, people), tz=TZ, user=dw.coordinator
    )
    session.commit()
    assert (
        session.scalar(
            select(func.count())
            .select_from(HelpRequest)
            .where(HelpRequest.follow_up_of_id == visit.request_id)
        )
        == 1
    )


def test_a_report_must_cover_every_service_and_give_reasons(session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    with pytest.raises(FieldErrors) as missing:
        record_outcome(
            session,
            visit,
            parse_outcome({"services": {"nonsense": {"outcome": "done"}}, "people_helped": 1}),
            tz=TZ,
        )
    assert "services" in missing.value.errors
    with pytest.raises(FieldErrors) as reason:
        record_outcome(session, visit, report_all(visit, Outcome.NOT_POSSIBLE), tz=TZ)
    assert any(k.endswith(".reason") for k in reason.value.errors)
    with pytest.raises(FieldErrors):
        parse_outcome({"services": {"x": {"outcome": "exploded"}}})
    with pytest.raises(FieldErrors):
        record_outcome(session, visit, report_all(visit, Outcome.DONE, people=0), tz=TZ)
    session.rollback()


def _started(session, visit) -> None:  # type: ignore[no-untyped-def]
    """Move a visit to an hour ago, so that its time has come."""
    length = visit.ends_at - visit.starts_at
    visit.starts_at = utcnow() - timedelta(hours=1)
    visit.ends_at = visit.starts_at + length
    session.commit()


def test_coordinators_report_from_the_board(client, session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    _started(session, visit)
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


def test_the_coordinators_form_refuses_a_report_before_the_visit_starts(client, session, published):
    dw, plan = published
    visit = assigned(plan)[0]
    assert visit.starts_at > utcnow()  # next Saturday
    login(client, dw.coordinator.email)
    notice = "Lượt thăm này chưa bắt đầu"
    assert notice in client.get(f"/visits/{visit.id}/outcome").get_data(as_text=True)
    form = {f"outcome_{s.code}": "done" for s in visit.request.services} | {"people_helped": "1"}
    response = client.post(f"/visits/{visit.id}/outcome", data=form)
    assert response.status_code == 422 and notice in response.get_data(as_text=True)
    session.expire_all()
    assert visit.status is VisitStatus.SCHEDULED and visit.reported_at is None
    assert visit.request.status is not RequestStatus.DONE and not visit.outcomes


def _report_everything(session, dw, plan):  # type: ignore[no-untyped-def]
    visits = assigned(plan)
    record_outcome(
        session,
        visits[0],
        report_all(visits[0], Outcome.DONE, people=2),
        tz=TZ,
        user=dw.coordinator,
    )
    record_outcome(
        session,
        visits[1],
        report_all(visits[1], Outcome.NOT_HOME, people=0),
        tz=TZ,
        user=dw.coordinator,
    )
    for visit in visits[2:]:
        record_outcome(
            session, visit, report_all(visit, Outcome.DONE, people=1), tz=TZ, user=dw.coordinator
        )
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
        select(func.count()).select_from(Message).where(Message.status == MessageStatus.DELIVERED)
    )
    assert t.sms_cost == pytest.approx(0.05 * t.sms_delivered) and t.sms_cost_unit == "USD"
    urgent = [r for r in dw.requests if r.priority >= 4]
    assert t.urgent_received == len(urgent)
    assert sum(sum(c.values()) for c in t.outcomes.values()) == sum(
        len(v.request.services) for v in visits
    )
    # Each member of a team gets the hours of the visits they made.
    assert sum(h for _v, h, _n in report.hours.values()) == pytest.approx(t.volunteer_hours)


def _independent_totals(session, commune_id: int, period: Period) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The report's indicators counted straight from the tables, by the documented definitions.

    Plain SQL over the tables (docs/reports.md), sharing no code with services/reports.py.
    """
    t = db.Model.metadata.tables
    req, visit, plan, team, member, message = (
        t["help_request"],
        t["visit"],
        t["plan"],
        t["team"],
        t["team_member"],
        t["message"],
    )
    start = datetime.combine(period.first, time.min, TZ)
    end = datetime.combine(period.last + timedelta(days=1), time.min, TZ)

    def scalar(query):  # type: ignore[no-untyped-def]
        return session.execute(query).scalar() or 0

    received = (
        (req.c.commune_id == commune_id) & (req.c.created_at >= start) & (req.c.created_at < end)
    )
    first_time = received & (req.c.source != "follow_up")
    urgent = first_time & (req.c.priority >= 4)
    newest = (
        select(plan.c.drive_id, func.max(plan.c.version).label("version"))
        .where(plan.c.published_at.is_not(None))
        .group_by(plan.c.drive_id)
        .subquery()
    )
    planned_rows = (
        select(
            visit.c.id,
            visit.c.status,
            visit.c.people_helped,
            visit.c.minutes_spent,
            visit.c.starts_at,
            visit.c.ends_at,
            visit.c.shift_index,
            visit.c.request_id,
            team.c.code,
            plan.c.result,
        )
        .join(plan, plan.c.id == visit.c.plan_id)
        .join(newest, (newest.c.drive_id == plan.c.drive_id) & (newest.c.version == plan.c.version))
        .join(team, team.c.id == visit.c.team_id)
        .join(req, req.c.id == visit.c.request_id)
        .where(
            req.c.commune_id == commune_id,
            visit.c.starts_at >= start,
            visit.c.starts_at < end,
            visit.c.status != "cancelled",
        )
    )
    visits = session.execute(planned_rows).mappings().all()
    done = [v for v in visits if v["status"] == "done"]
    urgent_ids = set(session.execute(select(req.c.id).where(urgent)).scalars())
    created = dict(session.execute(select(req.c.id, req.c.created_at).where(urgent)).all())
    waits = [
        (v["starts_at"] - created[v["request_id"]]).total_seconds() / 86400
        for v in done
        if v["request_id"] in urgent_ids
    ]
    attended = [v for v in visits if v["status"] in ("done", "not_home")]
    members = {
        v["id"]: set(
            session.execute(
                select(member.c.volunteer_id)
                .join(visit, visit.c.team_id == member.c.team_id)
                .where(visit.c.id == v["id"])
            ).scalars()
        )
        for v in attended
    }
    hours = 0.0
    for v in attended:
        route = next(
            r
            for r in v["result"]["routes"]
            if r["team"] == v["code"] and r["shift"] == v["shift_index"]
        )
        spent = (
            v["minutes_spent"]
            if v["minutes_spent"] is not None
            else ((v["ends_at"] - v["starts_at"]).total_seconds() / 60)
        )
        hours += (spent + route["travel_min"] / len(route["stops"])) * len(members[v["id"]]) / 60
    in_period = (message.c.created_at >= start) & (message.c.created_at < end)
    urgent_received = scalar(select(func.count()).where(urgent))
    urgent_served = len(waits)
    return {
        "requests_received": scalar(select(func.count()).where(first_time)),
        "follow_ups_received": scalar(
            select(func.count()).where(received & (req.c.source == "follow_up"))
        ),
        "planned": len(visits),
        "served": len(done),
        "not_home": sum(1 for v in visits if v["status"] == "not_home"),
        "people_helped": sum(v["people_helped"] or 0 for v in done),
        "urgent_received": urgent_received,
        "urgent_served": urgent_served,
        "urgent_share": urgent_served / urgent_received if urgent_received else None,
        "urgent_wait_days": round(statistics.median(waits), 1) if waits else None,
        "volunteers": len(set().union(*members.values())),
        "volunteer_hours": hours,
        "sms_sent": scalar(
            select(func.count()).where(
                in_period, message.c.status.in_(["sent", "delivered", "undelivered"])
            )
        ),
        "sms_delivered": scalar(
            select(func.count()).where(in_period, message.c.status == "delivered")
        ),
        "sms_failed": scalar(
            select(func.count()).where(in_period, message.c.status.in_(["failed", "undelivered"]))
        ),
        "sms_cost": sum(
            abs(float(p))
            for p in session.execute(
                select(message.c.price).where(in_period, message.c.price.is_not(None))
            ).scalars()
        ),
    }


def test_the_excel_summary_equals_independent_sql_counts_and_the_summary_api(
    client, session, published
):
    dw, plan = published
    _report_everything(session, dw, plan)
    period = _period(plan)
    # Outside the period: counted by nobody.
    before = datetime.combine(period.first, time.min, TZ) - timedelta(days=3)
    factories.help_request(session, dw.commune, priority=5, created_at=before)
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    expected = _independent_totals(session, dw.commune.id, period)
    # Nothing trivially zero.
    assert expected["served"] > 0 and expected["sms_failed"] == 1
    assert expected["follow_ups_received"] == 1
    assert expected["urgent_served"] > 0 and expected["volunteer_hours"] > 0

    login(client, dw.coordinator.email)
    response = client.get(f"/reports/export.xlsx?from={period.first}&to={period.last}")
    assert response.status_code == 200
    summary = load_workbook(io.BytesIO(response.data)).worksheets[0]
    # The indicator table: numbered rows "#, indicator, result".
    sheet = {
        row[1]: row[2] for row in summary.iter_rows(values_only=True) if isinstance(row[0], int)
    }
    api = client.get(
        f"/api/v1/reports/summary?from={period.first}&to={period.last}",
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()["totals"]
    share = expected["urgent_share"]
    urgent = api["urgent"]
    rows = {
        "Số yêu cầu nhận được": (expected["requests_received"], api["requests_received"]),
        "Số yêu cầu hỗ trợ tiếp": (expected["follow_ups_received"], api["follow_ups_received"]),
        "Số hộ được xếp lịch": (expected["planned"], api["planned"]),
        "Số hộ đã được hỗ trợ": (expected["served"], api["served"]),
        "Không có nhà": (expected["not_home"], api["not_home"]),
        "Số người được hỗ trợ": (expected["people_helped"], api["people_helped"]),
        "Số yêu cầu khẩn (ưu tiên 4-5) nhận được": (
            expected["urgent_received"],
            urgent["received"],
        ),
        "Số yêu cầu khẩn đã được hỗ trợ": (expected["urgent_served"], urgent["served"]),
        "Tỷ lệ yêu cầu khẩn đã được hỗ trợ": (
            f"{share * 100:.0f}%",
            f"{urgent['share_served'] * 100:.0f}%",
        ),
        "Thời gian chờ trung vị của yêu cầu khẩn (ngày)": (
            expected["urgent_wait_days"],
            urgent["median_wait_days"],
        ),
        "Số tình nguyện viên tham gia": (expected["volunteers"], api["volunteers"]),
        "Tin nhắn đã gửi": (expected["sms_sent"], api["sms"]["sent"]),
        "Tin nhắn đã đến": (expected["sms_delivered"], api["sms"]["delivered"]),
        "Tin nhắn lỗi": (expected["sms_failed"], api["sms"]["failed"]),
    }
    for name, (counted, from_api) in rows.items():
        assert sheet[name] == counted == from_api, name
    # Sums of floats: the sheet shows one decimal (hours) or two (cost) of the same sum.
    hours, cost = sheet["Số giờ tình nguyện"], sheet["Chi phí tin nhắn (USD)"]
    assert hours == pytest.approx(expected["volunteer_hours"], abs=0.05 + 1e-9)
    assert hours == api["volunteer_hours"]
    assert cost == pytest.approx(expected["sms_cost"], abs=0.005 + 1e-9)
    assert cost == pytest.approx(api["sms"]["cost"], abs=0.005 + 1e-9)
    assert api["sms"]["cost_unit"] == "USD"
    # None left unchecked.
    assert set(sheet) == set(rows) | {"Số giờ tình nguyện", "Chi phí tin nhắn (USD)"}

    report = build_report(session, dw.coordinator, period, tz=TZ)
    book = load_workbook(io.BytesIO(response.data))
    # Three sheets whatever the number of communes: the summary, one row per province and
    # one row per commune.
    assert [ws.title for ws in book.worksheets][1:] == ["Tỉnh, thành phố", "Xã, phường"]
    provinces = list(book.worksheets[1].iter_rows(min_row=7, values_only=True))
    assert [row[0] for row in provinces] == [p.code for p, _f in report.provinces]
    assert (
        provinces[0][2] == report.provinces[0][1].requests_received == sheet["Số yêu cầu nhận được"]
    )
    codes = [row[0] for row in book.worksheets[2].iter_rows(min_row=7, values_only=True)]
    assert codes == [c.code for c, _f in report.communes]
    csv_body = client.get(f"/reports/export.csv?from={period.first}&to={period.last}").get_data(
        as_text=True
    )
    assert dw.commune.code in csv_body


def test_the_summary_api_and_bearer_export(client, session, published):
    dw, plan = published
    _report_everything(session, dw, plan)
    period = _period(plan)
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(
        f"/api/v1/reports/summary?from={period.first}&to={period.last}", headers=headers
    ).get_json()
    report = build_report(session, dw.coordinator, period, tz=TZ)
    assert body["totals"]["served"] == report.total.served
    assert body["totals"]["people_helped"] == report.total.people_helped
    assert body["communes"][0]["code"] == dw.commune.code
    one = client.get(
        f"/api/v1/reports/summary?from={period.first}&to={period.last}&commune={dw.commune.code}",
        headers=headers,
    ).get_json()
    assert one["totals"]["served"] == report.total.served
    assert client.get("/api/v1/reports/summary?from=2026-13-01", headers=headers).status_code == 422
    late = client.get("/api/v1/reports/summary?to=0001-01-01", headers=headers)
    assert late.status_code == 422 and list(problem_fields(late)) == ["to"]
    assert (
        client.get(
            "/api/v1/reports/summary?from=2026-11-10&to=2026-11-01", headers=headers
        ).status_code
        == 422
    )
    assert client.get("/api/v1/reports/summary?commune=00000", headers=headers).status_code == 422
    misspelt = client.get(f"/api/v1/reports/summary?commun={dw.commune.code}", headers=headers)
    assert misspelt.status_code == 422 and "commun" in problem_fields(misspelt)
    assert client.get("/api/v1/reports/summary?to=&from=", headers=headers).status_code == 200
    english = client.get("/api/v1/reports/summary?lang=en&commune=00000", headers=headers)
    assert english.status_code == 422 and "commune" in problem_fields(english)
    assert client.get("/api/v1/reports/summary").status_code == 401
    xlsx = client.get(f"/reports/export.xlsx?from={period.first}&to={period.last}", headers=headers)
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/reports/export.xlsx").status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/reports/summary?to=0001-01-01",
        "/api/v1/reports/summary?from=0001-01-01&to=0001-01-02",
        "/api/v1/reports/summary?from=9999-12-30&to=9999-12-31",
        "/reports/export.xlsx?to=0001-01-01",
        "/reports/export.csv?from=9999-12-30&to=9999-12-31",
        "/reports?to=0001-01-01",
        "/reports?from=9999-12-30&to=9999-12-31",
        "/reports?from=1999-12-31&to=2000-01-10",
        "/volunteers/{volunteer}/certificate?from=0001-01-01&to=0001-01-02",
    ],
)
def test_dates_far_from_the_movement_are_a_clear_422(client, session, published, url):
    dw, _plan = published
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    login(client, dw.coordinator.email)
    url = url.format(volunteer=dw.volunteers[0].id)
    headers = {"Authorization": f"Bearer {token}"} if "/api/" in url else {}
    response = client.get(url, headers=headers)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "2000" in body and "2100" in body  # says which years a report may cover
    if url.startswith("/reports?"):
        assert 'role="alert"' in body and 'name="drive"' in body  # the form, with its error


def test_the_edges_of_the_allowed_years_still_report(client, session, published):
    dw, _plan = published
    login(client, dw.coordinator.email)
    assert client.get("/reports?from=2000-01-01&to=2000-01-02").status_code == 200
    assert client.get("/reports/export.csv?from=2100-12-30&to=2100-12-31").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/volunteers/99999999999999999999/certificate",
        "/volunteers/2147483648/certificate",
        "/volunteers/{volunteer}/certificate?drive=99999999999999999999",
        "/reports?drive=99999999999999999999",
        "/reports?drive=abc",
        "/reports/export.xlsx?drive=2147483648",
    ],
)
def test_ids_no_row_can_have_are_not_found(client, session, published, url):
    dw, _plan = published
    login(client, dw.coordinator.email)
    assert client.get(url.format(volunteer=dw.volunteers[0].id)).status_code == 404


def test_an_unknown_commune_is_a_422_with_a_message_everywhere(client, session, published, world):
    dw, _plan = published
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    login(client, dw.coordinator.email)
    headers = {"Authorization": f"Bearer {token}"}
    refused = "Xã, phường này không thuộc phạm vi bạn phụ trách."
    for commune in ("00000", world.b.commune.code):  # nonexistent, and another coordinator's
        api = client.get(f"/api/v1/reports/summary?commune={commune}", headers=headers)
        assert api.status_code == 422 and "commune" in problem_fields(api)
        for fmt in ("xlsx", "csv"):
            export = client.get(f"/reports/export.{fmt}?commune={commune}")
            assert export.status_code == 422
            assert export.get_data(as_text=True) == refused
        page = client.get(f"/reports?commune={commune}")
        assert page.status_code == 422
        assert refused in page.get_data(as_text=True)


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


def test_a_drive_dashboard_counts_that_drive_whatever_the_dates(client, session, published, world):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    # Same commune, same days, but not in the drive; and an SMS about another drive.
    factories.help_request(session, dw.commune, priority=5)
    other = factories.drive(session, [dw.commune], name="Đợt khác")
    queue_message(
        session,
        key="other-drive",
        kind="broadcast",
        to_phone="+84909999999",
        body="Doan TN: dot khac",
        drive_id=other.id,
    )
    session.commit()
    tz_days = sorted({b.starts_at.astimezone(TZ).date() for b in dw.drive.blocks})

    report = build_report(session, dw.coordinator, _period(plan), tz=TZ, drive_id=dw.drive.id)
    t = report.total
    assert t.requests_received == len(dw.requests)  # the drive's, not the commune's new one
    assert t.follow_ups_received == 0  # the follow-up waits for the next drive
    assert t.urgent_received == len([r for r in dw.requests if r.priority >= 4])
    assert t.served == len(visits) - 1 and t.urgent_served <= t.urgent_received
    drive_messages = session.scalars(select(Message).where(Message.drive_id == dw.drive.id)).all()
    assert t.sms_delivered + t.sms_failed == len(drive_messages)

    login(client, dw.coordinator.email)
    page = client.get("/reports").get_data(as_text=True)
    assert f'<option value="{dw.drive.id}"' in page and f'<option value="{other.id}"' in page
    assert world.a.drive.name not in page and world.b.drive.name not in page  # others' drives
    # Far dates are ignored for a drive: its figures and its days.
    response = client.get(f"/reports?drive={dw.drive.id}&from=2001-01-01&to=2001-01-02")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="drive-scope"' in body
    assert f'<option value="{dw.drive.id}" selected' in body
    assert f'value="{tz_days[0].isoformat()}"' in body
    certificate = f"/volunteers/{visits[0].team.members[0].id}/certificate?"
    assert certificate in body and f"drive={dw.drive.id}" in body
    export = client.get(f"/reports/export.csv?drive={dw.drive.id}").get_data(as_text=True)
    total = export.strip().splitlines()[-1].split(",")
    assert total[2:4] == [str(t.requests_received), str(t.follow_ups_received)]
    assert client.get(f"/reports?drive={world.b.drive.id}").status_code == 404


def test_the_board_links_to_the_drive_dashboard_and_certificates(client, session, published):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    login(client, dw.coordinator.email)
    board = client.get(f"/drives/{dw.drive.id}/board").get_data(as_text=True)
    assert f'href="/reports?drive={dw.drive.id}"' in board
    went = {m for v in visits for m in v.team.members}
    for member in went:
        link = f"/volunteers/{member.id}/certificate?drive={dw.drive.id}"
        assert link in board
    member = sorted(went, key=lambda m: m.id)[0]
    page = client.get(f"/volunteers/{member.id}/certificate?drive={dw.drive.id}")
    page = page.get_data(as_text=True)
    assert member.full_name in page and dw.drive.name in page
    report = build_report(session, dw.coordinator, _period(plan), tz=TZ, drive_id=dw.drive.id)
    assert report.hours[member.id][2] > 0


def test_a_certificate_for_a_drive_covers_volunteers_from_other_communes(
    client, session, published, world
):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    guest = visits[0].team.members[0]
    guest.home_commune = world.b.commune  # a student from another ward's school
    session.commit()
    login(client, dw.coordinator.email)
    assert client.get(f"/volunteers/{guest.id}/certificate?drive={dw.drive.id}").status_code == 200
    # Not theirs otherwise; and never someone the drive did not invite.
    assert client.get(f"/volunteers/{guest.id}/certificate").status_code == 404
    stranger = world.b.volunteer.id
    assert client.get(f"/volunteers/{stranger}/certificate?drive={dw.drive.id}").status_code == 404
    # Invited from commune B but declined: in no team, so nothing to certify and not visible.
    from volunteer_hub.models import DriveVolunteer, InvitationStatus

    dw.drive.volunteers.append(
        DriveVolunteer(volunteer=world.b.volunteer, status=InvitationStatus.DECLINED)
    )
    session.commit()
    assert client.get(f"/volunteers/{stranger}/certificate?drive={dw.drive.id}").status_code == 404


def test_a_certificate_of_hours(client, session, published):
    dw, plan = published
    visits = _report_everything(session, dw, plan)
    volunteer = visits[0].team.members[0]
    login(client, dw.coordinator.email)
    page = client.get(f"/volunteers/{volunteer.id}/certificate?drive={dw.drive.id}").get_data(
        as_text=True
    )
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
    assert all(
        m.body == "" for m in session.scalars(select(Message).where(Message.request_id == done.id))
    )
    after = build_report(session, dw.coordinator, period, tz=TZ).total
    assert (after.served, after.people_helped, after.planned) == (
        before.served,
        before.people_helped,
        before.planned,
    )
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "purge")
        )
        == 1
    )
    assert purge_contacts(session, days=180, now=later).requests == 0  # nothing twice
    assert report.requests == dry.requests


def test_recent_households_are_not_purged(session, published):
    _dw, plan = published
    assert purge_contacts(session, days=180).requests == 0


def test_a_period_is_checked():
    from volunteer_hub.web.query import PeriodError, parse_period

    today = date(2026, 11, 22)
    assert parse_period({}, today) == Period(date(2026, 8, 24), today)
    with pytest.raises(PeriodError):
        parse_period({"from": "2020-01-01", "to": "2026-01-01"}, today)


def test_links_carry_only_the_report_s_own_query_arguments(client, session, published):
    dw, plan = published
    _report_everything(session, dw, plan)
    login(client, dw.coordinator.email)
    # Arguments url_for reads itself, or names of the link's own parameters, once broke the
    # page (a 500) when the query string was handed to url_for whole.
    junk = "&volunteer_id=1&fmt=x&_scheme=ftp&_external=1&drive_id=2&_anchor=x"
    response = client.get(f"/reports?drive={dw.drive.id}{junk}")
    assert response.status_code == 200
    links = re.findall(
        r'href="(/(?:reports/export|volunteers/)[^"]*)"', response.get_data(as_text=True)
    )
    assert f"/reports/export.xlsx?drive={dw.drive.id}" in links and len(links) > 2
    assert not [link for link in links if "_" in link.partition("?")[2] or "fmt=x" in link]
    requests_page = client.get(f"/drives/{dw.drive.id}/requests?drive_id=1&_scheme=ftp&status=new")
    assert requests_page.status_code == 200
    assert f'action="/drives/{dw.drive.id}/requests?status=new"' in requests_page.get_data(
        as_text=True
    )
