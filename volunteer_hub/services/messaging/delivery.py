"""Delivery reports, and what went wrong with a drive's messages or a number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    HelpRequest,
    Message,
    MessageStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.services.messaging.outbox import FINAL_STATUSES, opt_out
from volunteer_hub.services.messaging.settings import sms_settings

# Twilio's words for a message's state, mapped onto ours. "accepted", "queued", "sending" and
# "sent" all mean the provider has it; Vietnamese carriers may never report more than that.
PROVIDER_STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.HELD: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.CANCELLED: 3,
}


@dataclass(frozen=True)
class StatusChange:
    """What a delivery report did: the message it named (if any) and whether it changed."""

    message: Message | None
    changed: bool


def apply_status(
    session: Session,
    *,
    provider_sid: str,
    provider_status: str,
    error_code: str | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
) -> StatusChange:
    """Apply a delivery report; reports never move a message backwards, repeats change nothing."""
    now = now or utcnow()
    message = session.scalar(
        select(Message).where(Message.provider_sid == provider_sid).with_for_update()
    )
    status = PROVIDER_STATUSES.get((provider_status or "").strip().lower())
    if message is None or status is None:
        return StatusChange(message, False)
    current = MessageStatus(message.status)
    if _RANK[status] < _RANK[current] or status == current or current in FINAL_STATUSES:
        # A late "sent" after "delivered", a retried webhook, or an end already reached.
        return StatusChange(message, False)
    message.status = status
    message.status_updated_at = now
    if status is MessageStatus.DELIVERED:
        message.delivered_at = now
    if error_code:
        message.error_code = str(error_code)[:20]
        message.error_message = (error_message or f"provider error {error_code}")[:500]
        if str(error_code) == "21610":
            opt_out(session, message.to_phone, source="provider", note=None, now=now)
    session.flush()
    return StatusChange(message, True)


@dataclass(frozen=True)
class FailingNumber:
    """A number whose latest messages all failed: the coordinator should check it."""

    phone: str
    failures: int
    last_error: str | None
    last_at: datetime | None


def failing_numbers(
    session: Session,
    *,
    threshold: int | None = None,
    since: datetime | None = None,
    drive_id: int | None = None,
) -> list[FailingNumber]:
    """Return numbers whose last ``threshold`` (or more) finished messages all failed.

    With ``drive_id``, only that drive's messages count (what its coordinator may see).
    """
    threshold = threshold or sms_settings().failing_after
    since = since or utcnow() - timedelta(days=90)
    finished = (
        select(Message.to_phone, Message.status, Message.error_code, Message.status_updated_at)
        .where(
            Message.status.in_(
                [MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED]
            ),
            Message.created_at >= since,
        )
        .order_by(Message.to_phone, Message.created_at.desc(), Message.id.desc())
    )
    if drive_id is not None:
        finished = finished.where(Message.drive_id == drive_id)
    rows = session.execute(finished).all()
    flagged: list[FailingNumber] = []
    streaks: dict[str, list[Any]] = {}
    broken: set[str] = set()
    for phone, status, error, at in rows:
        if phone in broken:
            continue
        if MessageStatus(status) is MessageStatus.DELIVERED:
            broken.add(phone)
            continue
        streaks.setdefault(phone, []).append((error, at))
    for phone, failures in streaks.items():
        if len(failures) >= threshold:
            flagged.append(FailingNumber(phone, len(failures), failures[0][0], failures[0][1]))
    flagged.sort(key=lambda f: (-f.failures, f.phone))
    return flagged


@dataclass
class DriveSmsProblems:
    """What went wrong with a drive's messages, for its coordinator."""

    held: list[Message]
    failed: list[Message]
    failing: list[FailingNumber]
    #: Phone -> who it is in the drive (a volunteer's name, or a request's code and name).
    names: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.held or self.failed or self.failing)


#: At most this many held or failed messages are listed for a drive (the newest).
DRIVE_PROBLEMS_LIMIT = 100


def drive_sms_problems(
    session: Session,
    drive_id: int,
    *,
    threshold: int | None = None,
    since: datetime | None = None,
) -> DriveSmsProblems:
    """Return a drive's held and failed messages, and its numbers that keep failing.

    Only the drive's own messages and numbers: a coordinator sees nothing of other drives.
    """
    problem = (
        select(Message)
        .where(Message.drive_id == drive_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(DRIVE_PROBLEMS_LIMIT)
    )
    held = list(session.scalars(problem.where(Message.status == MessageStatus.HELD)))
    failed = list(
        session.scalars(
            problem.where(Message.status.in_([MessageStatus.FAILED, MessageStatus.UNDELIVERED]))
        )
    )
    failing = failing_numbers(session, threshold=threshold, since=since, drive_id=drive_id)
    wanted = {m.to_phone for m in held + failed} | {f.phone for f in failing}
    names: dict[str, str] = {}
    for phone, name in session.execute(
        select(Message.to_phone, Volunteer.full_name)
        .join(Volunteer, Volunteer.id == Message.volunteer_id)
        .where(Message.drive_id == drive_id, Message.to_phone.in_(wanted))
    ):
        names.setdefault(phone, name)
    for phone, reference, name in session.execute(
        select(Message.to_phone, HelpRequest.reference, HelpRequest.beneficiary_name)
        .join(HelpRequest, HelpRequest.id == Message.request_id)
        .where(Message.drive_id == drive_id, Message.to_phone.in_(wanted))
    ):
        names.setdefault(phone, f"{reference} · {name}")
    return DriveSmsProblems(held, failed, failing, names)


def drive_message(session: Session, drive_id: int, message_id: int) -> Message | None:
    """Return the message if it belongs to the drive."""
    return session.scalar(
        select(Message).where(Message.id == message_id, Message.drive_id == drive_id)
    )
