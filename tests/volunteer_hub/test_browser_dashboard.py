"""The dashboard on the demo's completed drives, in a real browser."""

from __future__ import annotations

import pytest

from volunteer_hub.demo.hue import COORDINATOR_EMAIL, seed_demo

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_the_demo_drives_at_a_glance(live_server, chromium, session, artifacts):
    seed_demo(session, password="demo")
    session.commit()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(COORDINATOR_EMAIL)
    page.get_by_label("Mật khẩu").fill("demo")
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Báo cáo").click()
    page.get_by_role("heading", name="Kết quả đạt được").wait_for()
    served = int(page.locator(".tile strong").nth(2).inner_text().replace(".", ""))
    assert served > 0, "the demo's past drives were reported"
    assert page.locator(".chart svg").count() >= 2
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Báo cáo Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    # One past drive: chosen in the form, its own figures, its board one click away.
    drives = page.locator('select[name="drive"]')
    past = [o for o in drives.locator("option").all_inner_texts() if o.strip()][-1]  # the oldest
    drives.select_option(label=past)
    page.get_by_role("button", name="Xem").click()
    page.locator("#drive-scope").wait_for()
    assert "drive=" in page.url
    drive_served = int(page.locator(".tile strong").nth(2).inner_text().replace(".", ""))
    assert 0 < drive_served <= served
    page.screenshot(path=str(artifacts / "dashboard-drive.png"), full_page=True)
    page.locator("#drive-scope").get_by_role("link").click()
    page.get_by_role("heading", name="Trong ngày").wait_for()
    page.locator("#drive-dashboard").wait_for()
    context.close()
