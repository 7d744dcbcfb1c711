"""Phone verification at volunteer sign-up: a 6-digit code by SMS, stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    PhoneVerification,
    Volunteer,
    utcnow,
)
from volunteer_hub.services.messaging.outbox import MessagingError, is_opted_out, queue_message
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.services.messaging.templates import render_sms

PHONE_CODE_DIGITS = 6
PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_CODE_MIN_INTERVAL = timedelta(minutes=1)
PHONE_CODES_PER_DAY = 5
PHONE_CODE_MAX_ATTEMPTS = 5


class PhoneCodeError(MessagingError):
    """A code cannot be sent now (too soon, too many today, the number opted out)."""


def _code_hash(secret: str, verification_id: int, code: str) -> str:
    # Keyed with the app's secret and the row's id: a 6-digit code is trivial to brute-force
    # from a bare hash, and the same code sent twice never hashes the same.
    key = (secret or "volunteer_hub").encode()
    return hmac.new(key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


#: What a number that asked for no more SMS is told when it asks for a code.
OPTED_OUT = _l("This number asked for no more SMS. Please ask your coordinator for help.")


def send_phone_code(
    session: Session,
    volunteer: Volunteer,
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> PhoneVerification:
    """Queue a 6-digit code to the volunteer's phone (urgent: quiet hours do not delay it).

    At most one code a minute and five a day per number; only a keyed hash of the code is
    stored. The caller commits.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    phone = volunteer.phone
    if is_opted_out(session, phone):
        raise PhoneCodeError(str(OPTED_OUT))
    recent = session.execute(
        select(func.count(), func.max(PhoneVerification.created_at)).where(
            PhoneVerification.phone == phone,
            PhoneVerification.created_at >= now - timedelta(days=1),
        )
    ).one()
    count, latest = int(recent[0] or 0), recent[1]
    if latest is not None and now - latest < PHONE_CODE_MIN_INTERVAL:
        raise PhoneCodeError(str(_l("A code was sent a moment ago. Please wait a minute.")))
    if count >= PHONE_CODES_PER_DAY:
        raise PhoneCodeError(
            str(_l("Too many codes were sent to this number today. Please try again tomorrow."))
        )
    code = "".join(secrets.choice("0123456789") for _ in range(PHONE_CODE_DIGITS))
    verification = PhoneVerification(
        volunteer_id=volunteer.id,
        phone=phone,
        code_hash="",
        created_at=now,
        expires_at=now + PHONE_CODE_TTL,
    )
    session.add(verification)
    session.flush()
    verification.code_hash = _code_hash(settings.secret_key, verification.id, code)
    locale = "vi" if "vi" in (volunteer.languages or ["vi"]) else "en"
    body = render_sms(
        session,
        "phone_code",
        locale,
        {"code": code},
        unaccented=settings.unaccented_default,
        settings=settings,
    )
    queue_message(
        session,
        key=f"phone-code:{verification.id}",
        kind="phone_code",
        to_phone=phone,
        body=body,
        locale=locale,
        urgent=True,
        send_after=now,
        volunteer_id=volunteer.id,
        secrets=[code],
        settings=settings,
    )
    return verification


def send_already_registered(
    session: Session,
    volunteer: Volunteer,
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> None:
    """Tell a verified volunteer that someone signed up again with their number.

    The sign-up page answers as for a new number, so a stranger learns nothing; the owner
    learns it by SMS. At most one such message a day per volunteer. The caller commits.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    locale = "vi" if "vi" in (volunteer.languages or ["vi"]) else "en"
    body = render_sms(
        session,
        "already_registered",
        locale,
        {},
        unaccented=settings.unaccented_default,
        settings=settings,
    )
    queue_message(
        session,
        key=f"already-registered:{volunteer.id}:{now.date().isoformat()}",
        kind="already_registered",
        to_phone=volunteer.phone,
        body=body,
        locale=locale,
        urgent=True,
        send_after=now,
        volunteer_id=volunteer.id,
        settings=settings,
    )


def verify_phone_code(
    session: Session,
    volunteer: Volunteer,
    code: str,
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> bool:
    """Check a code against the latest one sent; five tries per code. The caller commits.

    On success the volunteer's ``phone_verified_at`` is set. Failed tries are counted on the
    code, so commit after a False too.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    typed = "".join(ch for ch in (code or "") if ch.isdigit())
    verification = session.scalar(
        select(PhoneVerification)
        .where(
            PhoneVerification.volunteer_id == volunteer.id,
            PhoneVerification.phone == volunteer.phone,
            PhoneVerification.verified_at.is_(None),
        )
        .order_by(PhoneVerification.created_at.desc(), PhoneVerification.id.desc())
        .limit(1)
    )
    if verification is None or verification.expires_at <= now:
        return False
    if verification.attempts >= PHONE_CODE_MAX_ATTEMPTS:
        return False
    verification.attempts += 1
    ok = len(typed) == PHONE_CODE_DIGITS and hmac.compare_digest(
        verification.code_hash, _code_hash(settings.secret_key, verification.id, typed)
    )
    if ok:
        verification.verified_at = now
        volunteer.phone_verified_at = now
    session.flush()
    return ok
