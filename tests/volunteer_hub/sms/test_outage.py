"""A provider outage: messages wait, go out once the provider is back, and none goes twice."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from tests.volunteer_hub.sms.conftest import THURSDAY, twilio_config
from volunteer_hub.models import Message, MessageStatus
from volunteer_hub.services.messaging.dispatch import send_due_messages
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.sms import build_gateway


def test_messages_wait_out_a_provider_outage_and_each_goes_exactly_once(
    session, fake_twilio, settings, clock
):
    phones = [f"+8490{i:07d}" for i in range(40)]
    for i, phone in enumerate(phones):
        queue_message(
            session,
            key=f"outage:{i}",
            kind="broadcast",
            to_phone=phone,
            body=f"Doan TN: tin {i}",
            send_after=THURSDAY,
        )
    session.commit()
    gateway = build_gateway(twilio_config(fake_twilio))

    # Twilio answers 500 to everything for ten minutes; the worker runs every 30 seconds.
    fake_twilio.outage = 20500
    for _ in range(20):
        report = send_due_messages(session, gateway, settings=settings, clock=clock)
        assert report.sent == 0 and report.failed == 0
        clock.advance(seconds=30)
    assert fake_twilio.messages == []
    waiting = session.scalars(select(Message)).all()
    assert {m.status for m in waiting} == {MessageStatus.QUEUED}
    assert all(m.attempts >= 2 for m in waiting)

    fake_twilio.outage = None
    for _ in range(60):
        send_due_messages(session, gateway, settings=settings, clock=clock)
        if not session.scalars(select(Message).where(Message.status != MessageStatus.SENT)).all():
            break
        clock.advance(seconds=30)

    session.expire_all()
    assert {m.status for m in session.scalars(select(Message))} == {MessageStatus.SENT}
    assert Counter(m["to"] for m in fake_twilio.messages) == Counter(phones)
