"""Sending the outbox: the worker claims due messages, calls the provider, records the outcome.

A claimed row is committed ``sending`` before the provider call, so a crash between the call
and the commit leaves a ``sending`` row for ``reconcile`` to settle: nothing is resent blindly.
"""

from __future__ import annotations

import logging
import random
import threading
import time as _time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Message,
    MessageStatus,
    SmsOptOut,
    utcnow,
)
from volunteer_hub.services.messaging.outbox import opt_out
from volunteer_hub.services.messaging.sealing import mask_links, unseal
from volunteer_hub.services.messaging.settings import SmsSettings, is_quiet_time, sms_settings
from volunteer_hub.services.workers import worker_name
from volunteer_hub.sms import (
    PermanentGatewayError,
    SenderThrottle,
    SendResult,
    SmsGateway,
    TransientGatewayError,
    UncertainSendError,
)

logger = logging.getLogger("volunteer_hub.sms")


@dataclass(frozen=True)
class ClaimedMessage:
    """A row this worker marked ``sending``: what it needs to call the provider."""

    id: int
    to_phone: str
    # None when the message's secret was sealed with a key no longer configured.
    body: str | None
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
    keys: tuple[bytes, ...] | None = None,
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
        .returning(
            Message.id,
            Message.to_phone,
            Message.body,
            Message.segments,
            Message.attempts,
            Message.sealed_body,
        )
    )
    rows = atomically(
        session,
        lambda: session.execute(statement, execution_options={"synchronize_session": False}).all(),
    )
    if keys is None and any(r[5] for r in rows):
        keys = sms_settings().sealing_keys
    claimed = [
        ClaimedMessage(r[0], r[1], real_body(r[2], r[5], keys), int(r[3] or 1), int(r[4]))
        for r in rows
    ]
    claimed.sort(key=lambda m: m.id)
    return claimed


def real_body(body: str, sealed: str | None, keys: tuple[bytes, ...] | None) -> str | None:
    """Return the text to send: the sealed one when there is one (None if no key opens it)."""
    if sealed is None:
        return body
    return unseal(sealed, keys or ())


def atomically(session: Session, work: Callable[[], Any], attempts: int = 8) -> Any:
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


def update_claimed(
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
        # The provider has it: the secret is not kept a moment longer.
        "sealed_body": None,
    }
    if result.segments:
        values["segments"] = result.segments
    if update_claimed(session, claimed.id, worker_id, values):
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
    text = mask_links(str(exc))[:500]
    if isinstance(exc, TransientGatewayError):
        values: dict[str, Any] = {
            "error_code": (code or "transient")[:20],
            "error_message": text,
            "status_updated_at": now,
        }
        if claimed.attempts >= settings.max_attempts:
            return _Failure(
                {**values, "status": MessageStatus.FAILED, "sealed_body": None}, "failed"
            )
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
            "sealed_body": None,
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
    update_claimed(session, claimed.id, worker_id, failure.values)
    if failure.opt_out_source:
        opt_out(
            session,
            claimed.to_phone,
            source=failure.opt_out_source,
            note=str(failure.values.get("error_message") or "")[:300],
            now=now,
        )


class WriteBatch:
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

            atomically(self.session, replay)


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
        "sealed_body": None,
    }
    atomically(
        session,
        lambda: [update_claimed(session, m.id, worker_id, values) for m in dropped],
    )
    return [m for m in claimed if m.to_phone not in out], len(dropped)


def _unreadable(message: ClaimedMessage) -> SendResult:
    raise PermanentGatewayError(
        "no configured VH_MESSAGE_KEY opens this message's sealed text", code="sealed"
    )


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
    writes = WriteBatch(session)
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
                keys=settings.sealing_keys,
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
                if message.body is None:
                    futures[pool.submit(_unreadable, message)] = message
                else:
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
