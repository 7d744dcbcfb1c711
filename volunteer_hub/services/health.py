"""Liveness and readiness of what the service depends on, and what an operator watches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from volunteer_hub.models import Message, MessageStatus, Plan, PlanStatus, utcnow
from volunteer_hub.services import workers


def ratelimit_store_ok(storage: Any) -> bool:
    """Return True when the rate-limit store answers (the in-process one always does)."""
    try:
        return bool(storage.check())
    except Exception:  # noqa: BLE001 - any failure of the store means it is away
        return False


def database_ok(session: Session) -> bool:
    """Return True when the database answers a trivial query."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return False
    session.rollback()
    return True


@dataclass(frozen=True)
class ServiceState:
    """What an operator watches, read from the database in a few aggregate queries."""

    #: Outbox rows by status (queued, sending, held, ...), every status present.
    outbox: dict[str, int]
    #: Queued messages already due (their quiet hours are over).
    due: int
    #: Age in seconds of the oldest due message still queued (0 when none): a stuck sender.
    oldest_due_age_s: float
    #: Plans by status (queued, running, ...).
    plans: dict[str, int]
    #: Every worker's heartbeat: name, roles, seconds since its last beat.
    workers: list[tuple[str, tuple[str, ...], float]]
    #: Live workers (beat within the last minute) per role, every role present.
    live: dict[str, int]


def service_state(
    session: Session, roles: tuple[str, ...], *, now: datetime | None = None
) -> ServiceState:
    """Read the outbox, the plan queue and the workers' heartbeats."""
    now = now or utcnow()
    outbox = {
        str(status): int(count)
        for status, count in session.execute(
            select(Message.status, func.count()).group_by(Message.status)
        )
    }
    due_filter = (Message.status == MessageStatus.QUEUED, Message.send_after <= now)
    due, oldest = session.execute(
        select(func.count(), func.min(Message.send_after)).where(*due_filter)
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite's MIN() loses the column's type
    plans = {
        str(status): int(count)
        for status, count in session.execute(
            select(Plan.status, func.count())
            .where(Plan.status.in_((PlanStatus.QUEUED, PlanStatus.RUNNING)))
            .group_by(Plan.status)
        )
    }
    for status in (PlanStatus.QUEUED, PlanStatus.RUNNING):
        plans.setdefault(status.value, 0)
    for status in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.HELD):
        outbox.setdefault(status.value, 0)
    beats = [
        (h.name, tuple(filter(None, h.roles.split(","))), (now - h.beat_at).total_seconds())
        for h in workers.heartbeats(session)
    ]
    live = dict.fromkeys(roles, 0) | workers.live_workers(session, now=now)
    session.rollback()
    return ServiceState(
        outbox=outbox,
        due=int(due or 0),
        oldest_due_age_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        plans=plans,
        workers=beats,
        live=live,
    )


def redis_ok(uri: str | None) -> bool | None:
    """Return whether the Redis at ``uri`` answers PING; None when no Redis is configured."""
    if not uri or not uri.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False
