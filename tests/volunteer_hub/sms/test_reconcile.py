"""After a crash, ``sending`` rows are settled against the provider, never resent blindly."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.fakes import RecordingGateway
from tests.volunteer_hub.sms.conftest import THURSDAY
from volunteer_hub.extensions import db
from volunteer_hub.models import Message, MessageStatus
from volunteer_hub.services.messaging.dispatch import claim_due_messages, send_due_messages
from volunteer_hub.services.messaging.outbox import MessagingError, queue_message
from volunteer_hub.services.messaging.reconcile import reconcile_stale_messages, resolve_held
from volunteer_hub.sms import SendResult


def crashed_while_sending(
    session,
    gateway: RecordingGateway,
    clock,
    *,
    reached: bool,  # type: ignore[no-untyped-def]
    phone: str = "+84901234567",
    body: str = "Doan TN: tin 1",
) -> Message:
    """A row claimed by a worker that died; the provider got the message or not."""
    message = queue_message(
        session, key=f"k:{body}", kind="broadcast", to_phone=phone, body=body, send_after=THURSDAY
    )
    session.commit()
    (claimed,) = claim_due_messages(
        session, worker_id="dead:1", provider=gateway.name, now=clock(), limit=1
    )
    if reached:
        gateway.send(claimed.to_phone, claimed.body)
    return message


def test_a_message_the_provider_has_is_marked_sent_with_its_id(session, gateway, settings, clock):
    message = crashed_while_sending(session, gateway, clock, reached=True)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    report = reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    assert (report.checked, report.found_sent) == (1, 1)
    session.expire_all()
    assert message.status == MessageStatus.SENT
    assert message.provider_sid == gateway.sent[0].sid
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert len(gateway.sent) == 1


def test_a_message_the_provider_never_got_is_queued_again_and_sent_once(
    session, gateway, settings, clock
):
    message = crashed_while_sending(session, gateway, clock, reached=False)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    report = reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    assert report.requeued == 1
    session.expire_all()
    assert message.status == MessageStatus.QUEUED and message.error_code == "requeued"
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert message.status == MessageStatus.SENT and len(gateway.sent) == 1


def test_young_sending_rows_are_left_alone(session, gateway, settings, clock):
    message = crashed_while_sending(session, gateway, clock, reached=False)
    clock.advance(seconds=settings.sending_timeout_s - 1)
    assert reconcile_stale_messages(session, gateway, settings=settings, now=clock()).checked == 0
    session.expire_all()
    assert message.status == MessageStatus.SENDING


def test_without_a_provider_list_the_row_is_held_for_a_coordinator(session, settings, clock):
    gateway = RecordingGateway(has_list=False)
    message = crashed_while_sending(session, gateway, clock, reached=True)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    assert reconcile_stale_messages(session, gateway, settings=settings, now=clock()).held == 1
    session.expire_all()
    assert message.status == MessageStatus.HELD
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert len(gateway.sent) == 1  # held rows are never sent by themselves


@pytest.mark.parametrize(
    ("decision", "status", "sends"),
    [
        ("sent", MessageStatus.SENT, 0),
        ("resend", MessageStatus.SENT, 1),
        ("cancel", MessageStatus.CANCELLED, 0),
    ],
)
def test_a_coordinator_decides_what_happens_to_a_held_message(
    session, settings, clock, decision, status, sends
):
    gateway = RecordingGateway(has_list=False)
    message = crashed_while_sending(session, gateway, clock, reached=False)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    session.expire_all()
    resolve_held(session, message, decision, now=clock())
    session.commit()
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert message.status == status
    assert len(gateway.sent) == sends


def test_two_people_deciding_a_held_message_at_once_cannot_both_win(session, settings, clock):
    gateway = RecordingGateway(has_list=False)
    message = crashed_while_sending(session, gateway, clock, reached=False)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    session.expire_all()
    assert message.status == MessageStatus.HELD  # both pages show it held
    # An admin cancels it from another connection while the coordinator's page is open.
    with db.engine.begin() as other:
        other.execute(
            update(Message).where(Message.id == message.id).values(status=MessageStatus.CANCELLED)
        )
    with pytest.raises(MessagingError):
        resolve_held(session, message, "resend", now=clock())
    session.rollback()
    session.expire_all()
    assert message.status == MessageStatus.CANCELLED
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert gateway.sent == []


def test_only_held_messages_take_a_decision(session, gateway, settings):
    message = queue_message(
        session, key="x", kind="k", to_phone="+84901234567", body="x", send_after=THURSDAY
    )
    session.commit()
    with pytest.raises(MessagingError):
        resolve_held(session, message, "resend")


def test_a_provider_message_already_tied_to_another_row_is_not_reused(
    session, gateway, settings, clock
):
    # Two messages with the same text to the same number; the provider got only the first.
    first = queue_message(
        session, key="a", kind="k", to_phone="+84901234567", body="same", send_after=THURSDAY
    )
    session.commit()
    send_due_messages(session, gateway, settings=settings, clock=clock)
    second = crashed_while_sending(session, gateway, clock, reached=False, body="same")
    clock.advance(seconds=settings.sending_timeout_s + 1)
    report = reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    assert report.requeued == 1
    session.expire_all()
    assert first.provider_sid != second.provider_sid


def test_a_listing_error_leaves_the_row_for_the_next_run(session, settings, clock):
    class Flaky(RecordingGateway):
        def find_sent(self, to, since):  # type: ignore[no-untyped-def]
            from volunteer_hub.sms import TransientGatewayError

            raise TransientGatewayError("list down")

    gateway = Flaky()
    message = crashed_while_sending(session, gateway, clock, reached=True)
    clock.advance(seconds=settings.sending_timeout_s + 1)
    assert reconcile_stale_messages(session, gateway, settings=settings, now=clock()).deferred == 1
    session.expire_all()
    assert message.status == MessageStatus.SENDING


def test_two_reconcilers_never_decide_the_same_row(app, session, settings, clock):
    gateway = RecordingGateway()
    for i in range(20):
        crashed_while_sending(
            session, gateway, clock, reached=i % 2 == 0, phone=f"+8490{i:07d}", body=f"tin {i}"
        )
    clock.advance(seconds=settings.sending_timeout_s + 1)
    reports = []

    def run() -> None:
        with app.app_context():
            name = threading.current_thread().name
            reports.append(
                reconcile_stale_messages(
                    db.session, gateway, settings=settings, now=clock(), worker_id=name
                )
            )
            db.session.remove()

    threads = [threading.Thread(target=run, name=f"r{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r.checked for r in reports) == 20
    assert sum(r.found_sent for r in reports) == 10
    assert sum(r.requeued for r in reports) == 10


def test_a_send_that_outlived_its_claim_still_records_its_id(session, gateway, settings, clock):
    from volunteer_hub.services.messaging.dispatch import ClaimedMessage, record_sent

    message = queue_message(
        session, key="slow", kind="k", to_phone="+84901234567", body="x", send_after=THURSDAY
    )
    session.commit()
    (claimed,) = claim_due_messages(
        session, worker_id="slow:1", provider="recording", now=clock(), limit=1
    )
    # Reconciliation took the row over and queued it again before the slow send returned.
    session.execute(update(Message).values(status=MessageStatus.QUEUED, claimed_by=None))
    session.commit()
    record_sent(
        session,
        ClaimedMessage(claimed.id, claimed.to_phone, claimed.body, 1, 1),
        SendResult("SMlate"),
        worker_id="slow:1",
        now=clock() + timedelta(seconds=1),
    )
    session.commit()
    session.expire_all()
    assert message.status == MessageStatus.SENT and message.provider_sid == "SMlate"
    assert session.scalars(select(Message.status)).all() == [MessageStatus.SENT]
