"""The SMS outbox: messages are rows written in the same transaction as their cause.

A message's life: ``queued`` → ``sending`` (claimed and committed before the provider call) →
``sent`` (with the provider's id) → ``delivered``/``undelivered``/``failed`` from delivery
reports. A crash between the provider call and the commit leaves a ``sending`` row; after
``SMS_SENDING_TIMEOUT_S`` it is reconciled against the provider's message list (found: sent;
surely absent: queued again) or ``held`` for a coordinator when the provider cannot tell.
Nothing is ever resent blindly. See docs/sms.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import re
import secrets
import socket
import threading
import time as _time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    HelpRequest,
    Message,
    MessageStatus,
    PhoneVerification,
    SmsOptOut,
    User,
    Volunteer,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.sms import (
    GatewayError,
    PermanentGatewayError,
    SenderThrottle,
    SendResult,
    SmsGateway,
    TransientGatewayError,
    UncertainSendError,
)
from volunteer_hub.sms.text import analyse

logger = logging.getLogger("volunteer_hub.sms")

T = TypeVar("T")

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


class MessagingError(ValueError):
    """A messaging request that cannot be carried out; the text is shown to people."""


# --- settings -------------------------------------------------------------------------------


class SmsSettingsError(ValueError):
    """An SMS setting has a value that cannot work; one line a person can act on."""


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """Parse ``"21:00-07:00"`` (local times; the range may cross midnight); empty means none."""
    value = (text or "").strip()
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", value)
    if not match:
        raise SmsSettingsError(
            f"VH_SMS_QUIET_HOURS={value!r} must look like 21:00-07:00 (or be empty)"
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SmsSettingsError(f"VH_SMS_QUIET_HOURS={value!r} has an impossible time")
    start, end = time(h1, m1), time(h2, m2)
    return None if start == end else (start, end)


@dataclass(frozen=True)
class SmsSettings:
    """The SMS settings a service needs, read once from the app's config."""

    sender_name: str = "Đoàn TN"
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(7, 0))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    public_base_url: str = "http://127.0.0.1:5000"
    batch_size: int = 100
    concurrency: int = 8
    rate_per_s: float = 0.0
    sending_timeout_s: float = 300.0
    max_attempts: int = 6
    retry_base_s: float = 30.0
    price_per_segment: float = 0.08
    price_unit: str = "USD"
    failing_after: int = 3
    unaccented_default: bool = True
    link_valid_days: int = 7
    secret_key: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmsSettings:
        """Read the ``VH_SMS_*`` settings (and a few general ones) from a config mapping."""
        try:
            return cls(
                sender_name=str(config.get("SMS_SENDER_NAME") or "").strip() or "Đoàn TN",
                quiet_hours=parse_quiet_hours(config.get("SMS_QUIET_HOURS")),
                timezone=ZoneInfo(config.get("TIMEZONE") or "Asia/Ho_Chi_Minh"),
                public_base_url=str(config.get("PUBLIC_BASE_URL") or "").rstrip("/"),
                batch_size=max(1, int(config.get("SMS_BATCH_SIZE", 100))),
                concurrency=max(1, int(config.get("SMS_CONCURRENCY", 8))),
                rate_per_s=max(0.0, float(config.get("SMS_RATE_PER_S", 0))),
                sending_timeout_s=float(config.get("SMS_SENDING_TIMEOUT_S", 300)),
                max_attempts=max(1, int(config.get("SMS_MAX_ATTEMPTS", 6))),
                retry_base_s=max(0.0, float(config.get("SMS_RETRY_BASE_S", 30))),
                price_per_segment=float(config.get("SMS_PRICE_PER_SEGMENT", 0)),
                price_unit=str(config.get("SMS_PRICE_UNIT") or "USD"),
                failing_after=max(1, int(config.get("SMS_FAILING_AFTER", 3))),
                unaccented_default=bool(config.get("SMS_UNACCENTED_DEFAULT", True)),
                link_valid_days=max(0, int(config.get("LINK_VALID_DAYS", 7))),
                secret_key=str(config.get("SECRET_KEY") or ""),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SmsSettingsError):
                raise
            raise SmsSettingsError(f"an SMS setting is not a number: {exc}") from exc


