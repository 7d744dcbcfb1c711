"""A household checks its request without an account: reference code and phone's last digits."""

from __future__ import annotations

import pytest

from volunteer_hub.models import RequestStatus


def check(client, record, digits=None, lang="vi"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/request/status?lang={lang}",
        data={"reference": record.reference.lower(), "phone_last4": digits or record.phone[-4:]},
    )


def test_the_right_pair_shows_where_the_request_stands(client, world, session):
    record = world.a.request
    received = check(client, record, lang="en")
    assert received.status_code == 200
    assert "Received: we have your request." in received.get_data(as_text=True)

    record.status = RequestStatus.SCHEDULED
    session.commit()
    planned = check(client, record, lang="en").get_data(as_text=True)
    assert "Planned: volunteers come on" in planned and "in the morning." in planned
    vi = check(client, record, lang="vi").get_data(as_text=True)
    assert "Đã lên lịch: tình nguyện viên sẽ đến vào" in vi and "buổi sáng" in vi

    record.status = RequestStatus.DONE
    session.commit()
    assert "Đã xong" in check(client, record).get_data(as_text=True)
    record.status = RequestStatus.CANCELLED
    session.commit()
    assert "Cancelled:" in check(client, record, lang="en").get_data(as_text=True)


def test_a_wrong_pair_gets_the_same_neutral_answer(client, world):
    record = world.a.request
    wrong_digits = "0000" if record.phone[-4:] != "0000" else "1111"
    answers = [
        check(client, record, digits=wrong_digits),
        client.post("/request/status", data={"reference": "ZZZZZZ", "phone_last4": "1234"}),
        client.post("/request/status", data={"reference": record.reference, "phone_last4": "12"}),
        client.post("/request/status", data={}),
    ]
    bodies = {a.get_data(as_text=True) for a in answers}
    assert {a.status_code for a in answers} == {404}
    for body in bodies:
        assert "Không tìm thấy yêu cầu nào với mã và các số này." in body
        assert "Đã nhận" not in body
    en = check(client, record, digits=wrong_digits, lang="en").get_data(as_text=True)
    assert "We found no request with this code and these digits." in en


def test_the_page_is_linked_and_usable_on_a_phone(client, world):
    page = client.get("/request/status?lang=en").get_data(as_text=True)
    assert 'name="reference"' in page and 'name="phone_last4"' in page
    assert 'inputmode="numeric"' in page and 'class="button big"' in page
    assert "/request/status" in client.get("/").get_data(as_text=True)


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_STATUS="2 per minute")
def test_too_many_tries_are_refused_with_a_page(client, world):
    record = world.a.request
    for _ in range(2):
        assert check(client, record, digits="9999").status_code in (200, 404)
    refused = check(client, record)
    assert refused.status_code == 429
    assert "<html" in refused.get_data(as_text=True) and refused.headers.get("Retry-After")
