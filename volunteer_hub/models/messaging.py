"""SMS: the outbox, inbound messages, templates, opt-outs, personal links, phone checks."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.models.base import Base, enum_column, utcnow


class MessageStatus(enum.StrEnum):
    """An outbound message's life: queued → sending → sent → delivered (or an end)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    # A "sending" row whose fate after a crash the provider could not tell: a person decides.
    HELD = "held"
    CANCELLED = "cancelled"


class Message(Base):
    """An outbound SMS, written in the same transaction as the change that causes it."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_status_due", "status", "send_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # For example "visit:123:reminder-eve:v2": queuing twice still makes one message.
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_phone: Mapped[str] = mapped_column(String(20), index=True)
    # What people (admins, exports, logs) see: a phone code or personal link in it is masked.
    body: Mapped[str] = mapped_column(Text)
    # The real text, Fernet-encrypted, only while it waits to be sent
    # (see services/messaging/sealing.py).
    sealed_body: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    segments: Mapped[int] = mapped_column(default=1)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus), default=MessageStatus.QUEUED
    )
    # Urgent messages (a same-day change) ignore quiet hours.
    urgent: Mapped[bool] = mapped_column(default=False)
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(500))
    # What the provider charged, in its currency (Twilio reports USD, negative).
    price: Mapped[float | None] = mapped_column(Numeric(10, 5))
    price_unit: Mapped[str | None] = mapped_column(String(8))
    # Indexed for the reports' periods.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    status_updated_at: Mapped[datetime | None]
    drive_id: Mapped[int | None] = mapped_column(ForeignKey("drive.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"), index=True)


class InboundMessage(Base):
    """A message received from a phone, where two-way SMS works."""

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The provider's id: a retried webhook finds its row and changes nothing.
    provider_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20), index=True)
    to_phone: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What we understood ("accept", "decline", "done", "opt_out", "help", "unknown").
    action: Mapped[str | None] = mapped_column(String(20))
    result: Mapped[str | None] = mapped_column(String(300))


class MessageTemplate(Base):
    """The text of a kind of message in one language, editable by admins."""

    __tablename__ = "message_template"
    __table_args__ = (UniqueConstraint("kind", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class SmsOptOut(Base):
    """A phone number that asked for no more SMS; every send honours it."""

    __tablename__ = "sms_opt_out"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "link", "sms" (STOP/HUY), "coordinator" or "provider" (error 21610).
    source: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(300))


class PersonalLink(Base):
    """A short personal link sent by SMS; only a hash of its code is stored."""

    __tablename__ = "personal_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "volunteer_visit", "household_visit", "volunteer_day" (all of a volunteer's visits of
    # one drive day: ``drive_id``, ``volunteer_id`` and ``day``, no ``visit_id``), ...
    purpose: Mapped[str] = mapped_column(String(30))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"), index=True)
    drive_id: Mapped[int | None] = mapped_column(ForeignKey("drive.id"), index=True)
    # The local drive day of a "volunteer_day" link.
    day: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]


class PhoneVerification(Base):
    """A one-time code sent to prove a volunteer owns a phone; only its hash is stored."""

    __tablename__ = "phone_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None]


class VisitResponse(Base):
    """What a volunteer or household answered about a visit, by personal link or SMS reply.

    Append-only: a decline or a request for another time stays here, unresolved, until a
    coordinator re-plans (``resolved_at``).
    """

    __tablename__ = "visit_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    # "volunteer" or "household".
    role: Mapped[str] = mapped_column(String(12))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    # "accept", "decline", "confirm", "cancel", "reschedule", "done", "feedback".
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    # For a volunteer's decline: "visit" (only this one), "day" or "drive" (cannot come then).
    scope: Mapped[str | None] = mapped_column(String(8))
    # "link" or "sms".
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
