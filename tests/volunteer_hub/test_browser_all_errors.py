"""The sign-up form on a phone shows every wrong field at once, beside each field, with what
was typed kept (issue 14, item 4)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from volunteer_hub.models import Volunteer

pytestmark = pytest.mark.browser


def test_a_minor_s_sign_up_with_several_mistakes_shows_them_all_at_once(
    live_server, phone_390, world, session, artifacts
):
    page = phone_390
    before = session.scalar(select(func.count()).select_from(Volunteer))
    page.goto(f"{live_server}/volunteer")
    guardian = page.locator("[data-minor-only]")
    assert guardian.is_visible()  # shown while the date of birth is unknown
    assert guardian.get_by_text("(bắt buộc nếu dưới 18 tuổi)").count() == 3
    assert guardian.get_by_text("không bắt buộc").count() == 0

    page.get_by_label("Họ và tên").fill("")
    page.get_by_label("Số điện thoại di động", exact=True).fill("0234 3822 456")  # a landline
    today = date.today()
    page.get_by_label("Ngày sinh").fill(str(today.replace(year=today.year - 16, day=1)))
    assert guardian.is_visible()
    page.get_by_label("Họ tên cha mẹ hoặc người giám hộ").fill("Lê Văn Hùng")
    page.get_by_label("Số di động của cha mẹ hoặc người giám hộ").fill("0905 12")
    page.get_by_role("button", name="Đăng ký").click()

    page.locator("#form-errors").wait_for()
    for field in ("full_name", "phone", "guardian_phone", "guardian_consent", "commune"):
        assert page.locator(f"#{field}-error").is_visible(), field
    assert "di động" in page.locator("#phone-error").inner_text()
    assert "nhận tin nhắn" in page.locator("#guardian_phone-error").inner_text()
    # What was typed is still there.
    assert page.get_by_label("Số điện thoại di động", exact=True).input_value() == "0234 3822 456"
    assert page.get_by_label("Họ tên cha mẹ hoặc người giám hộ").input_value() == "Lê Văn Hùng"
    page.screenshot(path=str(artifacts / "volunteer-form-all-errors.png"), full_page=True)
    page.locator("#guardian_name").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "volunteer-form-guardian-errors.png"))
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Volunteer)) == before
