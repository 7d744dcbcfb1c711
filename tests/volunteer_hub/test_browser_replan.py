"""Re-planning after a published plan went out, in a real browser (issue 14).

A volunteer declines on her phone ("I cannot come on this day"); the coordinator opens the
live board on a laptop, re-plans with one click, compares the new version with the published
one, reads the publish preview and publishes. Every household already told keeps its visit
(same team, within half an hour) unless the preview names it with a reason; a visit taken out
by hand stays out; the volunteer who declined and her partner get nothing new that day; the
preview's counts are the SMS publishing queues. And the plan's Excel export, opened with
openpyxl, holds the local days and times as real date and time cells.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests import factories
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    AvailabilitySlot,
    Message,
    MessageStatus,
    Plan,
    TimeBlock,
    Visit,
    VisitStatus,
    VolunteerAvailability,
)
from volunteer_hub.services.drives import plan_review, planning, publishing
from volunteer_hub.services.messaging import links

# The one-click re-plan on the board plans with PLAN_TIME_LIMIT_S: keep it at the least the
# forms allow (3 s), so the walk takes seconds, not the production half minute.
pytestmark = [pytest.mark.browser, pytest.mark.app_config(PLAN_TIME_LIMIT_S=3)]

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOTE = "Em bị sốt, không đi được"
#: "Told" households keep their team within this much of their time.
ABOUT = timedelta(minutes=30)


@pytest.fixture
def worker_thread(app):  # type: ignore[no-untyped-def]
    """Stand in for `volunteer-hub worker`: run queued plans as they appear."""
    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    if planning.run_next_plan(lambda: Session(db.engine), workers=1) is None:
                        stop.wait(0.3)
                except OperationalError:
                    stop.wait(0.3)  # a busy SQLite file: the next round claims the plan

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=60)


def _day(visit: Visit) -> date:
    return visit.starts_at.astimezone(TZ).date()


@pytest.fixture
def told(session):  # type: ignore[no-untyped-def]
    """A published two-day plan whose SMS went out; one visit was taken out of it by hand.

    Saturday and Sunday mornings, two pairs free on both, twelve households.
    """
    world = factories.drive_world(session, households=12)
    saturday = world.drive.blocks[0]
    world.drive.blocks.append(
        TimeBlock(
            starts_at=saturday.starts_at + timedelta(days=1),
            ends_at=saturday.ends_at + timedelta(days=1),
        )
    )
    for volunteer in world.volunteers:
        volunteer.availability.append(VolunteerAvailability(slot=AvailabilitySlot.SUN_MORNING))
    session.commit()
    first = planning.start_plan(
        session, world.drive, user=None, tz=TZ, time_limit_s=3, solution_limit=200
    )
    session.commit()
    assert planning.run_plan(lambda: Session(db.engine), first.id, workers=1)
    session.expire_all()
    # The coordinator took the latest visit out by hand before publishing.
    plan = planning.copy_plan(session, session.get(Plan, first.id), user=world.coordinator)
    session.commit()
    out = max((v for v in plan.visits if v.team), key=lambda v: v.starts_at).request.reference
    plan_review.move_visit(session, plan, out, team_code=None, user=world.coordinator)
    session.commit()
    publishing.publish_plan(session, plan, user=world.coordinator)
    session.commit()
    return SimpleNamespace(world=world, drive=world.drive, plan=plan, out=out)


@pytest.fixture
def laptop(chromium):  # type: ignore[no-untyped-def]
    """The coordinator's laptop, in Vietnamese."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _sign_in(page, live_server: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(factories.PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_text("Xin chào").wait_for()


