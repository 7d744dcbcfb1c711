"""A coordinator plans a weekend drive in a real browser, from set-up to publishing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests import factories
from volunteer_hub.demo.hue import COORDINATOR_EMAIL, seed_demo
from volunteer_hub.extensions import db
from volunteer_hub.models import Commune, Drive, Message, Plan
from volunteer_hub.services.drives import planning

pytestmark = pytest.mark.browser

#: Records each change of a <progress> bar (value, max) in sessionStorage, which outlives the
#: progress page: the review page can then tell whether the bar reached its end before it.
RECORD_PROGRESS = """
new MutationObserver(function (changes) {
  changes.forEach(function (change) {
    if (change.target.tagName !== "PROGRESS") { return; }
    var seen = JSON.parse(sessionStorage.getItem("vh-progress") || "[]");
    seen.push([Number(change.target.value), Number(change.target.max)]);
    sessionStorage.setItem("vh-progress", JSON.stringify(seen));
  });
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["value", "max"] });
"""


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
                    # As the worker's job runner does: a busy SQLite file ("database is locked"
                    # on a loaded machine) fails this run, and the next one claims the plan.
                    stop.wait(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=60)


def test_a_coordinator_plans_moves_a_visit_to_another_team_and_publishes(
    live_server, chromium, session, artifacts, worker_thread
):
    seed_demo(session, password="demo")
    session.commit()
    thuan_hoa = session.scalars(select(Commune).where(Commune.code == "19789")).one()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    context.add_init_script(RECORD_PROGRESS)
    page = context.new_page()
    page.set_default_timeout(30_000)

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(COORDINATOR_EMAIL)
    page.get_by_label("Mật khẩu").fill("demo")
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_text("Xin chào").wait_for()

    # 1. Set up the drive.
    page.goto(f"{live_server}/drives/new")
    page.locator("#name").fill("Chủ nhật số — thử nghiệm")
    page.get_by_label(thuan_hoa.name, exact=True).check()
    day = factories.next_saturday().isoformat()
    page.locator('input[name="block_day"]').first.fill(day)
    page.locator('input[name="block_start"]').first.fill("07:30")
    page.locator('input[name="block_end"]').first.fill("11:00")
    page.locator('input[name="point_name"]').first.fill("Nhà văn hóa")
    page.locator('input[name="point_lat"]').first.fill("16.457")
    page.locator('input[name="point_lng"]').first.fill("107.583")
    page.get_by_role("button", name="Lưu").click()
    page.get_by_text("Yêu cầu trong đợt").first.wait_for()

    # 2. Include the open requests of the first page (the most urgent first).
    for box in page.locator('input[name="request_ids"]').all()[:24]:
        box.check()
    page.get_by_role("button", name="Đưa vào đợt").click()
    page.get_by_text("yêu cầu đã được cập nhật").first.wait_for()

    drive = session.scalars(select(Drive).where(Drive.name == "Chủ nhật số — thử nghiệm")).one()

    # 3. Invite the volunteers, record their answers, form the teams.
    page.goto(f"{live_server}/drives/{drive.id}/volunteers")
    boxes = page.locator('input[name="volunteer_ids"]').all()
    assert len(boxes) >= 4, "the demo has volunteers free on Saturday mornings"
    for box in boxes[:8]:
        box.check()
    page.get_by_role("button", name="Mời những người đã chọn").click()
    while page.get_by_role("button", name="Đã nhận lời").count():
        page.get_by_role("button", name="Đã nhận lời").first.click()
        page.wait_for_load_state("load")
    page.get_by_role("button", name="Tự động lập đội").click()
    page.get_by_text("đội đã được lập").first.wait_for()

    # 4. Plan, with the progress bar running to the end.
    page.goto(f"{live_server}/drives/{drive.id}")
    page.get_by_label("Tìm kiếm trong").select_option("15")
    page.get_by_role("button", name="Lập kế hoạch", exact=True).click()
    page.locator("progress").wait_for()
    page.screenshot(path=str(artifacts / "plan-progress.png"))
    page.locator("#plan-map").wait_for(timeout=90_000)
    # The bar reached its end before the review page replaced the progress page.
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('vh-progress') || '[]')")
    assert seen, "the progress bar never moved"
    value, maximum = seen[-1]
    assert maximum > 0 and value == maximum, seen
    page.locator("#plan-map .leaflet-interactive").first.wait_for()
    page.screenshot(path=str(artifacts / "plan-map.png"), full_page=False)

    # 5. Move a visit to another team, by hand. Demo teams are often full (visits per team,
    # shift end): such moves are refused with the reason, so try the others, the emptiest
    # teams first, and make room in one team if every direct move is refused.
    review = page.url

    def layout() -> dict[str, list[str]]:
        cards = page.locator("section.team-card")
        teams = cards.evaluate_all("cards => cards.map(card => card.dataset.team)")
        return {
            team: [
                item.get_attribute("id").removeprefix("visit-")
                for item in page.locator(
                    f'section.team-card[data-team="{team}"] ol.stops > li'
                ).all()
            ]
            for team in teams
        }

    def move(reference: str, target: str) -> bool:
        item = page.locator(f"#visit-{reference}")
        item.locator("summary").click()
        item.locator('select[name="team_code"]').select_option(target)
        item.get_by_role("button", name="Chuyển").click()
        page.wait_for_load_state("load")
        return page.locator("#edit-refused").count() == 0

    def first_possible_move() -> tuple[str, str, str] | None:
        stops = layout()
        for target in sorted(stops, key=lambda team: len(stops[team])):
            for home, references in stops.items():
                for reference in references if home != target else ():
                    if move(reference, target):
                        return reference, home, target
        return None

    assert len(layout()) >= 2
    moved = first_possible_move()
    if moved is None:
        busy = [references for references in layout().values() if references]
        assert move(min(busy, key=len)[-1], ""), "unassigning is always allowed"
        page.goto(review)
        moved = first_possible_move()
    assert moved, "no visit of the demo could move to another team"
    reference, home, target = moved
    page.get_by_text("Đã lưu.").wait_for()
    assert page.locator(f'section.team-card[data-team="{target}"] #visit-{reference}').count() == 1
    assert page.locator(f'section.team-card[data-team="{home}"] #visit-{reference}').count() == 0
    session.expire_all()
    plan = session.scalars(select(Plan).where(Plan.drive_id == drive.id)).one()
    assert next(v.team.code for v in plan.visits if v.request.reference == reference) == target

    # 6. Publish: the page first says what will be sent, then sends it.
    page.get_by_role("link", name="Công bố…").click()
    page.locator("#publish-summary").wait_for()
    assert "tin nhắn SMS" in page.locator("#publish-summary").inner_text()
    page.screenshot(path=str(artifacts / "publish-preview.png"), full_page=True)
    page.get_by_role("button", name="Công bố và gửi tin nhắn").click()
    page.get_by_text("Đã công bố").first.wait_for()
    session.expire_all()
    plan = session.scalars(select(Plan).where(Plan.drive_id == drive.id)).one()
    assert plan.is_locked
    assert session.scalars(select(Message).where(Message.drive_id == drive.id)).first() is not None

    # 7. A route sheet to print.
    page.goto(f"{live_server}/plans/{plan.id}/sheets")
    page.locator("article.sheet").first.wait_for()
    page.screenshot(path=str(artifacts / "route-sheet.png"), full_page=True)
    context.close()
