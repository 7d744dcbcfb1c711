"""Planning a drive: the problem, the background run, manual changes, publishing, re-planning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import scheduling
from tests import factories
from tests.conftest import login
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    Message,
    MessageStatus,
    Plan,
    PlanStatus,
    RequestStatus,
    VisitStatus,
    utcnow,
)
from volunteer_hub.services.drives import plan_review, planning, publishing
from volunteer_hub.services.messaging.responses import household_confirm, volunteer_decline

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def dw(session):  # type: ignore[no-untyped-def]
    return factories.drive_world(session)


def factory():  # type: ignore[no-untyped-def]
    return Session(db.engine)


def solve(session, drive, **kw) -> Plan:  # type: ignore[no-untyped-def]
    """Queue a plan the way the web does, then run it the way the worker does."""
    kw.setdefault("solution_limit", 200)
    plan = planning.start_plan(
        session, drive, user=None, tz=TZ, time_limit_s=kw.pop("time_limit_s", 4), **kw
    )
    session.commit()
    assert planning.run_plan(factory, plan.id, workers=1)
    session.expire_all()
    return session.get(Plan, plan.id)


def assert_valid(plan: Plan) -> None:
    problem = scheduling.Problem.from_json(plan.problem)
    result = scheduling.Plan.from_json(plan.result)
    assert scheduling.check(problem, result) == []


def test_the_problem_has_the_drive_teams_and_households(session, dw):
    problem = planning.build_problem(session, dw.drive, tz=TZ)
    assert len(problem.teams) == 2 and all(len(t.members) == 2 for t in problem.teams)
    assert all(
        t.shifts == (scheduling.Shift(dw.drive.blocks[0].starts_at, dw.drive.blocks[0].ends_at),)
        for t in problem.teams
    )
    assert {v.id for v in problem.visits} == {r.reference for r in dw.requests}
    by_id = {v.id: v for v in problem.visits}
    first = by_id[dw.requests[0].reference]
    assert first.skills == frozenset({"vneid"}) and first.priority == dw.requests[0].priority
    assert first.service_min == 30  # the catalogue's minutes for level-2 activation
    # Level-1 skills ("learning") do not count for assignment.
    assert all("health_book" not in t.skills for t in problem.teams)
    scheduling.Problem.from_json(problem.to_json())  # valid planner JSON


def test_a_team_with_a_member_not_free_that_day_is_left_out(session, dw):
    team = dw.drive.teams[0]
    team.members[0].availability = []
    session.commit()
    problem = planning.build_problem(session, dw.drive, tz=TZ)
    assert team.code not in {t.id for t in problem.teams}


def test_planning_is_queued_then_run_by_the_worker_and_checks_clean(session, dw):
    plan = planning.start_plan(session, dw.drive, user=dw.coordinator, tz=TZ, time_limit_s=4)
    session.commit()
    assert plan.status is PlanStatus.QUEUED and plan.visits == []
    assert planning.run_next_plan(factory, workers=1) == plan.id
    session.expire_all()
    assert plan.status is PlanStatus.DONE
    assert plan.progress["served"] == len([v for v in plan.visits if v.team])
    assert plan.progress["elapsed_s"] >= 0
    assert len(plan.visits) == len(dw.requests)
    assert_valid(plan)
    assert planning.run_next_plan(factory, workers=1) is None


def test_stopping_early_keeps_the_best_plan(session, dw):
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=120)
    planning.request_stop(session, plan)
    session.commit()
    planning.run_plan(factory, plan.id, workers=1)
    session.expire_all()
    assert plan.status is PlanStatus.DONE
    assert plan.progress["stopped_early"] is True
    assert plan.progress["elapsed_s"] < 60
    assert_valid(plan)


def test_a_plan_whose_worker_died_is_queued_again(session, dw):
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    assert planning.claim_plan(session, plan.id, "dead-worker", utcnow() - timedelta(minutes=10))
    session.expire_all()
    assert plan.status is PlanStatus.RUNNING
    assert planning.requeue_stale(session) == [plan.id]
    session.expire_all()
    assert plan.status is PlanStatus.QUEUED
    assert planning.run_next_plan(factory, workers=1) == plan.id


def test_two_workers_never_run_the_same_plan(session, dw):
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    assert planning.claim_plan(factory(), plan.id, "a", utcnow())
    assert not planning.claim_plan(factory(), plan.id, "b", utcnow())


def _team_without(plan: Plan, skill: str) -> str:
    problem = scheduling.Problem.from_json(plan.problem)
    return next(t.id for t in problem.teams if skill not in t.skills)


def test_a_move_that_breaks_a_skill_is_refused_with_the_reason(session, dw):
    plan = solve(session, dw.drive)
    vneid = next(
        v for v in plan.visits if v.team and "vneid" in {s.skill.code for s in v.request.services}
    )
    other = _team_without(plan, "vneid")
    before = dict(plan.result)
    with pytest.raises(plan_review.EditRefused) as refused:
        plan_review.move_visit(
            session, plan, vneid.request.reference, team_code=other, user=dw.coordinator
        )
    assert (
        "thiếu kỹ năng" in refused.value.reasons[0] or "lacks a skill" in refused.value.reasons[0]
    )
    session.rollback()
    session.expire_all()
    assert plan.result == before


def test_a_move_outside_the_window_or_the_shift_is_refused(session, dw):
    plan = solve(session, dw.drive)
    visit = next(v for v in plan.visits if v.team)
    block = dw.drive.blocks[0]
    late = block.ends_at.astimezone(TZ) - timedelta(
        minutes=5
    )  # the service would end after the shift
    with pytest.raises(plan_review.EditRefused) as refused:
        plan_review.move_visit(
            session,
            plan,
            visit.request.reference,
            team_code=visit.team.code,
            user=dw.coordinator,
            start=late,
        )
    assert refused.value.reasons
    session.rollback()
    early = block.starts_at.astimezone(TZ) - timedelta(hours=2)  # before any window opens
    with pytest.raises(plan_review.EditRefused):
        plan_review.move_visit(
            session,
            plan,
            visit.request.reference,
            team_code=visit.team.code,
            user=dw.coordinator,
            start=early,
        )
    session.rollback()


def test_an_accepted_move_is_saved_and_still_checks_clean(session, dw):
    plan = solve(session, dw.drive)
    visit = next(v for v in plan.visits if v.team)
    reference, old_team = visit.request.reference, visit.team.code
    plan_review.move_visit(session, plan, reference, team_code=None, user=dw.coordinator)
    session.commit()
    session.expire_all()
    moved = next(v for v in plan.visits if v.request.reference == reference)
    assert moved.team is None
    assert_valid(plan)
    plan_review.move_visit(session, plan, reference, team_code=old_team, user=dw.coordinator)
    session.commit()
    assert_valid(plan)


def test_two_coordinators_editing_the_same_plan_get_a_conflict(client, session, dw):
    plan = solve(session, dw.drive)
    visit = next(v for v in plan.visits if v.team)
    stale = plan.row_version
    login(client, dw.coordinator.email)
    first = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/move",
        data={"team_code": "", "row_version": str(stale)},
    )
    assert first.status_code == 302
    second = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/pin",
        data={"pinned": "yes", "row_version": str(stale)},
    )
    assert second.status_code == 409


def test_publishing_schedules_visits_and_queues_messages(session, dw):
    plan = solve(session, dw.drive)
    report = publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    assigned = [v for v in plan.visits if v.team]
    assert plan.is_locked and dw.drive.status.value == "published"
    assert report.new == len(assigned)
    assert all(v.status is VisitStatus.SCHEDULED for v in assigned)
    assert all(v.request.status is RequestStatus.SCHEDULED for v in assigned)
    kinds = [m.kind for m in session.scalars(select(Message))]
    # One SMS per volunteer for the day (the drive has one), listing all their visits.
    members = {m.id for v in assigned for m in v.team.members}
    assert kinds.count("day_assignment") == len(members) < len(assigned)
    assert "assignment" not in kinds
    assert kinds.count("household_confirmation") == len(assigned)
    with pytest.raises(planning.PlanningError):
        publishing.publish_plan(session, plan, user=dw.coordinator)


def test_publishing_again_messages_only_what_changed(session, dw):
    first = solve(session, dw.drive)
    publishing.publish_plan(session, first, user=dw.coordinator)
    session.commit()
    # The worker sent them: everyone was told.
    for message in session.scalars(select(Message)):
        message.status = MessageStatus.SENT
    session.commit()
    before = session.scalar(select(db.func.count()).select_from(Message))
    revised = planning.copy_plan(session, first, user=dw.coordinator)
    session.commit()
    moved = next(v for v in revised.visits if v.team)
    its_team = {m.id for m in moved.team.members}
    plan_review.move_visit(
        session, revised, moved.request.reference, team_code=None, user=dw.coordinator
    )
    report = publishing.publish_plan(session, revised, user=dw.coordinator)
    session.commit()
    assert report.cancelled == 1 and report.new == 0 and report.changed == 0
    assert report.unchanged == len([v for v in revised.visits if v.team])
    new_messages = session.scalars(select(Message).order_by(Message.id).offset(before)).all()
    # The household hears of the cancellation; its team, that their day changed.
    assert {m.kind for m in new_messages} == {"day_change", "cancellation_household"}
    assert {m.volunteer_id for m in new_messages if m.kind == "day_change"} == its_team
    assert len([m for m in new_messages if m.kind == "day_change"]) == len(its_team)
    assert {m.request_id or m.volunteer_id for m in new_messages}
    # Carried-over visits keep working links and are still scheduled.
    assert all(v.status is VisitStatus.SCHEDULED for v in revised.visits if v.team)


def test_replanning_after_a_decline_keeps_every_confirmed_visit(session, dw):
    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    assigned = sorted((v for v in plan.visits if v.team), key=lambda v: v.starts_at)
    confirmed = assigned[: len(assigned) // 2]
    for visit in confirmed:
        household_confirm(session, visit)
    declined = assigned[-1]
    decliner = declined.team.members[0]
    volunteer_decline(session, declined, decliner, "Em bị ốm")
    session.commit()
    board = publishing.board(session, dw.drive)
    assert board.needs_replan

    new = publishing.replan_keeping_confirmed(
        session, dw.drive, user=dw.coordinator, tz=TZ, time_limit_s=4
    )
    session.commit()
    planning.run_plan(factory, new.id, workers=1)
    session.expire_all()
    assert_valid(new)
    after = {v.request_id: v for v in new.visits}
    for visit in confirmed:
        kept = after[visit.request_id]
        assert kept.team is not None and kept.team.code == visit.team.code
        assert kept.starts_at == visit.starts_at
    again = after[declined.request_id]
    assert again.team is None or decliner not in again.team.members
    report = publishing.publish_plan(session, new, user=dw.coordinator)
    session.commit()
    assert report.unchanged >= len(confirmed)
    assert not publishing.board(session, dw.drive).pending


def test_comparing_two_versions_lists_what_moved(session, dw):
    first = solve(session, dw.drive)
    second = planning.copy_plan(session, first, user=dw.coordinator)
    session.commit()
    visit = next(v for v in second.visits if v.team)
    plan_review.move_visit(
        session, second, visit.request.reference, team_code=None, user=dw.coordinator
    )
    session.commit()
    comparison = plan_review.compare_plans(first, second, lambda d: d.isoformat())
    assert [m.reference for m in comparison.moved] == [visit.request.reference]


def test_route_sheets_and_exports_show_every_stop(client, session, dw):
    plan = solve(session, dw.drive)
    login(client, dw.coordinator.email)
    sheets = client.get(f"/plans/{plan.id}/sheets").get_data(as_text=True)
    for visit in plan.visits:
        if visit.team:
            assert visit.request.reference in sheets
    assert "<svg" in sheets
    csv_body = client.get(f"/plans/{plan.id}/export.csv").get_data(as_text=True)
    assert csv_body.count("\n") == len(plan.visits) + 1
    xlsx = client.get(f"/plans/{plan.id}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_exports_give_local_days_and_times_in_whole_minutes_and_words(
    client, session, dw, artifacts
):
    import csv
    import io
    from datetime import date, time

    from openpyxl import load_workbook

    plan = solve(session, dw.drive)
    placed = next(v for v in plan.visits if v.team and v.starts_at)
    placed.starts_at = placed.starts_at.replace(second=36, microsecond=171000)
    session.commit()
    local = placed.starts_at.astimezone(TZ)
    login(client, dw.coordinator.email)

    response = client.get(f"/plans/{plan.id}/export.xlsx")
    (artifacts / "plan-export.xlsx").write_bytes(response.data)
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert {"Ngày", "Bắt đầu", "Trạng thái"} <= set(header), header
    row = next(r for r in rows[1:] if placed.request.reference in r)
    day = row[header.index("Ngày")]
    start = row[header.index("Bắt đầu")]
    # Real Excel cells on the drive's clock (UTC+7), to the minute (36 s rounds up).
    assert isinstance(day, date) and day.date() == local.date()  # openpyxl reads a datetime
    assert isinstance(start, time) and start.second == 0 and start.microsecond == 0
    minute = (local.replace(second=0, microsecond=0) + timedelta(minutes=1)).time()
    assert start.replace(tzinfo=None) == minute
    statuses = {r[header.index("Trạng thái")] for r in rows[1:]}
    assert "scheduled" not in statuses and "planned" not in statuses and statuses
    line_no = next(i for i, r in enumerate(rows, start=1) if r is row)
    assert sheet.cell(line_no, header.index("Ngày") + 1).is_date
    assert sheet.cell(line_no, header.index("Bắt đầu") + 1).number_format == "hh:mm"
    with open(artifacts / "plan-export-openpyxl.txt", "w", encoding="utf-8") as out:
        for values in rows:
            out.write(" | ".join("" if v is None else str(v) for v in values) + "\n")

    text = client.get(f"/plans/{plan.id}/export.csv").get_data(as_text=True)
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    line = next(r for r in table if placed.request.reference in r)
    assert line[table[0].index("Ngày")] == local.date().isoformat()
    assert line[table[0].index("Bắt đầu")] == minute.strftime("%H:%M")
    assert "+00:00" not in text and "T0" not in text


def test_the_review_groups_each_team_s_stops_under_their_day(client, session, dw, artifacts):
    import re

    plan = solve(session, dw.drive)
    team = next(v.team for v in plan.visits if v.team)
    stops = sorted((v for v in plan.visits if v.team == team), key=lambda v: v.starts_at)
    sunday = stops[-1]
    sunday.starts_at += timedelta(days=1)
    sunday.ends_at += timedelta(days=1)
    session.commit()
    login(client, dw.coordinator.email)
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    card = page[page.index(f'data-team="{team.code}"') :]
    card = card[: card.index("</section>")]
    days = re.findall(r'class="stops-day" data-day="([0-9-]+)">([^<]+)<', card)
    saturday_day = stops[0].starts_at.astimezone(TZ).date()
    assert [d for d, _ in days] == [
        saturday_day.isoformat(),
        (saturday_day + timedelta(days=1)).isoformat(),
    ]
    assert "Thứ Bảy" in days[0][1] and "Chủ Nhật" in days[1][1], days
    # The moved visit sits under Sunday's heading, the others under Saturday's.
    assert card.index(f"visit-{sunday.request.reference}") > card.index(days[1][0])
    assert card.index(f"visit-{stops[0].request.reference}") < card.index(days[1][0])
    (artifacts / "plan-review-days.html").write_text(page, encoding="utf-8")


def test_the_review_page_and_its_map_data(client, session, dw):
    plan = solve(session, dw.drive)
    login(client, dw.coordinator.email)
    page = client.get(f"/plans/{plan.id}")
    assert page.status_code == 200 and 'id="plan-map"' in page.get_data(as_text=True)
    data = client.get(f"/plans/{plan.id}/map.json").get_json()
    assert sum(len(t["stops"]) for t in data["teams"]) == len([v for v in plan.visits if v.team])


def test_a_web_refusal_shows_the_reason_and_changes_nothing(client, session, dw):
    plan = solve(session, dw.drive)
    visit = next(v for v in plan.visits if v.team)
    login(client, dw.coordinator.email)
    response = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/move",
        data={"team_code": visit.team.code, "start": "03:00", "row_version": str(plan.row_version)},
    )
    assert response.status_code == 422
    assert 'id="edit-refused"' in response.get_data(as_text=True)
    bad = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/move",
        data={"team_code": visit.team.code, "start": "lunch"},
    )
    assert bad.status_code == 422


def test_the_progress_page_and_json(client, session, dw):
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    login(client, dw.coordinator.email)
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "<progress" in page
    data = client.get(f"/plans/{plan.id}/progress.json").get_json()
    assert data["status"] == "queued" and data["visits"] == len(dw.requests)
    assert client.post(f"/plans/{plan.id}/stop").status_code == 302
    session.expire_all()
    assert plan.stop_requested


def test_a_drive_without_teams_cannot_be_planned(session, world):
    with pytest.raises(planning.PlanningError):
        planning.start_plan(session, world.a.drive, user=None, tz=TZ, time_limit_s=4)


def test_messages_of_a_published_plan_wait_in_the_outbox(session, dw):
    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    assert all(m.status is MessageStatus.QUEUED for m in session.scalars(select(Message)))


def test_replanning_the_rest_keeps_the_pinned_visits_with_their_teams(client, session, dw):
    plan = solve(session, dw.drive)
    assigned = sorted((v for v in plan.visits if v.team), key=lambda v: (v.starts_at, v.id))
    assert len(assigned) >= 4
    pins = {v.request.reference: v.team.code for v in assigned[:3]}
    login(client, dw.coordinator.email)
    for reference in pins:
        session.refresh(plan)
        pinned = client.post(
            f"/plans/{plan.id}/visits/{reference}/pin",
            data={"pinned": "yes", "row_version": str(plan.row_version)},
        )
        assert pinned.status_code == 302
    response = client.post(f"/plans/{plan.id}/replan", data={"time_limit_s": "4"})
    assert response.status_code == 302
    session.expire_all()
    new = session.scalars(select(Plan).where(Plan.based_on_id == plan.id)).one()
    assert response.headers["Location"].endswith(f"/plans/{new.id}")
    assert new.status is PlanStatus.QUEUED and new.params["pinned"] == sorted(pins)
    # The planner is told: exactly the pinned visits carry their team in the problem it solves.
    told = {v["id"]: v.get("pinned_team") for v in new.problem["visits"]}
    assert {ref: team for ref, team in told.items() if team} == pins
    assert planning.run_next_plan(factory, workers=1) == new.id
    session.expire_all()
    assert new.status is PlanStatus.DONE
    assert_valid(new)
    after = {v.request.reference: v for v in new.visits}
    for reference, team_code in pins.items():
        kept = after[reference]
        assert kept.team is not None and kept.team.code == team_code
        assert kept.pinned  # and still pinned for the next re-plan
    assert all(not v.pinned for ref, v in after.items() if ref not in pins)
    # The pins changed nothing of the version they came from.
    assert {v.request.reference: v.team.code for v in plan.visits if v.pinned} == pins


def test_a_move_inside_the_shift_but_outside_the_households_window_is_refused(client, session, dw):
    from datetime import datetime

    from volunteer_hub.models import RequestWindow

    block = dw.drive.blocks[0]
    day = block.starts_at.astimezone(TZ).date()
    # Any team can make "scam_safety"; the household is home only from 08:00 to 08:30.
    household = next(r for r in dw.requests if r.services[0].code == "scam_safety")
    eight = datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ)
    household.windows = [RequestWindow(starts_at=eight, ends_at=eight + timedelta(minutes=30))]
    session.commit()
    plan = solve(session, dw.drive)
    visit = next(v for v in plan.visits if v.request_id == household.id)
    assert visit.team is not None and 8 <= visit.starts_at.astimezone(TZ).hour < 9
    before = (dict(plan.result), plan.row_version)
    ten = datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ)
    assert block.starts_at <= ten and ten + timedelta(minutes=30) <= block.ends_at  # in the shift

    login(client, dw.coordinator.email)
    response = client.post(
        f"/plans/{plan.id}/visits/{household.reference}/move",
        data={"team_code": visit.team.code, "start": "10:00", "row_version": str(plan.row_version)},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    refused = page[page.index('id="edit-refused"') :]
    refused = refused[: refused.index("</div>")]
    assert household.reference in refused
    assert "không thể bắt đầu trong khoảng thời gian hộ dân đã chọn" in refused  # the window
    assert "hết ca" not in refused and "vào giờ đã chọn" not in refused  # not the shift, not travel
    session.expire_all()
    assert (plan.result, plan.row_version) == before


def _row(page: str, css_class: str) -> list[str]:
    """The table rows of a class, as text."""
    rows = page.split(f'<tr class="{css_class}">')[1:]
    return [row[: row.index("</tr>")] for row in rows]


def test_the_board_flags_the_drives_failing_numbers_and_held_or_failed_sms(
    client, session, dw, world
):
    from volunteer_hub.phones import national_format
    from volunteer_hub.services.messaging.outbox import queue_message

    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    now = utcnow()
    volunteer = dw.volunteers[0]
    for index in range(3):  # three failures in a row: the number is flagged
        failed = queue_message(
            session,
            key=f"t:fail:{index}",
            kind="broadcast",
            to_phone=volunteer.phone,
            body="Doan TN: mua to",
            drive_id=dw.drive.id,
            volunteer_id=volunteer.id,
        )
        failed.status, failed.error_code = MessageStatus.FAILED, "30003"
        failed.status_updated_at = now
    household = session.scalars(
        select(Message)
        .where(Message.drive_id == dw.drive.id, Message.kind == "household_confirmation")
        .order_by(Message.id)
    ).all()
    held, undelivered = household[0], household[1]
    held.status, held.claimed_at = MessageStatus.HELD, now
    undelivered.status, undelivered.error_code = MessageStatus.UNDELIVERED, "30005"
    undelivered.status_updated_at = now
    # Another drive's problems, in another commune: never on this board.
    stranger = "+84908888888"
    for index in range(3):
        theirs = queue_message(
            session,
            key=f"t:other:{index}",
            kind="broadcast",
            to_phone=stranger,
            body="x",
            drive_id=world.a.drive.id,
        )
        theirs.status, theirs.status_updated_at = MessageStatus.FAILED, now
    other_held = queue_message(
        session,
        key="t:other:held",
        kind="broadcast",
        to_phone=stranger,
        body="x",
        drive_id=world.a.drive.id,
    )
    other_held.status = MessageStatus.HELD
    # The same volunteer's number failed later in another drive: that is not this board's.
    elsewhere = queue_message(
        session,
        key="t:other:same-phone",
        kind="broadcast",
        to_phone=volunteer.phone,
        body="x",
        drive_id=world.a.drive.id,
    )
    elsewhere.status, elsewhere.error_code = MessageStatus.FAILED, "EXT"
    elsewhere.status_updated_at = now + timedelta(minutes=5)
    session.commit()

    login(client, dw.coordinator.email)
    page = client.get(f"/drives/{dw.drive.id}/board").get_data(as_text=True)
    assert 'id="sms"' in page
    failing = _row(page, "failing-number")
    assert len(failing) == 1
    assert volunteer.full_name in failing[0] and national_format(volunteer.phone) in failing[0]
    assert "30003" in failing[0] and "EXT" not in page
    held_rows = _row(page, "held-message")
    reference = next(r.reference for r in dw.requests if r.id == held.request_id)
    assert len(held_rows) == 1
    assert reference in held_rows[0] and f"/messages/{held.id}/decide" in held_rows[0]
    failed_rows = _row(page, "failed-message")
    assert len(failed_rows) == 4 and any("30005" in row for row in failed_rows)
    assert national_format(stranger) not in page and f"/messages/{other_held.id}/" not in page

    # The coordinator settles the held message from the board; only their drive's, only once.
    assert (
        client.post(
            f"/drives/{dw.drive.id}/messages/{other_held.id}/decide", data={"decision": "sent"}
        ).status_code
        == 404
    )
    decide = f"/drives/{dw.drive.id}/messages/{held.id}/decide"
    decided = client.post(decide, data={"decision": "resend"})
    assert decided.status_code == 303 and decided.headers["Location"].endswith("/board#sms")
    session.expire_all()
    assert held.status is MessageStatus.QUEUED and other_held.status is MessageStatus.HELD
    again = client.post(decide, data={"decision": "cancel"}, follow_redirects=True)
    assert "Chỉ những tin nhắn đang bị treo mới cần quyết định." in again.get_data(as_text=True)
    session.expire_all()
    assert held.status is MessageStatus.QUEUED  # a second click changes nothing

    # Another commune's coordinator sees neither the board nor its messages.
    client.post("/logout")
    login(client, world.b.coordinator.email)
    assert client.get(f"/drives/{dw.drive.id}/board").status_code == 404
    assert (
        client.post(
            f"/drives/{dw.drive.id}/messages/{undelivered.id}/decide", data={"decision": "sent"}
        ).status_code
        == 404
    )


def test_planner_workers_claiming_at_once_take_different_plans(session, dw):
    import threading

    queued = [
        planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4).id
        for _ in range(3)
    ]
    session.commit()
    claimed: list[int | None] = []
    start = threading.Barrier(6)
    engine = db.engine  # the threads have no app context

    def claim(name: str) -> None:
        with Session(engine) as own:
            start.wait()
            claimed.append(planning.claim_next_plan(own, name, utcnow()))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(c for c in claimed if c is not None) == sorted(queued)
    assert claimed.count(None) == 3
    session.expire_all()
    workers = {session.get(Plan, i).progress["worker"] for i in queued}
    assert len(workers) == 3  # three plans, three different workers
    assert planning.claim_next_plan(factory(), "late", utcnow()) is None


def test_the_oldest_queued_plan_is_claimed_first(session, dw):
    first = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    assert planning.claim_next_plan(factory(), "w", utcnow()) == first.id


def test_a_refused_move_says_which_teams_have_room_at_that_time(client, session, dw):
    plan = solve(session, dw.drive)
    # Only one team can do VNeID activation: moving such a visit to the other team is refused.
    visit = next(
        v for v in plan.visits if v.team and v.request.services[0].code == "vneid_activate"
    )
    able = visit.team.code
    other = next(t.code for t in dw.drive.teams if t.code != able)
    # The next whole minute: the team can still be there then (it arrives a little before).
    later = (visit.starts_at + timedelta(minutes=1)).astimezone(TZ).replace(second=0, microsecond=0)
    at = later.strftime("%H:%M")
    before = (dict(plan.result), plan.row_version)
    login(client, dw.coordinator.email)
    response = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/move",
        data={"team_code": other, "start": at, "row_version": str(plan.row_version)},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    room = page[page.index('id="teams-with-room"') :]
    room = room[: room.index("</p>")]
    # The team that can (checked at that time by the independent checker), not the refused one.
    assert f": {able}." in room and other not in room, room
    assert "vào giờ đó" in room
    assert plan_review.teams_with_room(plan, visit.request.reference, start=later) == [able]
    # Without a time, the team that already has it is not offered as somewhere else to go.
    untimed = client.post(
        f"/plans/{plan.id}/visits/{visit.request.reference}/move",
        data={"team_code": other, "row_version": str(plan.row_version)},
    ).get_data(as_text=True)
    offered = untimed.split('id="teams-with-room"')[1].split("</p>")[0]
    assert "Không đội nào khác còn chỗ cho lượt này." in offered and able not in offered
    session.expire_all()
    assert (plan.result, plan.row_version) == before


def test_the_board_says_who_declined_and_why_and_tells_namesakes_apart(client, session, dw):
    from volunteer_hub.models import InvitationStatus
    from volunteer_hub.services.drives import teams

    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    declined = next(v for v in plan.visits if v.team)
    decliner = declined.team.members[0]
    namesake = next(v for v in dw.volunteers if v not in declined.team.members)
    decliner.full_name = namesake.full_name = "Nguyễn Văn An"
    volunteer_decline(session, declined, decliner, "Em bị ốm")
    leaving = next(m for m in declined.team.members if m is not decliner)
    teams.set_answer(
        session,
        dw.drive,
        leaving.id,
        InvitationStatus.WITHDRAWN,
        user=dw.coordinator,
        reason="Nhà có việc gấp",
    )
    session.commit()
    login(client, dw.coordinator.email)
    page = client.get(f"/drives/{dw.drive.id}/board").get_data(as_text=True)
    rows = [row[: row.index("</li>")] for row in page.split('<li class="declined">')[1:]]
    short = dw.commune.short_name
    tag = f"Nguyễn Văn An ({short}, …{decliner.phone[-3:]})"
    decline = next(row for row in rows if declined.request.reference in row)
    assert tag in decline and "Em bị ốm" in decline and "đã từ chối" in decline
    drop_out = next(row for row in rows if leaving.full_name in row)
    assert "Nhà có việc gấp" in drop_out
    # The drive's volunteer page tells the two apart as well.
    people = client.get(f"/drives/{dw.drive.id}/volunteers").get_data(as_text=True)
    assert tag in people and f"Nguyễn Văn An ({short}, …{namesake.phone[-3:]})" in people
    assert leaving.full_name + " (" not in people  # a name nobody shares stays as it is


def test_the_progress_text_follows_what_the_planner_is_doing(client, session, dw):
    plan = planning.start_plan(session, dw.drive, user=None, tz=TZ, time_limit_s=4)
    session.commit()
    login(client, dw.coordinator.email)

    def shown() -> tuple[str, str]:
        data = client.get(f"/plans/{plan.id}/progress.json").get_json()
        page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
        line = page[page.index('class="status-line"') :]
        assert data["message"] in line[: line.index("</p>")]  # the page says what the JSON says
        return data["phase"], data["message"]

    assert shown() == ("queued", "Đang chờ bộ lập kế hoạch bắt đầu…")
    assert planning.claim_plan(session, plan.id, "test-worker", utcnow())
    session.expire_all()
    assert shown() == ("starting", "Bộ lập kế hoạch đang dựng kế hoạch đầu tiên…")
    plan.progress = {**plan.progress, "served": 5, "served_priority": 12, "travel_min": 40.0}
    session.commit()
    phase, message = shown()
    assert phase == "improving" and f"5/{len(dw.requests)}" not in message
    assert f"5 trên {len(dw.requests)} lượt" in message
    planning.request_stop(session, plan)
    session.commit()
    assert shown()[0] == "stopping"
    # The page's script copies the message over on every poll (no fixed "waiting" line left).
    script = (Path(__file__).resolve().parents[2] / "volunteer_hub/static/js/plan.js").read_text()
    assert 'data-field="message"' in client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "data-field" in script