def sms_settings(settings: SmsSettings | None = None) -> SmsSettings:
    """Return ``settings``, or the current app's."""
    return settings if settings is not None else SmsSettings.from_config(current_app.config)


def is_quiet_time(moment: datetime, settings: SmsSettings) -> bool:
    """Return True when ``moment`` falls in the quiet hours (non-urgent messages wait)."""
    if settings.quiet_hours is None:
        return False
    start, end = settings.quiet_hours
    local = moment.astimezone(settings.timezone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def worker_name() -> str:
    """Return this process's name in ``claimed_by`` (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


# --- the outbox -----------------------------------------------------------------------------


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
) -> Message:
    """Add a message to the outbox unless one with the same idempotency key exists.

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
    message = Message(
        idempotency_key=key,
        kind=kind,
        to_phone=to_phone,
        body=body,
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
            status=MessageStatus.CANCELLED, error_code=reason[:20], status_updated_at=utcnow()
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


# --- dispatch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedMessage:
    """A row this worker marked ``sending``: what it needs to call the provider."""

    id: int
    to_phone: str
    body: str
    segments: int
    attempts: int


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    cancelled: int = 0
    seconds: float = 0.0

    @property
    def messages_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def claim_due_messages(
    session: Session,
    *,
    worker_id: str,
    provider: str,
    now: datetime,
    limit: int,
    urgent_only: bool = False,
) -> list[ClaimedMessage]:
    """Mark up to ``limit`` due messages ``sending`` for this worker and commit.

    One statement claims the rows: on PostgreSQL its CTE locks them with
    ``FOR UPDATE SKIP LOCKED`` (so another worker's claim skips them instead of waiting); on
    SQLite the single ``UPDATE ... RETURNING`` runs under the database's one write lock.
    Either way a row is claimed by exactly one worker.
    """
    session.commit()  # start from a fresh snapshot: SQLite cannot upgrade a stale one
    due = select(Message.id).where(
        Message.status == MessageStatus.QUEUED, Message.send_after <= now
    )
    if urgent_only:
        due = due.where(Message.urgent.is_(True))
    # A CTE, not "id IN (subquery)": PostgreSQL may run an IN subquery more than once per
    # statement, and each run with SKIP LOCKED and LIMIT can lock another set of rows. A CTE
    # that locks rows is computed exactly once.
    due = (
        due.order_by(Message.urgent.desc(), Message.send_after, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(Message)
        .where(Message.id == due.c.id, Message.status == MessageStatus.QUEUED)
        .values(
            status=MessageStatus.SENDING,
            claimed_at=now,
            claimed_by=worker_id,
            provider=provider,
            attempts=Message.attempts + 1,
            status_updated_at=now,
        )
        .returning(Message.id, Message.to_phone, Message.body, Message.segments, Message.attempts)
    )
    rows = _atomically(
        session,
        lambda: session.execute(statement, execution_options={"synchronize_session": False}).all(),
    )
    claimed = [ClaimedMessage(r[0], r[1], r[2], int(r[3] or 1), int(r[4])) for r in rows]
    claimed.sort(key=lambda m: m.id)
    return claimed


def _atomically(session: Session, work: Callable[[], Any], attempts: int = 8) -> Any:
    """Run ``work`` and commit; when SQLite says "database is locked", start over.

    SQLite's busy timeout covers most waits, but a write that finds its snapshot outdated
    fails at once. ``work`` holds the whole transaction, so starting over after a rollback
    repeats all of it and loses nothing.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            value = work()
            session.commit()
            return value
        except OperationalError as exc:
            session.rollback()
            if "locked" not in str(exc.orig) or attempt == attempts - 1:
                raise
            _time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)  # noqa: S311
    return None  # pragma: no cover


def _backoff_s(attempts: int, settings: SmsSettings, hint: float | None) -> float:
    delay = min(3600.0, settings.retry_base_s * (2 ** max(0, attempts - 1)))
    delay *= 1 + random.random() * 0.1  # noqa: S311 - jitter, not a secret
    return max(delay, hint or 0.0)


def _conditional_update(
    session: Session, message_id: int, worker_id: str, values: dict[str, Any]
) -> int:
    statement = (
        update(Message)
        .where(
            Message.id == message_id,
            Message.status == MessageStatus.SENDING,
            Message.claimed_by == worker_id,
        )
        .values(**values)
    )
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def record_sent(
    session: Session, claimed: ClaimedMessage, result: SendResult, *, worker_id: str, now: datetime
) -> None:
    """Store the provider's id on a message this worker sent."""
    values: dict[str, Any] = {
        "status": MessageStatus.SENT,
        "provider_sid": result.provider_sid,
        "sent_at": now,
        "status_updated_at": now,
        "error_code": None,
        "error_message": None,
    }
    if result.segments:
        values["segments"] = result.segments
    if _conditional_update(session, claimed.id, worker_id, values):
        return
    # Reconciliation took the row meanwhile (the send outlived SMS_SENDING_TIMEOUT_S). The
    # provider has the message, so record it wherever the row is, unless it went out again.
    fallback = (
        update(Message)
        .where(
            Message.id == claimed.id,
            Message.provider_sid.is_(None),
            Message.status.in_([MessageStatus.SENDING, MessageStatus.QUEUED, MessageStatus.HELD]),
        )
        .values(**values)
    )
    done = session.execute(fallback, execution_options={"synchronize_session": False})
    if not done.rowcount:  # type: ignore[attr-defined]
        logger.error(
            "message %s was sent as %s after its claim was taken over; check for a duplicate",
            claimed.id,
            result.provider_sid,
        )


@dataclass(frozen=True)
class _Failure:
    """What a failed send changes: the row's values, the report's tally, an opt-out."""

    values: dict[str, Any]
    outcome: str  # "retrying", "failed" or "uncertain"
    opt_out_source: str | None = None


def _failure(
    claimed: ClaimedMessage, exc: Exception, *, now: datetime, settings: SmsSettings
) -> _Failure:
    code = getattr(exc, "code", None)
    text = str(exc)[:500]
    if isinstance(exc, TransientGatewayError):
        values: dict[str, Any] = {
            "error_code": (code or "transient")[:20],
            "error_message": text,
            "status_updated_at": now,
        }
        if claimed.attempts >= settings.max_attempts:
            return _Failure({**values, "status": MessageStatus.FAILED}, "failed")
        delay = _backoff_s(claimed.attempts, settings, exc.retry_after_s)
        values.update(
            status=MessageStatus.QUEUED, send_after=now + timedelta(seconds=delay), claimed_by=None
        )
        return _Failure(values, "retrying")
    if isinstance(exc, PermanentGatewayError):
        source = "provider" if exc.opted_out else "invalid_number" if exc.invalid_number else None
        values = {
            "status": MessageStatus.FAILED,
            "error_code": (code or "permanent")[:20],
            "error_message": text,
            "status_updated_at": now,
        }
        return _Failure(values, "failed", source)
    # UncertainSendError, or a bug in a backend: the provider may have the message, so the row
    # stays "sending" and reconciliation asks the provider later.
    if not isinstance(exc, UncertainSendError):
        logger.error("SMS backend raised %r for message %s", exc, claimed.id)
    return _Failure(
        {"error_code": "uncertain", "error_message": text, "status_updated_at": now}, "uncertain"
    )


def _record_failure(
    session: Session,
    claimed: ClaimedMessage,
    failure: _Failure,
    *,
    worker_id: str,
    now: datetime,
) -> None:
    _conditional_update(session, claimed.id, worker_id, failure.values)
    if failure.opt_out_source:
        opt_out(
            session,
            claimed.to_phone,
            source=failure.opt_out_source,
            note=str(failure.values.get("error_message") or "")[:300],
            now=now,
        )


class _WriteBatch:
    """Group outcome writes into one commit every few rows or tenths of a second.

    A commit costs a disk flush; one per message would cap the rate far below the provider's.
    Grouping only widens the window in which a crash leaves rows ``sending`` (they are then
    reconciled, never resent blindly). On SQLite's "database is locked" the whole group is
    rolled back and replayed, so no write is lost.
    """

    def __init__(self, session: Session, *, max_ops: int = 32, max_age_s: float = 0.1) -> None:
        self.session = session
        self.max_ops = max_ops
        self.max_age_s = max_age_s
        self.pending: list[Callable[[], Any]] = []
        self.opened = _time.monotonic()

    def add(self, op: Callable[[], Any]) -> None:
        if not self.pending:
            self.opened = _time.monotonic()
        self.pending.append(op)
        try:
            op()
        except Exception:
            self.flush()
            return
        if len(self.pending) >= self.max_ops or _time.monotonic() - self.opened > self.max_age_s:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        ops, self.pending = self.pending, []
        try:
            self.session.commit()
        except Exception:
            self.session.rollback()

            def replay() -> None:
                for op in ops:
                    op()

            _atomically(self.session, replay)


def _cancel_opted_out(
    session: Session, claimed: list[ClaimedMessage], worker_id: str, now: datetime
) -> tuple[list[ClaimedMessage], int]:
    """Cancel claimed messages to numbers that opted out since they were queued."""
    phones = {m.to_phone for m in claimed}
    out = set(session.scalars(select(SmsOptOut.phone).where(SmsOptOut.phone.in_(phones))))
    session.rollback()
    if not out:
        return claimed, 0
    dropped = [m for m in claimed if m.to_phone in out]
    values = {
        "status": MessageStatus.CANCELLED,
        "error_code": "opted_out",
        "status_updated_at": now,
    }
    _atomically(
        session,
        lambda: [_conditional_update(session, m.id, worker_id, values) for m in dropped],
    )
    return [m for m in claimed if m.to_phone not in out], len(dropped)


def send_due_messages(
    session: Session,
    gateway: SmsGateway,
    *,
    settings: SmsSettings | None = None,
    clock: Callable[[], datetime] = utcnow,
    worker_id: str | None = None,
    throttle: SenderThrottle | None = None,
    time_budget_s: float | None = None,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
) -> DispatchReport:
    """Claim due messages and send them until none are due (or the budget is spent).

    Each claimed batch is committed as ``sending`` before any provider call; each outcome is
    committed as soon as it is known. Up to ``SMS_CONCURRENCY`` calls run at once when the
    backend allows it, paced by the sender's throttle. ``stop`` ends the run after the batch
    in flight (the worker sets it on SIGTERM).
    """
    settings = sms_settings(settings)
    worker_id = worker_id or worker_name()
    throttle = throttle or SenderThrottle(settings.rate_per_s)
    report = DispatchReport()
    started = _time.monotonic()
    threads = max(1, min(settings.concurrency, int(getattr(gateway, "max_concurrency", 1))))
    # Under a rate limit, claim only about ten seconds of work at a time: a claimed row waiting
    # for its turn must never grow old enough for reconciliation to take it over.
    limit = settings.batch_size
    if throttle.rate_per_s > 0:
        limit = max(1, min(limit, int(throttle.rate_per_s * 10)))
    batches = 0
    writes = _WriteBatch(session)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sms-send") as pool:
        while True:
            if max_batches is not None and batches >= max_batches:
                break
            if stop is not None and stop.is_set():
                break
            if time_budget_s is not None and _time.monotonic() - started > time_budget_s:
                break
            now = clock()
            claimed = claim_due_messages(
                session,
                worker_id=worker_id,
                provider=gateway.name,
                now=now,
                limit=limit,
                urgent_only=is_quiet_time(now, settings),
            )
            batches += 1
            if not claimed:
                break
            report.claimed += len(claimed)
            claimed, cancelled = _cancel_opted_out(session, claimed, worker_id, now)
            report.cancelled += cancelled
            futures: dict[Future[SendResult], ClaimedMessage] = {}
            for message in claimed:
                throttle.acquire(message.segments)
                futures[pool.submit(gateway.send, message.to_phone, message.body)] = message
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, timeout=0.02, return_when=FIRST_COMPLETED)
                if not done:
                    # Never hold SQLite's write lock while waiting on the provider.
                    writes.flush()
                    done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in done:
                    message = futures[future]
                    done_at = clock()
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - every failure is recorded
                        failure = _failure(message, exc, now=done_at, settings=settings)
                        setattr(report, failure.outcome, getattr(report, failure.outcome) + 1)
                        writes.add(
                            lambda m=message, f=failure, t=done_at: _record_failure(
                                session, m, f, worker_id=worker_id, now=t
                            )
                        )
                    else:
                        report.sent += 1
                        writes.add(
                            lambda m=message, r=result, t=done_at: record_sent(
                                session, m, r, worker_id=worker_id, now=t
                            )
                        )
            writes.flush()
    report.seconds = _time.monotonic() - started
    return report


# --- reconciliation -------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    """What one reconciliation run decided for stale ``sending`` rows."""

    checked: int = 0
    found_sent: int = 0
    requeued: int = 0
    held: int = 0
    deferred: int = 0


def _same_body(ours: str, theirs: str) -> bool:
    # Trial accounts prefix every body ("Sent from your Twilio trial account - ").
    a, b = ours.strip(), theirs.strip()
    return a == b or b.endswith(a)


def reconcile_stale_messages(
    session: Session,
    gateway: SmsGateway,
    *,
    settings: SmsSettings | None = None,
    now: datetime | None = None,
    worker_id: str | None = None,
    limit: int = 500,
) -> ReconcileReport:
    """Settle ``sending`` rows older than the timeout: sent, queued again, or held.

    The rows are taken over in one statement that re-checks their age (locked with
    ``SKIP LOCKED`` on PostgreSQL), so two reconcilers never decide the same row. Then the
    provider's list decides, asked once per number: a message with the same recipient and
    body, not yet tied to another row, means it was sent; its absence means the provider never
    got it, so it is queued again; a provider without a list (or the console) gets the row
    held for a coordinator.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    worker_id = (worker_id or worker_name())[:70] + "/reconcile"
    report = ReconcileReport()
    cutoff = now - timedelta(seconds=settings.sending_timeout_s)
    stale = (
        select(Message.id)
        .where(Message.status == MessageStatus.SENDING, Message.claimed_at < cutoff)
        .order_by(Message.claimed_at, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("stale")
    )
    take_over = (
        update(Message)
        .where(
            Message.id == stale.c.id,
            Message.status == MessageStatus.SENDING,
            Message.claimed_at < cutoff,
        )
        .values(claimed_at=now, claimed_by=worker_id)
        .returning(Message.id, Message.to_phone, Message.body, Message.created_at)
    )
    session.commit()
    taken = _atomically(
        session,
        lambda: session.execute(take_over, execution_options={"synchronize_session": False}).all(),
    )
    by_phone: dict[str, list[Any]] = {}
    for row in sorted(taken, key=lambda r: r[0]):
        by_phone.setdefault(row[1], []).append(row)
    report.checked = len(taken)
    writes = _WriteBatch(session)
    for phone, rows in by_phone.items():
        writes.flush()  # never hold SQLite's write lock while waiting on the provider
        # Provider clocks differ from ours: look a little before the oldest row was created.
        since = min(r[3] for r in rows) - timedelta(minutes=10)
        try:
            found = gateway.find_sent(phone, since)
        except GatewayError as exc:
            logger.warning("cannot reconcile messages to %s yet: %s", phone[:-4] + "****", exc)
            report.deferred += len(rows)
            continue
        decisions = _reconcile_decisions(session, rows, found, now)
        for message_id, values in decisions:
            outcome = {
                MessageStatus.HELD: "held",
                MessageStatus.SENT: "found_sent",
                MessageStatus.QUEUED: "requeued",
            }[values["status"]]
            setattr(report, outcome, getattr(report, outcome) + 1)
            writes.add(lambda i=message_id, v=values: _conditional_update(session, i, worker_id, v))
    writes.flush()
    session.commit()
    return report


def _reconcile_decisions(
    session: Session, rows: list[Any], found: list[Any] | None, now: datetime
) -> list[tuple[int, dict[str, Any]]]:
    """Decide each stale row of one number from what the provider listed for it."""
    if found is None:
        held = {
            "status": MessageStatus.HELD,
            "error_code": "held",
            "error_message": "sent or not? the provider cannot tell; a coordinator decides",
            "status_updated_at": now,
        }
        return [(row[0], dict(held)) for row in rows]
    sids = [p.provider_sid for p in found]
    used = (
        set(session.scalars(select(Message.provider_sid).where(Message.provider_sid.in_(sids))))
        if sids
        else set()
    )
    session.rollback()
    decisions = []
    for message_id, _phone, body, _created in rows:
        match = next(
            (
                p
                for p in sorted(found, key=lambda p: p.created_at or now)
                if p.provider_sid not in used and _same_body(body, p.body)
            ),
            None,
        )
        if match is not None:
            used.add(match.provider_sid)
            values: dict[str, Any] = {
                "status": MessageStatus.SENT,
                "provider_sid": match.provider_sid,
                "sent_at": match.created_at or now,
                "error_code": None,
                "error_message": None,
            }
        else:
            values = {
                "status": MessageStatus.QUEUED,
                "send_after": now,
                "claimed_by": None,
                "error_code": "requeued",
                "error_message": "not at the provider after a crash; queued again",
            }
        values["status_updated_at"] = now
        decisions.append((message_id, values))
    return decisions


def resolve_held(
    session: Session,
    message: Message,
    decision: str,
    *,
    now: datetime | None = None,
    user: User | None = None,
    ip: str | None = None,
) -> None:
    """Apply a person's decision on a held message: "sent", "resend" or "cancel"; audited.

    The row changes only if it is still held, in one conditional UPDATE: an admin and the
    drive's coordinator deciding at once cannot both win (a "resend" over a "cancel" would
    bring a dropped message back, or send it twice). ``sending`` rows are not for people to
    decide: a worker may be sending them, and the reconciler settles them.
    """
    now = now or utcnow()
    if decision == "sent":
        values: dict[str, Any] = {
            "status": MessageStatus.SENT,
            "sent_at": func.coalesce(Message.sent_at, Message.claimed_at, now),
        }
    elif decision == "resend":
        values = {"status": MessageStatus.QUEUED, "send_after": now, "claimed_by": None}
    elif decision == "cancel":
        values = {"status": MessageStatus.CANCELLED}
    else:
        raise MessagingError(str(_l("Unknown decision.")))
    values.update(error_code=f"decided_{decision}"[:20], status_updated_at=now)
    changed = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.HELD)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise MessagingError(str(_l("Only held messages wait for a decision.")))
    audit.record(
        session,
        action="update",
        entity="message",
        entity_id=message.id,
        user=user,
        ip=ip,
        detail={"decision": decision},
    )
    session.flush()
    session.refresh(message)


# --- delivery reports -----------------------------------------------------------------------

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
            opt_out(session, message.to_phone, source="provider", note="error 21610", now=now)
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


# --- phone verification ---------------------------------------------------------------------

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
    from volunteer_hub.services.sms_templates import render_sms

    settings = sms_settings(settings)
    now = now or utcnow()
    phone = volunteer.phone
    if is_opted_out(session, phone):
        raise PhoneCodeError(
            str(_l("This number asked for no more SMS. Please ask your coordinator for help."))
        )
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
    )
    return verification


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
