"""The public help-request form: what it accepts, what it refuses, and how it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from volunteer_hub.models import (
    AuditEvent,
    HelpRequest,
    LocationSource,
    RequestSource,
    RequestStatus,
)
from volunteer_hub.services.intake.help_requests import (
    REFERENCE_ALPHABET,
    parse_request,
    submit_request,
)


def form(world, **changes):  # type: ignore[no-untyped-def]
    """A valid request form post for commune A, with changes applied."""
    data = {
        "beneficiary_name": "Nguyễn Thị Hoa",
        "age_group": "75_plus",
        "situations": ["elderly_alone"],
        "people_count": "1",
        "contact_is_beneficiary": "no",
        "contact_name": "Trần Minh Anh",
        "contact_relation": "cháu",
        "phone": "0912 345 678",
        "commune": world.a.commune.code,
        "hamlet_id": str(world.a.hamlet.id),
        "house": "12 kiệt 45 Lê Lợi",
        "landmark": "gần chợ",
        "services": ["vneid_activate", "scam_safety"],
        "notes": "Bà nghe kém.",
        "consent": "yes",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(HelpRequest))


def test_the_form_is_in_vietnamese_with_communes_and_services(client, world):
    body = client.get("/request").get_data(as_text=True)
    assert (
        "Yêu cầu hỗ trợ tại nhà" in body
        or "Đề nghị hỗ trợ tại nhà" in body
        or "hỗ trợ tại nhà" in body
    )
    assert world.a.commune.name in body
    assert "Kích hoạt tài khoản định danh điện tử mức 2" in body
    assert 'name="csrf_token"' in body


def test_a_valid_request_is_stored_as_new_and_thanked_with_a_reference(client, world, session):
    before = count(session)
    response = client.post("/request", data=form(world))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/request/thanks")
    thanks = client.get("/request/thanks").get_data(as_text=True)

    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert count(session) == before + 1
    assert record.status is RequestStatus.NEW
    assert record.source is RequestSource.WEB
    assert record.phone == "+84912345678" and record.phone_is_mobile
    assert record.priority == 5  # elderly, 75+, living alone
    assert {s.code for s in record.services} == {"vneid_activate", "scam_safety"}
    assert record.hamlet_id == world.a.hamlet.id
    assert record.contact_name == "Trần Minh Anh" and not record.contact_is_beneficiary
    assert len(record.reference) == 6 and set(record.reference) <= set(REFERENCE_ALPHABET)
    assert not set(record.reference) & set("01IO")
    assert record.reference[:3] in thanks
    assert record.consent_at is not None
    assert session.query(AuditEvent).filter_by(entity="help_request", action="create").count() >= 1


def test_an_invalid_phone_is_reported_next_to_the_field_and_the_rest_stays(client, world, session):
    before = count(session)
    response = client.post("/request", data=form(world, phone="012345"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert count(session) == before
    assert 'id="phone-error"' in body
    assert "Số điện thoại này không đúng định dạng số Việt Nam." in body
    assert 'value="Nguyễn Thị Hoa"' in body
    assert 'value="12 kiệt 45 Lê Lợi"' in body
    assert 'value="vneid_activate" checked' in body


def test_without_a_phone_a_way_to_reach_is_needed(client, world, session):
    response = client.post("/request", data=form(world, phone=""))
    assert response.status_code == 422
    assert 'id="reach_note-error"' in response.get_data(as_text=True)
    ok = client.post(
        "/request", data=form(world, phone="", reach_note="Qua tổ trưởng tổ dân phố 5")
    )
    assert ok.status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.phone is None and record.reach_note == "Qua tổ trưởng tổ dân phố 5"


def test_a_landline_is_kept_but_cannot_receive_sms(client, world, session):
    assert client.post("/request", data=form(world, phone="0234 3822 456")).status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.phone == "+842343822456" and not record.phone_is_mobile
    assert not record.can_receive_sms


def test_the_same_phone_and_address_within_14_days_is_flagged_not_dropped(client, world, session):
    client.post("/request", data=form(world))
    first = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    client.post("/request", data=form(world, house="12 Kiệt 45  lê lợi", beneficiary_name="Hoa"))
    second = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert second.id != first.id
    assert second.possible_duplicate_of_id == first.id
    other_house = client.post("/request", data=form(world, house="99 Hùng Vương"))
    assert other_house.status_code == 302
    third = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert third.possible_duplicate_of_id is None


def test_an_old_request_is_not_a_duplicate(session, world):
    data = parse_request(
        form(world)
        | {
            "contact_is_beneficiary": False,
            "consent": True,
            "situations": ["elderly_alone"],
            "hamlet_id": world.a.hamlet.id,
            "services": ["vneid_activate"],
            "people_count": 1,
        }
    )
    first = submit_request(
        session, data, source=RequestSource.WEB, now=factories.now() - timedelta(days=15)
    )
    second = submit_request(session, data, source=RequestSource.WEB)
    assert first.duplicate_of is None and second.duplicate_of is None


def test_the_honeypot_refuses_bots_and_stores_nothing(client, world, session):
    before = count(session)
    response = client.post("/request", data=form(world, homepage="http://spam.example"))
    assert response.status_code == 422
    assert count(session) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("beneficiary_name", "x" * 121),
        ("beneficiary_name", ""),
        ("commune", "99999"),
        ("commune", "<script>"),
        ("services", "not_a_service"),
        ("people_count", "lots"),
        ("people_count", "0"),
        ("age_group", "ancient"),
        ("hamlet_id", "abc"),
        ("lat", "91"),
        ("consent", None),
        ("notes", "n" * 1001),
        ("block", "999999"),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(client, world, session, field, value):
    before = count(session)
    data = form(world, **{field: value})
    if field == "lat":
        data["lng"] = "107.5"
    response = client.post("/request", data=data)
    assert response.status_code == 422, field
    assert "Vui lòng kiểm tra các mục được đánh dấu đỏ." in response.get_data(as_text=True)
    assert count(session) == before


def test_a_hamlet_of_another_commune_is_refused(client, world, session):
    response = client.post("/request", data=form(world, hamlet_id=str(world.b.hamlet.id)))
    assert response.status_code == 422
    assert 'id="hamlet_id-error"' in response.get_data(as_text=True)


def test_markup_is_stored_as_text_and_never_rendered_as_html(client, world, session):
    name = '<script>alert("x")</script><b>Hoa</b>'
    assert client.post("/request", data=form(world, beneficiary_name=name)).status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.beneficiary_name == name
    from tests.conftest import login

    login(client, world.a.coordinator.email)
    page = client.get(f"/requests/{record.id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_odd_unicode_is_cleaned(client, world, session):
    sneaky = (
        "Ho\u200ba\u202e\u0000 Thi\u0301\tLan"  # zero-width space, RTL override, NUL, combining
    )
    assert client.post("/request", data=form(world, beneficiary_name=sneaky)).status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.beneficiary_name == "Hoa Thí Lan"


def test_a_name_made_only_of_invisible_characters_is_missing(client, world, session):
    # The length check used to run before cleaning, so "\u200b" passed and an empty name was stored.
    before = count(session)
    response = client.post("/request", data=form(world, beneficiary_name="\u200b\u202e\u00ad"))
    assert response.status_code == 422
    assert 'id="beneficiary_name-error"' in response.get_data(as_text=True)
    assert count(session) == before


@pytest.mark.parametrize("field", ["people_count", "hamlet_id", "block"])
@pytest.mark.parametrize("value", ["²", "١٢", "99999999999999999999", "9" * 5000])
def test_numbers_in_other_scripts_or_too_big_are_field_errors(client, world, session, field, value):
    before = count(session)
    response = client.post("/request", data=form(world, **{field: value}))
    assert response.status_code == 422
    shown_on = "windows" if field == "block" else field  # ticked blocks become time windows
    assert f'id="{shown_on}-error"' in response.get_data(as_text=True)
    assert count(session) == before


def test_a_service_code_with_a_nul_byte_is_read_without_it(client, world, session):
    # NUL bytes are dropped from every form field before any view sees them (issue 15).
    response = client.post("/request", data=form(world, services=["vneid_activate\x00"]))
    assert response.status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert [s.code for s in record.services] == ["vneid_activate"]


def test_an_oversized_body_is_refused_with_413(client, world, session):
    before = count(session)
    response = client.post("/request", data=form(world, notes="x" * 200_000))
    assert response.status_code == 413
    assert count(session) == before


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_a_post_without_its_csrf_token_is_refused(client, world, session):
    before = count(session)
    response = client.post("/request", data=form(world))
    assert response.status_code == 400
    assert count(session) == before


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_INTAKE="2 per minute")
def test_one_address_cannot_flood_the_form(client, world):
    assert client.post("/request", data=form(world, beneficiary_name="A")).status_code == 302
    assert client.post("/request", data=form(world, beneficiary_name="B")).status_code == 302
    assert client.post("/request", data=form(world, beneficiary_name="C")).status_code == 429
    assert client.get("/request").status_code == 200


def test_a_qr_link_fills_in_the_commune_and_hamlet(client, world):
    body = client.get(
        f"/request?commune={world.a.commune.code}&hamlet_id={world.a.hamlet.id}"
    ).get_data(as_text=True)
    assert f'<option value="{world.a.commune.code}" selected' in body or (
        f'value="{world.a.commune.code}" selected' in body
    )
    assert f'<option value="{world.a.hamlet.id}" selected>' in body


def test_preferred_times_come_from_upcoming_drive_blocks(client, world, session):
    block = world.a.drive.blocks[0]
    assert client.post("/request", data=form(world, block=str(block.id))).status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert [(w.starts_at, w.ends_at) for w in record.windows] == [(block.starts_at, block.ends_at)]


def test_a_pin_is_kept_and_otherwise_the_hamlet_locates_the_house(client, world, session):
    client.post("/request", data=form(world, lat="16.4701", lng="107.5902"))
    pinned = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert (pinned.lat, pinned.lng, pinned.location_source) == (
        16.4701,
        107.5902,
        LocationSource.PIN,
    )
    client.post("/request", data=form(world, house="1 Lê Lợi"))
    unpinned = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert unpinned.lat is None and unpinned.location_source is LocationSource.HAMLET


def test_the_thank_you_page_needs_a_submission(client):
    response = client.get("/request/thanks")
    assert response.status_code == 302


def test_english_on_the_switch(client, world):
    client.get("/lang/en")
    body = client.post("/request", data=form(world, phone="12")).get_data(as_text=True)
    assert "This is not a valid Vietnamese phone number." in body
