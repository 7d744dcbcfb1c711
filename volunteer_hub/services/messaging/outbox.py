"""The SMS outbox: messages are rows written in the same transaction as their cause.

A message's life: ``queued`` → ``sending`` (claimed and committed before the provider call) →
``sent`` (with the provider's id) → ``delivered``/``undelivered``/``failed`` from delivery
reports. Queueing, cancelling and opting out happen here; the worker's sending is in
``dispatch``, crash recovery in ``reconcile``, delivery reports in ``delivery``. See docs/sms.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Message,
    MessageStatus,
    SmsOptOut,
    utcnow,
)
from volunteer_hub.services.messaging.sealing import masked, seal, secrets_in
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.sms.text import analyse

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

#: Statuses after which nothing more happens to a message.
FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELLED,
    }
)

T = TypeVar("T")


class MessagingError(ValueError):
    """A messaging request that cannot be carried out; the text is shown to people."""


def _find_by_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.idempotency_key == key))


def message_exists(session: Session, key: str) -> bool:
    """Return True when a message with this idempotency key is already in the outbox."""
    return session.scalar(select(Message.id).where(Message.idempotency_key == key)) is not None


def is_opted_out(session: Session, phone: str) -> bool:
    """Return True when this number asked for no more SMS."""
    return session.get(SmsOptOut, phone) is not None


def queue_message(
    session: Session,
    *,
    key: str,
    kind: str,
    to_phone: str,
    body: str,
    locale: str = "vi",
    urgent: bool = False,
    send_after: datetime | None = None,
    drive_id: int | None = None,
    visit_id: int | None = None,
    volunteer_id: int | None = None,
    request_id: int | None = None,
    secrets: Iterable[str] = (),
    settings: SmsSettings | None = None,
) -> Message:
    """Add a message to the outbox unless one with the same idempotency key exists.

    ``secrets`` (a phone code) and every personal link code in the body are masked in the
    stored ``body``; the real text is sealed in ``sealed_body`` until it is sent (see
    ``sealing``). Its length and encoding are those of the real text.

    The caller commits: the message is written in the same transaction as its cause, so a
    rolled-back change never leaves a message behind and a committed one always has it.
    A number that opted out still gets its row, already ``cancelled`` (error code
    ``opted_out``), so "why did they not get it?" has an answer and the key stays used.
    """
    existing = _find_by_key(session, key)
    if existing is not None:
        return existing
    if not E164.match(to_phone or ""):
        raise MessagingError(f"not an E.164 phone number: {to_phone!r}")
    if not body.strip():
        raise MessagingError("an SMS needs a body")
    stats = analyse(body)
    opted_out = is_opted_out(session, to_phone)
    hidden = secrets_in(body, secrets)
    sealed = None
    if hidden and not opted_out:
        sealed = seal(body, sms_settings(settings).sealing_keys)
    message = Message(
        idempotency_key=key,
        kind=kind,
        to_phone=to_phone,
        body=masked(body, hidden),
        sealed_body=sealed,
        locale=locale,
        encoding=stats.encoding,
        segments=stats.segments,
        urgent=urgent,
        send_after=send_after or utcnow(),
        status=MessageStatus.CANCELLED if opted_out else MessageStatus.QUEUED,
        error_code="opted_out" if opted_out else None,
        drive_id=drive_id,
        visit_id=visit_id,
        volunteer_id=volunteer_id,
        request_id=request_id,
    )
    return insert_once(session, message, lambda: _find_by_key(session, key))


def insert_once(session: Session, row: T, find: Callable[[], T | None]) -> T:
    """Insert ``row``; when another transaction inserted the same unique key first, return theirs.

    The insert runs in a savepoint, so losing the race undoes only this insert, never the
    caller's other changes. SQLite's driver cannot nest a savepoint in a transaction it has not
    begun (its SAVEPOINT would start and then commit one of its own), so when nothing was
    written yet the insert is plain: losing the race then has nothing of the caller's to undo.
    """
    connection = session.connection()
    nested = connection.dialect.name != "sqlite" or bool(
        getattr(connection.connection.dbapi_connection, "in_transaction", True)
    )
    try:
        if nested:
            with session.begin_nested():
                session.add(row)
                session.flush()
        else:
            session.add(row)
            session.flush()
    except IntegrityError:
        if not nested:
            session.rollback()
        existing = find()
        if existing is None:
            raise
        return existing
    return row


def cancel_queued(
    session: Session,
    *,
    visit_id: int | None = None,
    phone: str | None = None,
    kinds: Iterable[str] | None = None,
    volunteer_id: int | None = None,
    reason: str = "cancelled",
) -> int:
    """Cancel messages not yet handed to the provider; return how many."""
    statement = update(Message).where(
        Message.status.in_([MessageStatus.QUEUED, MessageStatus.HELD])
    )
    if visit_id is not None:
        statement = statement.where(Message.visit_id == visit_id)
    if phone is not None:
        statement = statement.where(Message.to_phone == phone)
    if volunteer_id is not None:
        statement = statement.where(Message.volunteer_id == volunteer_id)
    if kinds is not None:
        statement = statement.where(Message.kind.in_(list(kinds)))
    result = session.execute(
        statement.values(
            status=MessageStatus.CANCELLED,
            error_code=reason[:20],
            status_updated_at=utcnow(),
            sealed_body=None,
        ),
        execution_options={"synchronize_session": "fetch"},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def opt_out(
    session: Session,
    phone: str,
    *,
    source: str,
    note: str | None = None,
    now: datetime | None = None,
) -> SmsOptOut:
    """Record that a number gets no more SMS, and cancel what is waiting for it."""
    now = now or utcnow()
    found = session.get(SmsOptOut, phone)
    if found is None:
        found = insert_once(
            session,
            SmsOptOut(phone=phone, source=source, note=(note or None), opted_out_at=now),
            lambda: session.get(SmsOptOut, phone),
        )
    cancel_queued(session, phone=phone, reason="opted_out")
    return found


def remove_opt_out(session: Session, phone: str) -> bool:
    """Let a number receive SMS again (a coordinator's decision); return True if it was out."""
    found = session.get(SmsOptOut, phone)
    if found is None:
        return False
    session.delete(found)
    session.flush()
    return True


def outbox_counts(session: Session) -> dict[str, int]:
    """Return the number of messages in each status (every status, zeros included)."""
    counts = {status.value: 0 for status in MessageStatus}
    for status, count in session.execute(
        select(Message.status, func.count()).group_by(Message.status)
    ):
        counts[MessageStatus(status).value] = int(count)
    return counts