def _minute(moment: datetime) -> datetime:
    """The drive's local clock to the nearest minute, as the export writes it."""
    return (moment.astimezone(TZ) + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def test_a_decline_then_one_click_replan_keeps_every_told_household(  # type: ignore[no-untyped-def]
    live_server, chromium, phone_page, laptop, session, told, artifacts, worker_thread
):
    drive, published = told.drive, told.plan
    told_refs = planning.told_references(session, drive)
    before = {
        v.request.reference: (v.team.code, v.starts_at, {m.id for m in v.team.members})
        for v in published.visits
        if v.team is not None and v.request.reference in told_refs
    }
    assert told.out not in told_refs, "the visit taken out by hand was never announced"
    day_off = min(_day(v) for v in published.visits if v.team)
    team = next(
        t
        for t in drive.teams
        if sum(1 for v in published.visits if v.team is t and _day(v) == day_off) >= 2
    )
    decliner, partners = team.members[0], [m for m in team.members[1:]]
    hers = sorted(
        (v for v in published.visits if v.team is team and _day(v) == day_off),
        key=lambda v: v.starts_at,
    )
    # She opens the day link of her SMS of the day (its code is shown once, so the test makes
    # her one more, as each SMS does): all her visits of the day, each with its answers.
    assert (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.kind == "day_assignment", Message.volunteer_id == decliner.id)
        )
        == 1
    )
    code = links.issue_day_link(session, drive=drive, volunteer_id=decliner.id, day=day_off).code
    session.commit()

    # 1. On her phone, from the link in her SMS: "I cannot come at all on this day".
    phone_page.goto(f"{live_server}/s/{code}")
    card = phone_page.locator(f"#visit-{hers[0].id}")
    card.locator("summary").click()
    card.locator(f"#note-decline-{hers[0].id}").fill(NOTE)
    card.locator('input[name="scope"][value="day"]').check()
    phone_page.screenshot(path=str(artifacts / "link-decline-phone.png"), full_page=True)
    card.get_by_role("button", name="Từ chối").click()
    phone_page.get_by_text("Điều phối viên sẽ tìm người khác").wait_for()
    session.expire_all()
    assert all(session.get(Visit, v.id).status is VisitStatus.DECLINED for v in hers)
    assert decliner.is_away_on(day_off)

    # 2. The coordinator's live board says who cannot come, and why; one click re-plans.
    _sign_in(laptop, live_server, told.world.coordinator.email)
    laptop.goto(f"{live_server}/drives/{drive.id}/board")
    alert = laptop.locator("section.attention", has_text="Có người không thể tham gia")
    assert NOTE in alert.inner_text()
    alert.get_by_role("button", name="Lập lại kế hoạch").click()
    laptop.locator("#plan-map").wait_for(timeout=90_000)
    session.expire_all()
    new = session.scalars(
        select(Plan).where(Plan.drive_id == drive.id).order_by(Plan.version.desc())
    ).first()
    assert new.based_on_id == published.id and not new.is_locked
    assert laptop.url.endswith(f"/plans/{new.id}")
    # The review groups each team's stops by day. Her team, away on one day and with room
    # left, is given the other: both days of the drive show.
    days = set(laptop.locator("h3.stops-day").evaluate_all("hs => hs.map(h => h.dataset.day)"))
    drive_days = {b.starts_at.astimezone(TZ).date().isoformat() for b in drive.blocks}
    assert len(drive_days) == 2 and days == drive_days
    laptop.screenshot(path=str(artifacts / "review-days.png"), full_page=True)
    review = laptop.url

    # What the new version does, checked in the database before any SMS.
    after = {v.request.reference: v for v in new.visits}
    assert days == {_day(v).isoformat() for v in new.visits if v.team}
    assert not [v for v in new.visits if v.team is team and _day(v) == day_off], (
        "her team got something on the day she cannot come"
    )
    assert after[told.out].team is None, "the visit taken out by hand came back"
    left = laptop.locator(f"#visit-{told.out}").inner_text()
    assert "điều phối viên đã bỏ ra khỏi kế hoạch" in left, left
    kept = {
        ref
        for ref, (code_, starts, _members) in before.items()
        if after[ref].team is not None
        and after[ref].team.code == code_
        and abs(after[ref].starts_at - starts) <= ABOUT
    }
    # Every told household keeps a visit: here none has to go. Those of her day keep her
    # team on the other day (a day off refuses no household); the others keep their team
    # at about their time.
    assert not [ref for ref in before if after[ref].team is None], "a told household lost it"
    assert set(before) - kept == {v.request.reference for v in hers}

    # 3. Compare with the published version.
    laptop.locator('select[name="with"]').select_option(str(published.id))
    laptop.get_by_role("button", name="So sánh", exact=True).click()
    laptop.get_by_role(
        "heading", name=f"Phiên bản {published.version} và phiên bản {new.version}"
    ).wait_for()
    moved = set(laptop.locator("table").nth(1).locator("tbody tr td:first-child").all_inner_texts())
    for v in hers:
        assert v.request.reference in moved, "the compare page shows what her day off moved"
    laptop.screenshot(path=str(artifacts / "replan-compare.png"), full_page=True)

    # 4. The publish preview: what goes out, and every told household that does not keep
    # its visit, with the reason, before anything is sent.
    laptop.goto(review)
    laptop.get_by_role("link", name="Công bố…").click()
    summary = laptop.locator("#publish-summary").inner_text()
    n, people, new_count, changed, cancelled = _numbers(summary)[:5]
    rows = laptop.locator("#told-changes tbody tr").all()
    named = {
        row.locator("td").first.inner_text().split(" · ")[0]: row.locator("td").last.inner_text()
        for row in rows
    }
    dropped = {
        row.locator("td").first.inner_text().split(" · ")[0]
        for row in rows
        if row.locator("td").nth(2).inner_text().strip() == "đã hủy"
    }
    # Each told household the version drops counts as a cancellation (all were told here).
    assert cancelled == len(dropped)
    laptop.screenshot(path=str(artifacts / "publish-preview.png"), full_page=True)
    for ref in before:
        if ref not in kept:
            assert named.get(ref, "").strip(), f"{ref} loses its visit without a reason shown"
    for v in hers:
        assert f"{decliner.full_name} không thể đến vào ngày đó" in named[v.request.reference]
    assert told.out not in named
    # ...and names none that keeps its people at the same time.
    for ref in named:
        assert ref in before, ref
        same_people = after[ref].team is not None and before[ref][2] == {
            m.id for m in after[ref].team.members
        }
        assert not (
            same_people and abs(after[ref].starts_at - before[ref][1]) <= publishing.SAME_TIME
        ), ref
    # Nothing was queued by looking.
    session.expire_all()
    last = session.scalar(select(func.max(Message.id)))
    assert session.get(Plan, new.id).published_at is None

    # 5. Publish; the preview's counts are what was queued.
    laptop.get_by_role("button", name="Công bố và gửi tin nhắn").click()
    flash = laptop.locator(".flash", has_text="Đã công bố").inner_text()
    session.expire_all()
    queued = session.scalars(
        select(Message).where(Message.id > last, Message.status == MessageStatus.QUEUED)
    ).all()
    assert n == len(queued) and people == len({q.to_phone for q in queued})
    f_new, f_changed, _same, f_cancelled, f_messages = _numbers(flash)[:5]
    assert (new_count, changed, cancelled, n) == (f_new, f_changed, f_cancelled, f_messages)
    assert session.get(Plan, new.id).is_locked

    # Told households: every one kept, or named in the preview (hers on her day off are).
    for ref in before:
        assert ref in kept or ref in named, ref
    assert len(kept) >= len(before) - len(named)
    # Her and her partner: nothing new on her day off, only the word that it is off.
    pair = {decliner.id} | {p.id for p in partners}
    for message in queued:
        if message.volunteer_id in pair and message.visit_id is not None:
            visit = session.get(Visit, message.visit_id)
            assert message.kind.startswith("cancellation") or _day(visit) != day_off, (
                message.kind,
                visit.request.reference,
            )
    # A told household whose visit had to go is told it is off (the preview said so).
    for ref in dropped:
        assert [
            q
            for q in queued
            if q.request_id == after[ref].request_id and q.kind == "cancellation_household"
        ], f"{ref} was told of a visit, and is not told it is off"
    # The household taken out by hand hears nothing.
    out_request = after[told.out].request_id
    assert not [q for q in queued if q.request_id == out_request and q.volunteer_id is None]


