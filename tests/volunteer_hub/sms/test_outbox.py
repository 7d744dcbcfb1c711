"""The outbox: idempotent queuing, atomic claims, retries, permanent errors, quiet hours."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import server_url
from tests.fakes import FixedClock, RecordingGateway, permanent, transient, uncertain
from tests.volunteer_hub.sms.conftest import THURSDAY, vn
from volunteer_hub.extensions import db
from volunteer_hub.models import Message, MessageStatus, SmsOptOut
from volunteer_hub.services.messaging import outbox
from volunteer_hub.services.messaging.dispatch import claim_due_messages, send_due_messages
from volunteer_hub.services.messaging.outbox import (
    MessagingError,
    opt_out,
    outbox_counts,
    queue_message,
)
from volunteer_hub.services.messaging.settings import (
    SmsSettingsError,
    is_quiet_time,
    parse_quiet_hours,
)
from volunteer_hub.sms import SenderThrottle


def queue(
    session,
    n: int = 1,
    *,
    phone: str = "+84901234567",
    urgent: bool = False,  # type: ignore[no-untyped-def]
    prefix: str = "t",
    send_after=None,
):
    made = [
        queue_message(
            session,
            key=f"{prefix}:{i}",
            kind="broadcast",
            to_phone=phone if n == 1 else f"+8490{i:07d}",
            body=f"Doan TN: tin {prefix} {i}",
            urgent=urgent,
            send_after=send_after or THURSDAY,
        )
        for i in range(n)
    ]
    session.commit()
    return made


def statuses(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in outbox_counts(session).items() if v}


def test_queuing_twice_with_the_same_key_makes_one_message(session):
    first = queue_message(
        session,
        key="visit:1:reminder-eve:v2",
        kind="reminder",
        to_phone="+84901234567",
        body="Doan TN: nhac lich",
        send_after=THURSDAY,
    )
    second = queue_message(
        session,
        key="visit:1:reminder-eve:v2",
        kind="reminder",
        to_phone="+84901234567",
        body="another body",
        send_after=THURSDAY,
    )
    session.commit()
    assert first.id == second.id
    assert session.scalars(select(Message)).all() == [first]
    assert first.body == "Doan TN: nhac lich"


def test_queue_message_stores_encoding_and_parts(session):
    plain = queue_message(
        session, key="a", kind="k", to_phone="+84901234567", body="x" * 170, send_after=THURSDAY
    )
    accented = queue_message(
        session, key="b", kind="k", to_phone="+84901234567", body="Đoàn", send_after=THURSDAY
    )
    assert (plain.encoding, plain.segments) == ("GSM-7", 2)
    assert (accented.encoding, accented.segments) == ("UCS-2", 1)


def test_queue_message_never_commits(session, app):
    queue_message(
        session, key="x", kind="k", to_phone="+84901234567", body="hello", send_after=THURSDAY
    )
    session.rollback()
    assert session.scalars(select(Message)).all() == []


def test_queue_message_after_other_writes_never_commits_them(session, app):
    # SQLite's driver commits a SAVEPOINT opened outside a transaction; inside one it nests.
    session.add(SmsOptOut(phone="+84909999999", source="coordinator"))
    session.flush()
    queue_message(
        session, key="x", kind="k", to_phone="+84901234567", body="hello", send_after=THURSDAY
    )
    queue_message(
        session, key="x", kind="k", to_phone="+84901234567", body="again", send_after=THURSDAY
    )
    session.rollback()
    assert session.scalars(select(Message)).all() == []
    assert session.get(SmsOptOut, "+84909999999") is None


def test_an_opted_out_number_gets_a_cancelled_row(session, gateway):
    opt_out(session, "+84901234567", source="link")
    message = queue_message(
        session, key="x", kind="k", to_phone="+84901234567", body="hello", send_after=THURSDAY
    )
    session.commit()
    assert message.status == MessageStatus.CANCELLED and message.error_code == "opted_out"
    send_due_messages(session, gateway)
    assert gateway.sent == []


def test_bad_phone_or_empty_body_is_refused(session):
    with pytest.raises(MessagingError):
        queue_message(
            session, key="x", kind="k", to_phone="0901234567", body="hello", send_after=THURSDAY
        )
    with pytest.raises(MessagingError):
        queue_message(
            session, key="y", kind="k", to_phone="+84901234567", body="  ", send_after=THURSDAY
        )


@pytest.mark.skipif(server_url() is None, reason="needs PostgreSQL: SQLite has one writer")
def test_concurrent_inserts_of_one_key_make_one_message_and_keep_the_callers_work(app):
    """Two transactions queue the same key at once; the second keeps its own other changes."""
    first_inserted = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        with app.app_context():
            message = queue_message(
                db.session,
                key="race",
                kind="k",
                to_phone="+84901111111",
                body="first",
                send_after=THURSDAY,
            )
            first_inserted.set()
            threading.Event().wait(0.5)  # hold the row uncommitted while the second inserts
            db.session.commit()
            results["first"] = message.id
            db.session.remove()

    def second() -> None:
        with app.app_context():
            first_inserted.wait(5)
            db.session.add(SmsOptOut(phone="+84902222222", source="coordinator"))
            message = queue_message(
                db.session,
                key="race",
                kind="k",
                to_phone="+84901111111",
                body="second",
                send_after=THURSDAY,
            )
            db.session.commit()
            results["second"] = message.id
            results["second_body"] = message.body
            db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results["first"] == results["second"]
    assert results["second_body"] == "first"
    db.session.expire_all()
    assert len(db.session.scalars(select(Message)).all()) == 1
    assert db.session.get(SmsOptOut, "+84902222222") is not None


def test_dispatch_sends_due_messages_and_stores_the_providers_id(session, gateway, settings):
    made = queue(session, 3)
    report = send_due_messages(session, gateway, settings=settings)
    assert (report.claimed, report.sent) == (3, 3)
    session.expire_all()
    for message in made:
        assert message.status == MessageStatus.SENT
        assert message.provider_sid in {s.sid for s in gateway.sent}
        assert message.sent_at is not None and message.attempts == 1
    assert sorted(gateway.bodies()) == sorted(m.body for m in made)


def test_messages_due_later_wait(session, gateway, settings, clock):
    queue(session, 1, send_after=clock() + timedelta(hours=1))
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert gateway.sent == []
    clock.advance(hours=1)
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert len(gateway.sent) == 1


def test_a_transient_error_retries_later_with_backoff(session, gateway, settings, clock):
    (message,) = queue(session, 1)
    gateway.fail_next(message.to_phone, transient("20429"), transient("20500"))
    report = send_due_messages(session, gateway, settings=settings, clock=clock)
    assert report.retrying == 1
    session.expire_all()
    assert message.status == MessageStatus.QUEUED and message.error_code == "20429"
    first_wait = message.send_after - clock()
    assert timedelta(seconds=30) <= first_wait <= timedelta(seconds=34)

    clock.now = message.send_after
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert message.status == MessageStatus.QUEUED and message.attempts == 2
    assert message.send_after - clock() >= timedelta(seconds=60)  # doubled

    clock.now = message.send_after
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert len(gateway.to(message.to_phone)) == 1


def test_transient_errors_give_up_after_the_last_attempt(session, gateway, settings, clock):
    settings = replace(settings, max_attempts=2, retry_base_s=0)
    (message,) = queue(session, 1)
    gateway.fail_always(message.to_phone, transient())
    for _ in range(3):
        send_due_messages(session, gateway, settings=settings, clock=clock)
        clock.advance(seconds=1)
    session.expire_all()
    assert message.status == MessageStatus.FAILED and message.attempts == 2


def test_an_invalid_number_fails_at_once_and_marks_the_number(session, gateway, settings):
    first, second = queue(session, 1, prefix="a")[0], queue(session, 1, prefix="b")[0]
    gateway.fail_always(first.to_phone, permanent("21211", invalid_number=True))
    send_due_messages(session, gateway, settings=settings, max_batches=1)
    session.expire_all()
    assert first.status == MessageStatus.FAILED and first.error_code == "21211"
    assert session.get(SmsOptOut, first.to_phone).source == "invalid_number"
    # Everything else to that number stops too.
    assert second.status in (MessageStatus.FAILED, MessageStatus.CANCELLED)
    assert gateway.calls <= 2


def test_an_opted_out_error_records_the_opt_out(session, gateway, settings):
    made = queue(session, 1)
    gateway.fail_next(made[0].to_phone, permanent("21610", opted_out=True))
    send_due_messages(session, gateway, settings=settings)
    later = queue_message(
        session, key="later", kind="k", to_phone=made[0].to_phone, body="x", send_after=THURSDAY
    )
    session.commit()
    assert session.get(SmsOptOut, made[0].to_phone).source == "provider"
    assert later.status == MessageStatus.CANCELLED


def test_an_uncertain_send_stays_sending_for_reconciliation(session, gateway, settings):
    (message,) = queue(session, 1)
    gateway.fail_next(message.to_phone, uncertain())
    report = send_due_messages(session, gateway, settings=settings)
    assert report.uncertain == 1
    session.expire_all()
    assert message.status == MessageStatus.SENDING and message.error_code == "uncertain"
    # A second dispatch never picks it up again.
    send_due_messages(session, gateway, settings=settings)
    assert gateway.sent == []


def test_a_number_that_opts_out_after_queuing_is_skipped_at_send_time(session, gateway, settings):
    (message,) = queue(session, 1)
    session.add(SmsOptOut(phone=message.to_phone, source="coordinator"))
    session.commit()
    report = send_due_messages(session, gateway, settings=settings)
    session.expire_all()
    assert report.cancelled == 1 and gateway.sent == []
    assert message.status == MessageStatus.CANCELLED


def test_quiet_hours_hold_non_urgent_messages_until_morning(session, gateway, settings):
    settings = replace(settings, quiet_hours=(time(21), time(7)))
    clock = FixedClock(vn(2026, 11, 26, 22, 30))
    routine = queue(session, 1, prefix="routine", phone="+84901111111")[0]
    urgent = queue(session, 1, prefix="urgent", phone="+84902222222", urgent=True)[0]
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert urgent.status == MessageStatus.SENT
    assert routine.status == MessageStatus.QUEUED
    clock.now = vn(2026, 11, 27, 7, 0)
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert routine.status == MessageStatus.SENT


def test_quiet_hours_setting_parses_and_can_be_turned_off(settings):
    assert parse_quiet_hours("21:00-07:00") == (time(21), time(7))
    assert parse_quiet_hours("") is None
    assert parse_quiet_hours("22:30 - 06:15") == (time(22, 30), time(6, 15))
    for wrong in ("21-7", "25:00-07:00", "evening"):
        with pytest.raises(SmsSettingsError):
            parse_quiet_hours(wrong)
    off = replace(settings, quiet_hours=None)
    assert not is_quiet_time(vn(2026, 11, 26, 23), off)
    daytime = replace(settings, quiet_hours=(time(12), time(13)))
    assert is_quiet_time(vn(2026, 11, 26, 12, 30), daytime)
    assert not is_quiet_time(vn(2026, 11, 26, 13), daytime)


def test_a_claim_takes_at_most_its_batch(session, clock):
    # PostgreSQL may evaluate "id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" more than
    # once and claim far more than n rows; the claim must take exactly one batch.
    queue(session, 30)
    claimed = claim_due_messages(session, worker_id="w", provider="p", now=clock(), limit=7)
    assert len(claimed) == 7
    assert statuses(session) == {"queued": 23, "sending": 7}


def test_two_claims_at_once_never_share_a_row(app, session, settings, clock):
    queue(session, 60)
    claims: list[list[int]] = []
    barrier = threading.Barrier(3)

    def claim(name: str) -> None:
        with app.app_context():
            barrier.wait(5)
            got: list[int] = []
            while True:
                batch = claim_due_messages(
                    db.session, worker_id=name, provider="recording", now=clock(), limit=7
                )
                if not batch:
                    break
                got += [m.id for m in batch]
            claims.append(got)
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    everything = [i for c in claims for i in c]
    assert len(everything) == 60 and len(set(everything)) == 60
    rows = session.scalars(select(Message)).all()
    assert {m.status for m in rows} == {MessageStatus.SENDING}
    assert {m.claimed_by for m in rows} <= {"w0", "w1", "w2"}


def test_concurrent_sends_use_threads_when_the_backend_allows(session, settings):
    gateway = RecordingGateway(max_concurrency=4)
    queue(session, 40)
    report = send_due_messages(session, gateway, settings=replace(settings, concurrency=4))
    assert report.sent == 40 and len({s.body for s in gateway.sent}) == 40


def test_the_sender_throttle_paces_segments():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = SenderThrottle(1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        throttle.acquire(1)
    assert sum(slept) == pytest.approx(3.0)
    assert SenderThrottle(0).acquire(5) == 0.0


def test_a_rate_limit_claims_only_a_few_seconds_of_work_at_a_time(session, gateway, settings):
    queue(session, 30)
    throttle = SenderThrottle(1.0, burst=100)  # a long code: one segment a second
    report = send_due_messages(
        session, gateway, settings=settings, throttle=throttle, max_batches=1
    )
    assert report.claimed == 10
    assert statuses(session) == {"queued": 20, "sent": 10}


def test_status_counts_list_every_status(session, gateway, settings):
    queue(session, 2)
    send_due_messages(session, gateway, settings=settings, max_batches=1)
    counts = outbox_counts(session)
    assert set(counts) == {s.value for s in MessageStatus}
    assert counts["sent"] == 2 and counts["queued"] == 0


def test_the_dispatcher_stops_between_batches_when_asked(session, gateway, settings):
    queue(session, 5)
    stop = threading.Event()
    stop.set()
    report = send_due_messages(session, gateway, settings=settings, stop=stop)
    assert report.claimed == 0
    assert statuses(session) == {"queued": 5}
    assert outbox.message_exists(session, "t:0")
