"""Both public forms, filled in Vietnamese in a real browser on a phone-sized screen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.fakes import real_text
from volunteer_hub.models import HelpRequest, Message, Volunteer

pytestmark = pytest.mark.browser


def test_a_household_asks_for_help_and_corrects_a_wrong_phone(
    live_server, phone_page, world, session, artifacts
):
    page = phone_page
    page.goto(f"{live_server}/request")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.get_by_label("Họ và tên").fill("Nguyễn Thị Hoa")
    page.get_by_label("Từ 75 tuổi trở lên").check()
    page.get_by_label("Người cao tuổi sống một mình").check()
    # Asking for someone else reveals the asker's fields (JavaScript enhancement).
    assert page.get_by_label("Họ tên của bạn").is_hidden()
    page.get_by_label("Không, tôi gửi giúp người khác").check()
    page.get_by_label("Họ tên của bạn").fill("Trần Minh Anh")
    page.get_by_label("Số điện thoại").fill("0912 34")
    page.get_by_label("Xã, phường", exact=True).select_option(world.a.commune.code)
    page.locator("#hamlet_id").select_option(str(world.a.hamlet.id))
    page.get_by_label("Số nhà, kiệt/hẻm, đường").fill("12 kiệt 45 Lê Lợi")
    page.get_by_label("Kích hoạt tài khoản định danh điện tử mức 2").check()
    page.get_by_label("Tôi đồng ý cho sử dụng thông tin này để sắp xếp buổi hỗ trợ.").check()
    page.get_by_role("button", name="Gửi yêu cầu").click()

    error = page.locator("#phone-error")
    error.wait_for()
    assert "không đúng định dạng" in error.inner_text()
    assert page.get_by_label("Họ và tên").input_value() == "Nguyễn Thị Hoa"
    assert page.get_by_label("Số nhà, kiệt/hẻm, đường").input_value() == "12 kiệt 45 Lê Lợi"
    page.screenshot(path=str(artifacts / "request-form-phone-error.png"), full_page=True)

    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_role("button", name="Gửi yêu cầu").click()
    page.get_by_text("Cảm ơn bạn, chúng tôi đã nhận được yêu cầu").wait_for()
    reference = page.locator(".reference").inner_text().replace(" ", "")
    page.screenshot(path=str(artifacts / "request-form-thanks.png"), full_page=True)

    session.expire_all()
    record = session.scalars(select(HelpRequest).where(HelpRequest.reference == reference)).one()
    assert record.phone == "+84912345678"
    assert record.contact_name == "Trần Minh Anh"
    assert record.status.value == "new"


def test_a_volunteer_signs_up_corrects_the_phone_and_enters_the_sms_code(
    live_server, phone_page, world, session, artifacts
):
    page = phone_page
    page.goto(f"{live_server}/volunteer")
    page.get_by_label("Họ và tên").fill("Lê Minh Khôi")
    page.get_by_label("Số điện thoại di động").fill("0234 3822 456")  # a landline
    page.get_by_label("Sinh viên tình nguyện").check()
    page.get_by_label("Ngày sinh").fill("2004-09-02")
    page.get_by_label("Xã, phường", exact=True).select_option(world.a.commune.code)
    page.get_by_label("Xe đạp").check()
    page.get_by_label("VNeID (định danh điện tử)").select_option("3")
    page.get_by_label("Sáng thứ Bảy").check()
    page.get_by_label("Tôi đồng ý cho sử dụng thông tin này để lập kế hoạch hỗ trợ.").check()
    page.get_by_role("button", name="Đăng ký").click()

    page.locator("#phone-error").wait_for()
    assert "số di động Việt Nam" in page.locator("#phone-error").inner_text()
    assert page.get_by_label("Họ và tên").input_value() == "Lê Minh Khôi"
    page.screenshot(path=str(artifacts / "volunteer-form-phone-error.png"), full_page=True)

    page.get_by_label("Số điện thoại di động").fill("0987 654 321")
    page.get_by_role("button", name="Đăng ký").click()
    page.get_by_text("Kiểm tra điện thoại").first.wait_for()

    session.expire_all()
    message = session.scalars(
        select(Message).where(Message.to_phone == "+84987654321", Message.kind == "phone_code")
    ).one()
    code = re.search(r"\b(\d{6})\b", real_text(message)).group(1)
    page.get_by_label("Mã").fill(code)
    page.get_by_role("button", name="Xác nhận").click()
    page.get_by_text("Cảm ơn bạn đã đăng ký").wait_for()
    page.screenshot(path=str(artifacts / "volunteer-form-thanks.png"), full_page=True)

    session.expire_all()
    volunteer = session.scalars(select(Volunteer).where(Volunteer.phone == "+84987654321")).one()
    assert volunteer.phone_verified_at is not None
    assert volunteer.travel_mode.value == "bicycle"


def test_the_request_form_is_light_enough_for_a_3g_phone(live_server, phone_page, world):
    sizes: list[int] = []
    phone_page.on("response", lambda r: sizes.append(len(r.body())) if r.ok else None)
    phone_page.goto(f"{live_server}/request")
    phone_page.wait_for_load_state("load")
    # HTML, CSS and the small enhancement script; Leaflet loads only if the map is opened.
    assert sum(sizes) < 80_000, sizes


def test_the_request_form_works_with_javascript_off(
    live_server, chromium, world, session, artifacts
):
    context = chromium.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        locale="vi-VN",
        java_script_enabled=False,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server}/request")
        page.get_by_label("Họ và tên").fill("Phan Văn Tư")
        page.get_by_label("Từ 75 tuổi trở lên").check()
        # Without the script the asker's fields simply stay on the page; they are optional.
        page.get_by_label("Có, cho chính tôi").check()
        page.get_by_label("Số điện thoại").fill("0912 000 111")
        page.get_by_label("Xã, phường", exact=True).select_option(world.a.commune.code)
        page.get_by_label("Số nhà, kiệt/hẻm, đường").fill("3 kiệt 7 Chi Lăng")
        page.get_by_label("Phòng tránh lừa đảo qua điện thoại, đường link giả").check()
        page.get_by_label("Tôi đồng ý cho sử dụng thông tin này để sắp xếp buổi hỗ trợ.").check()
        page.get_by_role("button", name="Gửi yêu cầu").click()
        page.get_by_text("Cảm ơn bạn, chúng tôi đã nhận được yêu cầu").wait_for()
        page.screenshot(path=str(artifacts / "request-form-no-javascript.png"), full_page=True)
        reference = page.locator(".reference").inner_text().replace(" ", "")
    finally:
        context.close()
    session.expire_all()
    record = session.scalars(select(HelpRequest).where(HelpRequest.reference == reference)).one()
    assert record.beneficiary_name == "Phan Văn Tư" and record.phone == "+84912000111"
