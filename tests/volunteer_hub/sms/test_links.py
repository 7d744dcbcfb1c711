"""Personal link pages: one visit, no login; volunteers accept or decline, households confirm,
cancel or ask for another time; wrong, expired or old links show nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from volunteer_hub.models import (
    Message,
    MessageStatus,
    PersonalLink,
    Plan,
    PlanStatus,
    RequestStatus,
    SmsOptOut,
    VisitResponse,
    VisitStatus,
    utcnow,
)
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.services.messaging.responses import pending_replans


@pytest.fixture
def future_visit(published, session):  # type: ignore[no-untyped-def]
    """The published visit, moved to next week so it has not started when the test runs."""
    start = utcnow() + timedelta(days=3)
    visit = published.visit
    visit.starts_at = visit.arrival_at = start
    visit.ends_at = start + timedelta(minutes=45)
    published.drive.blocks[0].starts_at = start - timedelta(hours=1)
    published.drive.blocks[0].ends_at = start + timedelta(hours=3)
    session.commit()
    return published


def volunteer_code(session, found, settings, volunteer=None) -> str:  # type: ignore[no-untyped-def]
    issued = links.issue_link(
        session,
        purpose=links.VOLUNTEER_VISIT,
        visit=found.visit,
        volunteer_id=(volunteer or found.lan).id,
        settings=settings,
    )
    session.commit()
    return issued.code


def household_code(session, found, settings) -> str:  # type: ignore[no-untyped-def]
    issued = links.issue_link(
        session,
        purpose=links.HOUSEHOLD_VISIT,
        visit=found.visit,
        request_id=found.visit.request_id,
        settings=settings,
    )
    session.commit()
    return issued.code


def answers(session) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    return [(r.role, r.action, r.note) for r in session.scalars(select(VisitResponse))]


def test_codes_are_ten_random_base62_characters_stored_hashed(session, future_visit, settings):
    codes = {volunteer_code(session, future_visit, settings) for _ in range(20)}
    assert len(codes) == 20
    assert all(len(c) == 10 and c.isalnum() and c.isascii() for c in codes)
    stored = {row.code_hash for row in session.scalars(select(PersonalLink))}
    assert stored == {links.hash_code(c) for c in codes}
    assert codes.isdisjoint(stored)


def test_a_volunteer_sees_their_visit_and_nothing_else(
    client, session, future_visit, settings, world
):
    code = volunteer_code(session, future_visit, settings)
    response = client.get(f"/s/{code}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hoàng Thị Hoa" in body and "12 kiệt 5 Lê Lợi" in body and "gần chợ Đông Ba" in body
    assert "Trần Quốc Huy" in body  # the partner, with a phone to call
    for other in (
        world.b.request.beneficiary_name,
        world.b.volunteer.full_name,
        world.b.drive.name,
    ):
        assert other not in body
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    link = session.scalar(
        select(PersonalLink).where(PersonalLink.code_hash == links.hash_code(code))
    )
    assert link.uses == 1 and link.last_used_at is not None


def test_a_household_sees_who_comes_and_what_to_have_ready(client, session, future_visit, settings):
    code = household_code(session, future_visit, settings)
    body = client.get(f"/s/{code}").get_data(as_text=True)
    assert "Lan, Huy" in body
    assert "CCCD" in body and "OTP" in body
    assert future_visit.lan.phone not in body  # volunteers' numbers stay private


def test_a_volunteer_accepts(client, session, future_visit, settings):
    code = volunteer_code(session, future_visit, settings)
    response = client.post(f"/s/{code}", data={"action": "accept"})
    assert response.status_code == 302
    assert future_visit.visit.volunteer_accepted_at is not None
    assert future_visit.visit.status == VisitStatus.SCHEDULED
    assert answers(session) == [("volunteer", "accept", None)]


def test_declining_needs_a_reason_and_offers_a_replan(client, session, future_visit, settings):
    code = volunteer_code(session, future_visit, settings)
    refused = client.post(f"/s/{code}", data={"action": "decline", "note": "  "})
    assert refused.status_code == 422
    assert future_visit.visit.status == VisitStatus.SCHEDULED and answers(session) == []

    reminder = queue_message(
        session,
        key="r",
        kind="reminder_volunteer_eve",
        to_phone=future_visit.lan.phone,
        body="x",
        visit_id=future_visit.visit.id,
        volunteer_id=future_visit.lan.id,
    )
    response = client.post(f"/s/{code}", data={"action": "decline", "note": "Em bị ốm"})
    assert response.status_code == 302
    assert future_visit.visit.status == VisitStatus.DECLINED
    assert answers(session) == [("volunteer", "decline", "Em bị ốm")]
    assert [r.note for r in pending_replans(session, future_visit.drive.id)] == ["Em bị ốm"]
    assert session.get(Message, reminder.id).status == MessageStatus.CANCELLED


def test_a_household_confirms(client, session, future_visit, settings):
    code = household_code(session, future_visit, settings)
    assert client.post(f"/s/{code}", data={"action": "confirm"}).status_code == 302
    assert future_visit.visit.status == VisitStatus.CONFIRMED
    assert future_visit.visit.household_confirmed_at is not None
    assert future_visit.visit.request.status == RequestStatus.CONFIRMED


def test_a_household_cancels_and_the_team_is_told(client, session, future_visit, settings):
    code = household_code(session, future_visit, settings)
    assert client.post(f"/s/{code}", data={"action": "cancel"}).status_code == 302
    assert future_visit.visit.status == VisitStatus.CANCELLED
    assert future_visit.visit.request.status == RequestStatus.CANCELLED
    told = session.scalars(select(Message).where(Message.kind == "cancellation_volunteer")).all()
    assert {m.to_phone for m in told} == {future_visit.lan.phone, future_visit.huy.phone}
    # Nothing more can be done on a cancelled visit.
    again = client.post(f"/s/{code}", data={"action": "confirm"})
    assert again.status_code == 422


def test_a_household_asks_for_another_time(client, session, future_visit, settings):
    code = household_code(session, future_visit, settings)
    assert client.post(f"/s/{code}", data={"action": "reschedule"}).status_code == 422
    response = client.post(
        f"/s/{code}", data={"action": "reschedule", "note": "Chiều Chủ nhật được không?"}
    )
    assert response.status_code == 302
    assert future_visit.visit.status == VisitStatus.DECLINED
    assert answers(session) == [("household", "reschedule", "Chiều Chủ nhật được không?")]


def test_a_role_cannot_use_the_other_roles_actions(client, session, future_visit, settings):
    volunteer = volunteer_code(session, future_visit, settings)
    household = household_code(session, future_visit, settings)
    assert client.post(f"/s/{volunteer}", data={"action": "confirm"}).status_code == 400
    assert client.post(f"/s/{household}", data={"action": "accept"}).status_code == 400
    assert client.post(f"/s/{household}", data={"action": "nonsense"}).status_code == 400
    assert answers(session) == []


@pytest.mark.parametrize("code", ["AAAAAAAAAA", "short", "x" * 40, "bad-chars!!", "%00%00"])
def test_unknown_or_malformed_codes_show_nothing(client, code):
    response = client.get(f"/s/{code}")
    assert response.status_code == 404
    assert client.post(f"/s/{code}", data={"action": "accept"}).status_code == 404


def test_expired_and_revoked_links_show_nothing(client, session, future_visit, settings):
    expired = volunteer_code(session, future_visit, settings)
    revoked = volunteer_code(session, future_visit, settings)
    for code, change in ((expired, "expires_at"), (revoked, "revoked_at")):
        link = session.scalar(
            select(PersonalLink).where(PersonalLink.code_hash == links.hash_code(code))
        )
        setattr(link, change, utcnow() - timedelta(seconds=1))
    session.commit()
    assert client.get(f"/s/{expired}").status_code == 404
    assert client.get(f"/s/{revoked}").status_code == 404


def test_a_link_to_a_superseded_plan_refuses_answers(client, session, future_visit, settings):
    code = volunteer_code(session, future_visit, settings)
    session.add(
        Plan(drive=future_visit.drive, version=2, status=PlanStatus.DONE, published_at=utcnow())
    )
    session.commit()
    page = client.get(f"/s/{code}").get_data(as_text=True)
    assert "newest message" in page or "tin nhắn mới nhất" in page
    assert client.post(f"/s/{code}", data={"action": "accept"}).status_code == 409
    assert answers(session) == []


def test_stopping_sms_by_link_opts_the_number_out(client, session, future_visit, settings):
    code = household_code(session, future_visit, settings)
    phone = future_visit.visit.request.phone
    waiting = queue_message(session, key="w", kind="reminder", to_phone=phone, body="x")
    session.commit()
    assert client.post(f"/s/{code}/stop").status_code == 302
    assert session.get(SmsOptOut, phone).source == "link"
    assert session.get(Message, waiting.id).status == MessageStatus.CANCELLED
    assert (
        "không nhận tin nhắn" in client.get(f"/s/{code}").get_data(as_text=True).lower()
        or "no sms" in client.get(f"/s/{code}").get_data(as_text=True).lower()
    )


def test_the_outcome_report_target_is_for_volunteers(client, session, future_visit, settings):
    volunteer = volunteer_code(session, future_visit, settings)
    household = household_code(session, future_visit, settings)
    early = client.get(f"/s/{volunteer}/report")
    assert early.status_code == 200 and 'name="people_helped"' not in early.get_data(as_text=True)
    assert client.post(f"/s/{volunteer}/report", data={}).status_code == 200
    assert future_visit.visit.status == VisitStatus.SCHEDULED
    assert client.get(f"/s/{household}/report").status_code == 404


def test_a_volunteer_reports_the_outcome_by_link_after_the_visit(
    client, session, published, settings
):
    published.visit.starts_at = utcnow() - timedelta(hours=2)
    published.visit.ends_at = utcnow() - timedelta(hours=1)
    session.commit()
    code = volunteer_code(session, published, settings)
    form = client.get(f"/s/{code}/report")
    assert form.status_code == 200 and 'name="people_helped"' in form.get_data(as_text=True)
    services = [s.code for s in published.visit.request.services]
    incomplete = client.post(
        f"/s/{code}/report", data={f"outcome_{services[0]}": "done", "people_helped": "1"}
    )
    assert incomplete.status_code == 422
    assert published.visit.status == VisitStatus.SCHEDULED
    data = {f"outcome_{c}": "done" for c in services} | {"people_helped": "2"}
    saved = client.post(f"/s/{code}/report", data=data)
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/s/{code}")
    assert published.visit.status == VisitStatus.DONE and published.visit.people_helped == 2
    assert {o.outcome.value for o in published.visit.outcomes} == {"done"}


def test_a_failed_outcome_report_keeps_the_answers(client, session, published, settings):
    published.visit.starts_at = utcnow() - timedelta(hours=2)
    published.visit.ends_at = utcnow() - timedelta(hours=1)
    session.commit()
    code = volunteer_code(session, published, settings)
    first, second = [s.code for s in published.visit.request.services]
    note = "Bà cụ chưa có CCCD gắn chip, hẹn tuần sau"
    # The second service is "referred" without saying where to: refused, nothing saved.
    sent = client.post(
        f"/s/{code}/report",
        data={
            f"outcome_{first}": "partly_done",
            f"outcome_{second}": "referred",
            "people_helped": "3",
            "minutes_spent": "40",
            "note": note,
        },
    )
    assert sent.status_code == 422
    page = sent.get_data(as_text=True)
    assert f'name="outcome_{first}" value="partly_done" checked' in page
    assert f'name="outcome_{second}" value="referred" checked' in page
    assert page.count(" checked") == 2  # nothing else ticked
    assert note in page
    assert 'value="3"' in page and 'value="40"' in page
    assert published.visit.status == VisitStatus.SCHEDULED and not published.visit.outcomes


def test_feedback_after_the_visit(client, session, published, settings):
    # The published visit (28/11/2026) is in the past when the clock says so: move it back.
    published.visit.starts_at = utcnow() - timedelta(hours=2)
    published.visit.ends_at = utcnow() - timedelta(hours=1)
    session.commit()
    code = household_code(session, published, settings)
    page = client.get(f"/s/{code}").get_data(as_text=True)
    assert 'value="feedback"' in page and 'value="confirm"' not in page
    sent = client.post(f"/s/{code}", data={"action": "feedback", "note": "Rất tốt"})
    assert sent.status_code == 302
    assert answers(session) == [("household", "feedback", "Rất tốt")]


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_LINK_MISS="3 per minute")
def test_guessing_codes_is_rate_limited(client):
    codes = [f"Guess{i:05d}" for i in range(4)]
    assert [client.get(f"/s/{c}").status_code for c in codes] == [404, 404, 404, 429]


@pytest.mark.app_config(RATELIMIT_ENABLED=True)
def test_wrong_codes_behind_one_nat_do_not_lock_out_valid_codes(
    client, session, future_visit, settings
):
    # Issue 15, item 7: one carrier address, many households; a guesser among them.
    valid = volunteer_code(session, future_visit, settings)
    other = household_code(session, future_visit, settings)
    guesses = [client.get(f"/s/Guess{i:05d}").status_code for i in range(12)]
    assert guesses == [404] * 10 + [429] * 2  # RATELIMIT_LINK_MISS: 10 per minute
    assert client.get(f"/s/{valid}").status_code == 200
    assert client.get(f"/s/{other}").status_code == 200
    assert client.post(f"/s/{valid}", data={"action": "accept"}).status_code == 302
    assert client.get("/s/Guess99999").status_code == 429  # the guesser stays slowed


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_LINK="2 per minute")
def test_one_link_reloaded_often_does_not_use_up_the_others(
    client, session, future_visit, settings
):
    busy = volunteer_code(session, future_visit, settings)
    other = household_code(session, future_visit, settings)
    assert [client.get(f"/s/{busy}").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(f"/s/{other}").status_code == 200


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_LINK_ADDRESS="3 per minute")
def test_one_address_has_a_ceiling_on_link_requests(client, session, future_visit, settings):
    valid = volunteer_code(session, future_visit, settings)
    statuses = [client.get(f"/s/{c}").status_code for c in ("GuessA0001", valid, "GuessA0002")]
    assert statuses == [404, 200, 404]
    assert client.get(f"/s/{valid}").status_code == 429


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_answers_need_the_forms_csrf_token(client, session, future_visit, settings):
    code = volunteer_code(session, future_visit, settings)
    assert client.post(f"/s/{code}", data={"action": "accept"}).status_code == 400
    assert answers(session) == []


# --- a link is worth only what its holder may still see -----------------------------------------


def shows_household(body: str) -> bool:
    return any(s in body for s in ("Hoàng Thị Hoa", "12 kiệt 5 Lê Lợi", "gần chợ Đông Ba"))


def test_after_declining_the_link_no_longer_shows_the_household(
    client, session, future_visit, settings
):
    code = volunteer_code(session, future_visit, settings)
    phone = future_visit.visit.request.phone
    assert shows_household(client.get(f"/s/{code}").get_data(as_text=True))
    client.post(f"/s/{code}", data={"action": "decline", "note": "Em bị ốm"})
    page = client.get(f"/s/{code}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert not shows_household(body) and phone not in body
    assert "không còn là của bạn" in body  # the polite page, in Vietnamese


def test_a_volunteer_moved_off_the_team_loses_the_details_at_once(
    client, session, future_visit, settings, world
):
    code = volunteer_code(session, future_visit, settings)
    future_visit.visit.team.members = [future_visit.huy]  # Lan was moved to another team
    session.commit()
    body = client.get(f"/s/{code}").get_data(as_text=True)
    assert not shows_household(body)
    assert client.post(f"/s/{code}", data={"action": "accept"}).status_code == 409
    assert not shows_household(client.get(f"/s/{code}/report").get_data(as_text=True))
    assert answers(session) == []


def test_a_cancelled_or_replanned_visit_hides_the_household(
    client, session, future_visit, settings
):
    code = volunteer_code(session, future_visit, settings)
    future_visit.visit.status = VisitStatus.CANCELLED
    session.commit()
    assert not shows_household(client.get(f"/s/{code}").get_data(as_text=True))
    future_visit.visit.status = VisitStatus.SCHEDULED
    session.add(
        Plan(drive=future_visit.drive, version=2, status=PlanStatus.DONE, published_at=utcnow())
    )
    session.commit()
    body = client.get(f"/s/{code}").get_data(as_text=True)
    assert not shows_household(body) and "tin nhắn mới nhất" in body
    # The household's own link still shows its own visit.
    assert "CCCD" in client.get(f"/s/{household_code(session, future_visit, settings)}").get_data(
        as_text=True
    )
