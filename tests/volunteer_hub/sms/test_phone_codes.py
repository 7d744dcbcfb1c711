"""Phone verification codes: urgent, hashed, short-lived, rate-limited, five tries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fakes import FixedClock, real_text
from tests.volunteer_hub.sms.conftest import vn
from volunteer_hub.models import Message, PhoneVerification
from volunteer_hub.services.intake.phone_codes import (
    PhoneCodeError,
    send_phone_code,
    verify_phone_code,
)
from volunteer_hub.services.messaging.outbox import opt_out


def code_in(message: Message) -> str:
    return re.search(r"\b(\d{6})\b", real_text(message)).group(1)


@pytest.fixture
def volunteer(world):  # type: ignore[no-untyped-def]
    return world.a.volunteer


def sent_code(session, volunteer, clock, settings) -> tuple[PhoneVerification, str]:  # type: ignore[no-untyped-def]
    verification = send_phone_code(session, volunteer, now=clock(), settings=settings)
    session.commit()
    message = session.scalar(
        select(Message).where(Message.idempotency_key == f"phone-code:{verification.id}")
    )
    return verification, code_in(message)


def test_a_code_is_queued_urgently_and_only_its_hash_is_kept(session, volunteer, settings):
    clock = FixedClock(vn(2026, 11, 26, 23))  # in quiet hours: still goes out
    verification, code = sent_code(session, volunteer, clock, settings)
    message = session.scalar(select(Message))
    assert message.kind == "phone_code" and message.urgent and message.to_phone == volunteer.phone
    assert message.body.startswith("Doan TN Hue: ")
    assert code not in verification.code_hash
    # PostgreSQL enforces the column's length (SQLite would not notice).
    assert len(verification.code_hash) <= PhoneVerification.__table__.c.code_hash.type.length
    assert verification.expires_at == clock() + timedelta(minutes=10)


def test_the_right_code_verifies_the_phone(session, volunteer, settings, clock):
    _, code = sent_code(session, volunteer, clock, settings)
    assert verify_phone_code(session, volunteer, code, now=clock(), settings=settings)
    assert volunteer.phone_verified_at == clock()
    # Used up: the same code does not work twice.
    assert not verify_phone_code(session, volunteer, code, now=clock(), settings=settings)


def test_spaces_in_a_typed_code_are_fine(session, volunteer, settings, clock):
    _, code = sent_code(session, volunteer, clock, settings)
    assert verify_phone_code(
        session, volunteer, f" {code[:3]} {code[3:]} ", now=clock(), settings=settings
    )


def test_five_wrong_tries_use_the_code_up(session, volunteer, settings, clock):
    verification, code = sent_code(session, volunteer, clock, settings)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert not verify_phone_code(session, volunteer, wrong, now=clock(), settings=settings)
    assert verification.attempts == 5
    assert not verify_phone_code(session, volunteer, code, now=clock(), settings=settings)
    assert volunteer.phone_verified_at is None


def test_a_code_expires_after_ten_minutes(session, volunteer, settings, clock):
    _, code = sent_code(session, volunteer, clock, settings)
    clock.advance(minutes=10)
    assert not verify_phone_code(session, volunteer, code, now=clock(), settings=settings)


def test_only_the_newest_code_counts(session, volunteer, settings, clock):
    _, first = sent_code(session, volunteer, clock, settings)
    clock.advance(minutes=2)
    _, second = sent_code(session, volunteer, clock, settings)
    if first != second:
        assert not verify_phone_code(session, volunteer, first, now=clock(), settings=settings)
    assert verify_phone_code(session, volunteer, second, now=clock(), settings=settings)


def test_codes_are_limited_to_one_a_minute_and_five_a_day(session, volunteer, settings, clock):
    sent_code(session, volunteer, clock, settings)
    clock.advance(seconds=30)
    with pytest.raises(PhoneCodeError, match="minute"):
        send_phone_code(session, volunteer, now=clock(), settings=settings)
    for _ in range(4):
        clock.advance(minutes=2)
        sent_code(session, volunteer, clock, settings)
    clock.advance(minutes=2)
    with pytest.raises(PhoneCodeError, match="today"):
        send_phone_code(session, volunteer, now=clock(), settings=settings)
    clock.advance(hours=24)
    sent_code(session, volunteer, clock, settings)


def test_an_opted_out_number_gets_no_code(session, volunteer, settings, clock):
    opt_out(session, volunteer.phone, source="sms")
    with pytest.raises(PhoneCodeError):
        send_phone_code(session, volunteer, now=clock(), settings=settings)


def test_a_code_for_an_old_number_does_not_verify_a_new_one(session, volunteer, settings, clock):
    _, code = sent_code(session, volunteer, clock, settings)
    volunteer.phone = "+84909998887"
    assert not verify_phone_code(session, volunteer, code, now=clock(), settings=settings)