def test_the_excel_export_holds_local_days_and_times_as_date_cells(  # type: ignore[no-untyped-def]
    live_server, laptop, session, told, artifacts
):
    plan = told.plan
    _sign_in(laptop, live_server, told.world.coordinator.email)
    laptop.goto(f"{live_server}/plans/{plan.id}")
    with laptop.expect_download() as info:
        laptop.get_by_role("link", name="Excel", exact=True).click()
    download = info.value
    assert download.suggested_filename == f"ke-hoach-{plan.drive_id}-v{plan.version}.xlsx"
    kept = artifacts / "plan-export-download.xlsx"
    download.save_as(str(kept))

    sheet = load_workbook(kept).active
    header = [c.value for c in sheet[1]]
    day_col, start_col, end_col, code_col = (
        header.index(h) for h in ("Ngày", "Bắt đầu", "Kết thúc", "Mã")
    )
    rows = {row[code_col].value: row for row in sheet.iter_rows(min_row=2)}
    planned = [v for v in plan.visits if v.starts_at is not None]
    assert planned and len(rows) == len(plan.visits)
    for visit in planned:
        row = rows[visit.request.reference]
        local = _minute(visit.starts_at)
        end = _minute(visit.ends_at)
        day, start, finish = row[day_col], row[start_col], row[end_col]
        assert day.is_date and start.is_date and finish.is_date
        assert isinstance(day.value, datetime) and day.value.date() == local.date()
        assert isinstance(start.value, time) and isinstance(finish.value, time)
        assert (start.value.hour, start.value.minute) == (local.hour, local.minute)
        assert (finish.value.hour, finish.value.minute) == (end.hour, end.minute)
        assert day.number_format == "dd/mm/yyyy" and start.number_format == "hh:mm"
    # The visit taken out by hand has no time, and says why.
    out = rows[told.out]
    assert out[start_col].value is None
    assert out[header.index("Lý do chưa xếp")].value == "điều phối viên đã bỏ ra khỏi kế hoạch"
