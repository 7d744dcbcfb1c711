"""The messages a visit causes: what they say, to whom, and that they are queued once."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.fakes import real_text
from volunteer_hub.models import (
    DriveVolunteer,
    InvitationStatus,
    Message,
    MessageStatus,
    PersonalLink,
)
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.notifications import (
    broadcast,
    notify_assignment,
    notify_cancellation,
    notify_change,
    notify_day_thanks,
    notify_household,
    notify_thanks,
)
from volunteer_hub.services.messaging.outbox import MessagingError, opt_out, queue_message
from volunteer_hub.sms.text import GSM7, UCS2

LINK = re.compile(r"https://hotro\.example\.vn/s/([A-Za-z0-9]{10})\b")


def messages(session, **where) -> list[Message]:  # type: ignore[no-untyped-def]
    query = select(Message).order_by(Message.id)
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    return list(session.scalars(query))


def test_each_volunteer_gets_an_assignment_with_everything_they_need(
    session, published, settings, clock
):
    sent = notify_assignment(session, published.visit, version=1, now=clock(), settings=settings)
    session.commit()
    assert {m.to_phone for m in sent} == {published.lan.phone, published.huy.phone}
    to_lan = next(m for m in sent if m.to_phone == published.lan.phone)
    body = to_lan.body
    assert body.startswith("Doan TN Hue: ")  # the sender's name, unaccented like the rest
    assert "Thu Bay 28/11" in body and "08:00" in body
    assert "12 kiet 5 Le Loi" in body and "gan cho Dong Ba" in body
    assert "Tran Quoc Huy" in body  # the partner, not Lan herself
    assert "Nguyen Thi Lan" not in body
    assert to_lan.encoding == GSM7
    visit_id, lan_id = published.visit.id, published.lan.id
    assert to_lan.idempotency_key == f"visit:{visit_id}:assignment:vol{lan_id}:v1"
    assert to_lan.kind == "assignment" and to_lan.visit_id == published.visit.id


def test_the_link_in_a_message_opens_that_visit_for_that_person(
    session, published, settings, clock
):
    (to_lan, _) = notify_assignment(
        session, published.visit, version=1, now=clock(), settings=settings
    )
    session.commit()
    code = LINK.search(real_text(to_lan, settings)).group(1)
    link = links.find_link(session, code, now=clock())
    assert link is not None
    assert (link.visit_id, link.volunteer_id, link.purpose) == (
        published.visit.id,
        published.lan.id,
        links.VOLUNTEER_VISIT,
    )
    # Only a hash is stored.
    assert code not in {row.code_hash for row in session.scalars(select(PersonalLink))}
    assert link.code_hash == links.hash_code(code)
    # Valid until some days after the drive.
    assert link.expires_at == published.drive.blocks[-1].ends_at + timedelta(days=7)


def test_publishing_twice_queues_nothing_twice(session, published, settings, clock):
    first = notify_assignment(session, published.visit, version=1, now=clock(), settings=settings)
    again = notify_assignment(session, published.visit, version=1, now=clock(), settings=settings)
    session.commit()
    assert [m.id for m in first] == [m.id for m in again]
    assert len(messages(session)) == 2
    assert len(session.scalars(select(PersonalLink)).all()) == 2  # no orphan links either
    later = notify_assignment(session, published.visit, version=2, now=clock(), settings=settings)
    assert {m.id for m in later}.isdisjoint({m.id for m in first})


def test_the_household_is_told_the_window_the_team_and_what_to_have_ready(
    session, published, settings, clock
):
    message = notify_household(session, published.visit, version=1, now=clock(), settings=settings)
    session.commit()
    body = real_text(message, settings)
    assert message.to_phone == published.visit.request.phone
    assert "Thu Bay 28/11" in body and "08:00-09:00" in body
    assert "Lan, Huy" in body
    assert "CCCD gan chip" in body and "SIM chinh chu" in body
    assert "OTP" in body
    assert LINK.search(body)
    link = links.find_link(session, LINK.search(body).group(1), now=clock())
    assert link.purpose == links.HOUSEHOLD_VISIT and link.request_id == published.visit.request_id


def test_a_household_without_a_mobile_gets_nothing(session, published, settings, clock):
    published.visit.request.phone_is_mobile = False
    assert (
        notify_household(session, published.visit, version=1, now=clock(), settings=settings)
        is None
    )
    published.visit.request.phone = None
    assert (
        notify_household(session, published.visit, version=1, now=clock(), settings=settings)
        is None
    )
    assert messages(session) == []


def test_a_drive_with_accents_on_sends_ucs2(session, published, settings, clock):
    published.drive.unaccented_sms = False
    message = notify_household(session, published.visit, version=1, now=clock(), settings=settings)
    assert message.encoding == UCS2
    assert "Thứ Bảy 28/11" in message.body and "Đoàn TN Huế" in message.body


def test_english_readers_get_english(session, published, settings, clock):
    published.lan.languages = ["en"]
    (to_lan, to_huy) = notify_assignment(
        session, published.visit, version=1, now=clock(), settings=settings
    )
    assert "You are assigned a home visit on Saturday 28/11 at 08:00" in to_lan.body
    assert to_lan.locale == "en" and to_huy.locale == "vi"


def test_a_change_notice_drops_what_was_queued_for_the_old_visit(
    session, published, settings, clock, world
):
    old = published.visit
    reminder = queue_message(
        session,
        key=f"visit:{old.id}:reminder-day:v1",
        kind="reminder",
        to_phone=old.request.phone,
        body="x",
        visit_id=old.id,
    )
    sent = notify_change(session, old, version=2, replaces=old, now=clock(), settings=settings)
    session.commit()
    assert reminder.status == MessageStatus.CANCELLED
    kinds = sorted(m.kind for m in sent)
    assert kinds == ["change_household", "change_volunteer", "change_volunteer"]
    # Two days ahead: not urgent, so quiet hours apply.
    assert not any(m.urgent for m in sent)


def test_a_same_day_change_is_urgent(session, published, settings, clock):
    clock.now = published.visit.starts_at - timedelta(hours=3)
    sent = notify_change(session, published.visit, version=2, now=clock(), settings=settings)
    assert sent and all(m.urgent for m in sent)


def test_a_cancellation_tells_everyone_and_cancels_their_reminders(
    session, published, settings, clock
):
    visit = published.visit
    notify_assignment(session, visit, version=1, now=clock(), settings=settings)
    sent = notify_cancellation(session, visit, version=1, now=clock(), settings=settings)
    session.commit()
    assert {m.kind for m in sent} == {"cancellation_volunteer", "cancellation_household"}
    assert all(not LINK.search(real_text(m, settings)) for m in sent)
    assignments = messages(session, kind="assignment")
    assert {m.status for m in assignments} == {MessageStatus.CANCELLED}


def test_thanks_carry_the_feedback_and_the_day_links(session, published, settings, clock):
    household = notify_thanks(session, published.visit, now=clock(), settings=settings)
    assert household is not None and household.kind == "thanks_household"
    assert household.idempotency_key == f"visit:{published.visit.id}:thanks"
    assert LINK.search(real_text(household, settings))
    day = date(2026, 11, 28)
    lan = notify_day_thanks(
        session,
        published.lan,
        day,
        [published.visit],
        drive=published.drive,
        now=clock(),
        settings=settings,
    )
    session.commit()
    assert lan is not None and lan.kind == "thanks_volunteer"
    assert (
        lan.idempotency_key == f"drive:{published.drive.id}:vol{published.lan.id}:2026-11-28:thanks"
    )
    # About her day, not one visit: no visit or household on the row.
    assert lan.visit_id is None and lan.request_id is None and lan.volunteer_id == published.lan.id
    assert "Thu Bay 28/11" in lan.body
    code = LINK.search(real_text(lan, settings)).group(1)
    link = links.find_link(session, code)
    assert link.purpose == links.VOLUNTEER_DAY and link.day == day and link.visit_id is None
    # Once: asking again returns the same message and issues no other link.
    again = notify_day_thanks(
        session,
        published.lan,
        day,
        [published.visit],
        drive=published.drive,
        now=clock(),
        settings=settings,
    )
    assert again.id == lan.id
    assert len(messages(session, kind="thanks_volunteer")) == 1


def test_broadcast_reaches_invited_volunteers_and_households_once_each(
    session, published, settings, clock, world
):
    drive = published.drive
    lan, huy = published.lan, published.huy
    gone = factories.volunteer(session, world.a.commune)
    drive.volunteers = [
        DriveVolunteer(volunteer=lan, status=InvitationStatus.ACCEPTED),
        DriveVolunteer(volunteer=huy, status=InvitationStatus.INVITED),
        DriveVolunteer(volunteer=gone, status=InvitationStatus.DECLINED),
    ]
    no_phone = factories.help_request(session, world.a.commune, phone=None)
    landline = factories.help_request(
        session, world.a.commune, phone="+842343812345", phone_is_mobile=False
    )
    same_phone = factories.help_request(
        session, world.a.commune, phone=published.visit.request.phone
    )
    from volunteer_hub.models import DriveRequest

    drive.requests += [DriveRequest(request=r) for r in (no_phone, landline, same_phone)]
    session.flush()
    count = broadcast(
        session,
        drive,
        "  Trời mưa to sáng thứ Bảy,\n mang áo mưa. ",
        now=clock(),
        settings=settings,
    )
    session.commit()
    sent = messages(session, kind="broadcast")
    assert count == 3 == len(sent)
    assert {m.to_phone for m in sent} == {lan.phone, huy.phone, published.visit.request.phone}
    assert sent[0].body == "Doan TN Hue: Troi mua to sang thu Bay, mang ao mua."
    assert (
        broadcast(
            session, drive, "Trời mưa to sáng thứ Bảy, mang áo mưa.", now=clock(), settings=settings
        )
        == 0
    )
    with pytest.raises(MessagingError):
        broadcast(session, drive, "   ", settings=settings)


def test_broadcast_counts_only_what_will_be_sent(session, published, settings, clock):
    drive = published.drive
    drive.volunteers = [DriveVolunteer(volunteer=published.lan)]
    opt_out(session, published.lan.phone, source="link")
    assert broadcast(session, drive, "Hello", now=clock(), settings=settings) == 1
