"""The SMS to a minor's guardian says whom to call: the drive's coordinator, by given name and
mobile, when their account has one (issue 14, item 4; docs/sms.md)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import login
from tests.volunteer_hub.test_guardian_sms import (
    _day,
    _guardian_messages,
    _minor_visits,
    _published,
    minor_world,  # noqa: F401  (the fixture)
)
from volunteer_hub.models import AuditEvent, MessageStatus, User
from volunteer_hub.services.messaging.notifications import coordinator_contact, notify_guardian
from volunteer_hub.sms.text import GSM7

COORDINATOR_PHONE = "+84912345678"


def test_the_guardian_sms_gives_the_coordinator_s_name_and_mobile(session, minor_world):  # noqa: F811
    coordinator = minor_world.coordinator
    coordinator.name = "Trần Thị Mai"
    coordinator.phone = COORDINATOR_PHONE
    assert minor_world.drive.created_by_id == coordinator.id
    session.commit()
    _published(session, minor_world)
    (message,) = _guardian_messages(session)
    assert message.kind == "guardian_assignment"
    # The name and the number as dialled; the drive sends without tone marks.
    assert message.body.endswith(" Lien he Tran Thi Mai: 0912345678.")
    # Still one GSM-7 part: the contact costs nothing more.
    assert message.encoding == GSM7 and message.segments == 1, message.body


def test_no_contact_when_the_coordinator_has_no_mobile_or_is_deactivated(session, minor_world):  # noqa: F811
    drive = minor_world.drive
    coordinator = minor_world.coordinator
    assert coordinator.phone is None
    assert coordinator_contact(session, drive, "vi") == ""
    coordinator.phone = COORDINATOR_PHONE
    coordinator.active = False
    assert coordinator_contact(session, drive, "vi") == ""
    coordinator.active = True
    coordinator.name = "Bí thư Đoàn phường Thuận Hóa"  # too long: the role's word instead
    assert coordinator_contact(session, drive, "vi") == " Liên hệ điều phối: 0912345678."
    assert coordinator_contact(session, drive, "en") == " Contact the coordinator: 0912345678."
    drive.created_by_id = None
    assert coordinator_contact(session, drive, "vi") == ""
    session.rollback()
    _published(session, minor_world)
    (message,) = _guardian_messages(session)
    assert "Lien he" not in message.body and message.body.endswith("Cam on gia dinh!")


def test_a_change_and_a_cancellation_carry_the_contact_too(session, minor_world):  # noqa: F811
    minor_world.coordinator.name = "Trần Thị Mai"
    minor_world.coordinator.phone = COORDINATOR_PHONE
    session.commit()
    plan = _published(session, minor_world)
    (first,) = _guardian_messages(session)
    first.status = MessageStatus.SENT  # the guardian has it
    session.commit()
    visits = _minor_visits(plan, minor_world.minor)
    day = _day(visits[0])
    minor = minor_world.minor
    drive = minor_world.drive
    change = notify_guardian(session, minor, day, visits[:1], drive=drive, version=plan.version + 1)
    if len(visits) > 1:
        assert change is not None and change.kind == "guardian_change"
        assert change.body.endswith(" Lien he Tran Thi Mai: 0912345678.")
        change.status = MessageStatus.SENT
    off = notify_guardian(session, minor, day, [], drive=drive, version=plan.version + 2)
    assert off is not None and off.kind == "guardian_cancellation"
    assert off.body.endswith(" Lien he Tran Thi Mai: 0912345678.")
    assert off.encoding == GSM7 and off.segments == 1


def test_an_admin_sets_a_coordinator_s_mobile_and_a_landline_is_refused(client, session, world):
    admin = world.admin
    coordinator = world.a.coordinator
    login(client, admin.email)
    url = f"/admin/users/{coordinator.id}"
    form = {
        "name": coordinator.name,
        "role": "coordinator",
        "communes": [world.a.commune.code],
    }
    refused = client.post(url, data={**form, "phone": "0234 3822 123"})  # a Huế landline
    assert refused.status_code == 422
    assert "di động" in refused.get_data(as_text=True)
    session.refresh(coordinator)
    assert coordinator.phone is None
    saved = client.post(url, data={**form, "phone": "0912 345 678"})
    assert saved.status_code == 302
    session.refresh(coordinator)
    assert coordinator.phone == COORDINATOR_PHONE
    # The form shows it as people write it; the audit log says it changed, not the number.
    assert "0912 345 678" in client.get(url).get_data(as_text=True)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "user").order_by(AuditEvent.id.desc())
    ).first()
    assert event.detail.get("phone") is True and "912345678" not in str(event.detail)
    # Emptying the field removes it.
    assert client.post(url, data={**form, "phone": ""}).status_code == 302
    session.refresh(coordinator)
    assert session.get(User, coordinator.id).phone is None
