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


@pytest.mark.parametrize(
    "width,height,drawing", [(390, 844, "chart-narrow"), (1280, 900, "chart-wide")]
)
def test_the_charts_fit_the_page_and_their_titles_are_never_cut_off(
    live_server, chromium, session, artifacts, width, height, drawing
):
    seed_demo(session, password="demo")
    session.commit()
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{live_server}/login?lang=vi")
    page.get_by_label("Email").fill(COORDINATOR_EMAIL)
    page.get_by_label("Mật khẩu").fill("demo")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    for lang in ("vi", "en"):
        page.goto(f"{live_server}/reports?lang={lang}")
        page.locator("#trend svg").first.wait_for(state="attached")
        shown = page.evaluate(
            """() => [...document.querySelectorAll('.chart svg')]
                .filter(s => s.getBoundingClientRect().width > 0)
                .map(s => {
                    const r = s.getBoundingClientRect();
                    const box = s.closest('section').getBoundingClientRect();
                    return {cls: s.getAttribute('class'), left: r.left, right: r.right,
                            boxLeft: box.left, boxRight: box.right, width: r.width};
                })"""
        )
        # Served and people over time, the services, three commune figures and the SMS.
        assert len(shown) >= 7, shown
        assert {s["cls"] for s in shown} == {drawing}  # the drawing made for this width
        for s in shown:
            assert s["boxLeft"] <= s["left"] and s["right"] <= s["boxRight"] + 0.5, s
        # A single chart spans its card; small multiples at least a third of it.
        assert max(s["width"] for s in shown) >= 0.9 * (
            shown[0]["boxRight"] - shown[0]["boxLeft"] - 48
        )
        # Titles wrap inside their box: none is wider than it, none is cut.
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('.chart figcaption')]
                .filter(c => c.getBoundingClientRect().width > 0)
                .filter(c => {
                    const edge = c.closest('section').getBoundingClientRect().right;
                    return c.scrollWidth > c.clientWidth + 1
                        || c.getBoundingClientRect().right > edge + 0.5;
                })
                .map(c => c.textContent)"""
        )
        assert clipped == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"reports-{lang}-{width}.png"), full_page=True)
    context.close()


def test_on_a_phone_every_figure_of_a_table_says_what_it_counts(
    live_server, phone_390, session, artifacts
):
    """On a phone the tables become cards without their header row: each cell carries its
    column's name (the communes' table of the report, in Vietnamese)."""
    seed_demo(session, password="demo")
    session.commit()
    page = phone_390
    page.goto(f"{live_server}/login?lang=vi")
    page.get_by_label("Email").fill(COORDINATOR_EMAIL)
    page.get_by_label("Mật khẩu").fill("demo")
    page.get_by_role("button", name="Đăng nhập").click()
    page.goto(f"{live_server}/reports")
    page.get_by_role("heading", name="Kết quả đạt được").wait_for()
    table = page.locator("table.table").filter(has_text="Phường Thuận Hóa").first
    row = table.locator("tbody tr").filter(has_text="Phường Thuận Hóa").first
    assert not table.locator("thead").is_visible(), "the header row is hidden on a phone"
    headers = [t.strip() for t in table.locator("thead th").all_inner_texts()]
    cells = row.locator("td")
    labels = [
        cells.nth(i).evaluate("c => getComputedStyle(c, '::before').content")
        for i in range(cells.count())
    ]
    assert labels[0] in ("none", "normal", '""'), "the row's name needs no label"
    for header, label in zip(headers[1:], labels[1:], strict=True):
        assert label == f'"{header}: "', (header, label)
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "report-table-phone.png"), full_page=False)
