"""A coordinator uploads a large file on a phone and follows its import to the result."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD
from volunteer_hub import jobs
from volunteer_hub.models import HelpRequest, ImportJob, ImportStatus

pytestmark = pytest.mark.browser


def overflow(page) -> int:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.app_config(IMPORT_SYNC_MAX_ROWS=3)
def test_the_progress_page_follows_the_worker_then_shows_the_rows_to_fix(
    live_server, phone_390, app, world, session, artifacts
):
    page = phone_390
    code = world.a.commune.code
    lines = ["beneficiary_name,phone,commune,services,consent"]
    lines += [f"Bà Nhập {n:02d},0913 {n:03d} {n:03d},{code},vneid_install,yes" for n in range(12)]
    lines += [f"Ông Sai Số,12,{code},vneid_install,yes"]
    csv_path = artifacts / "import-lon.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shots = artifacts / "imports"
    shots.mkdir(exist_ok=True)

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(world.a.coordinator.email)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_text("Xin chào").wait_for()

    page.goto(f"{live_server}/requests/import")
    page.locator("#file").set_input_files(str(csv_path))
    page.get_by_role("button", name="Nhập dữ liệu", exact=True).click()
    page.wait_for_url("**/imports/*")
    page.get_by_text("Đang chờ hệ thống bắt đầu nhập").wait_for()
    assert overflow(page) <= 0
    page.screenshot(path=str(shots / "progress-390.png"), full_page=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(HelpRequest)) == 2  # the world's

    # The worker runs it; the page, polling, turns into the result by itself.
    jobs.run_imports(app)
    page.get_by_text("1 dòng cần sửa").wait_for()
    page.get_by_text("Đã xong.").wait_for()
    assert page.locator("progress").evaluate("bar => [bar.value, bar.max]") == [13, 13]
    assert page.locator("table td").first.inner_text() == "Dòng 14"  # the bad row, named on a phone
    assert overflow(page) <= 0
    page.screenshot(path=str(shots / "result-390.png"), full_page=True)
    session.expire_all()
    job = session.scalars(select(ImportJob)).one()
    assert job.status is ImportStatus.DONE and job.rows_imported == 12
