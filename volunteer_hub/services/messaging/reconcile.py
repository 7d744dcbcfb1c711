"""After a crash: ``sending`` rows too old to be in flight are settled against the provider.

Found at the provider: sent; surely absent: queued again; the provider cannot tell: ``held``
for a person to decide (``resolve_held``). Nothing is ever resent blindly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Message,
    MessageStatus,
    User,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.services.messaging.dispatch import (
    WriteBatch,
    atomically,
    real_body,
    update_claimed,
)
from volunteer_hub.services.messaging.outbox import MessagingError
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.services.workers import worker_name
from volunteer_hub.sms import (
    GatewayError,
    SmsGateway,
)

logger = logging.getLogger("volunteer_hub.sms")


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
        .returning(
            Message.id, Message.to_phone, Message.body, Message.created_at, Message.sealed_body
        )
    )
    session.commit()
    taken = atomically(
        session,
        lambda: session.execute(take_over, execution_options={"synchronize_session": False}).all(),
    )
    by_phone: dict[str, list[Any]] = {}
    for row in sorted(taken, key=lambda r: r[0]):
        # The provider holds the real text: compare with the sealed one, not the masked one.
        real = real_body(row[2], row[4], settings.sealing_keys)
        by_phone.setdefault(row[1], []).append((row[0], row[1], real, row[3]))
    report.checked = len(taken)
    writes = WriteBatch(session)
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
            writes.add(lambda i=message_id, v=values: update_claimed(session, i, worker_id, v))
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
                if p.provider_sid not in used and body is not None and _same_body(body, p.body)
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
                "sealed_body": None,
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
            "sealed_body": None,
        }
    elif decision == "resend":
        values = {"status": MessageStatus.QUEUED, "send_after": now, "claimed_by": None}
    elif decision == "cancel":
        values = {"status": MessageStatus.CANCELLED, "sealed_body": None}
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
