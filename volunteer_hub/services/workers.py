"""Who a background process is: its name in the rows it claims, and its heartbeat.

Each worker writes a :class:`~volunteer_hub.models.WorkerHeartbeat` row every few seconds
(``beat``) and removes it when it stops (``forget``); ``/readyz``, ``/metrics`` and the SMS
limiter's fallback read which roles have beaten recently (``live_workers``). The worker
commits its own beats (see "Transactions" in docs/architecture.md).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import WorkerHeartbeat, utcnow

#: The roles a worker may run (``volunteer-hub worker --jobs``, a contract), in this order.
ROLES = ("sms", "plans", "reminders", "links", "reconcile", "purge", "imports")
#: A worker counts as alive when it beat within this long (the issue's "last minute").
LIVE_WITHIN = timedelta(minutes=1)
#: Rows of workers that died without saying goodbye are removed after this long.
FORGET_AFTER = timedelta(days=1)


def worker_name() -> str:
    """Return this process's name in ``claimed_by`` (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def beat(session: Session, name: str, roles: Iterable[str], *, now: datetime | None = None) -> None:
    """Record that worker ``name`` running ``roles`` is alive now, and commit."""
    now = now or utcnow()
    text = ",".join(roles)[:120]
    # Only this process writes its own row, so update-then-insert cannot race with itself.
    updated = session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(beat_at=now, roles=text)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount == 0:
        session.add(WorkerHeartbeat(name=name, roles=text, started_at=now, beat_at=now))
    session.execute(
        delete(WorkerHeartbeat)
        .where(WorkerHeartbeat.beat_at < now - FORGET_AFTER)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def forget(session: Session, name: str) -> None:
    """Remove worker ``name``'s heartbeat (it is stopping cleanly), and commit."""
    session.execute(
        delete(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def live_workers(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Return how many workers of each role beat within :data:`LIVE_WITHIN`."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    rows = session.scalars(
        select(WorkerHeartbeat.roles).where(WorkerHeartbeat.beat_at >= now - LIVE_WITHIN)
    )
    for roles in rows:
        for role in filter(None, roles.split(",")):
            counts[role] = counts.get(role, 0) + 1
    return counts


def heartbeats(session: Session) -> list[WorkerHeartbeat]:
    """Return every worker's heartbeat row, the most recent first."""
    return list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc())))


def claim_oldest(session: Session, model: Any, queued: Any, running: dict[str, Any]) -> int | None:
    """Atomically move the oldest ``model`` row whose ``status`` is ``queued`` to ``running``
    (the columns' new values, ``status`` among them); return its id, committed, or None.

    One statement, as the outbox's claim: on PostgreSQL the CTE locks the row with ``FOR
    UPDATE SKIP LOCKED``, so N workers claiming at once take N different rows instead of
    queueing behind one lock; on SQLite the single ``UPDATE ... RETURNING`` runs under the
    database's one write lock. Either way a row is claimed by exactly one worker.
    """
    session.commit()  # a fresh snapshot: SQLite cannot upgrade a stale read to a write
    oldest = (
        select(model.id)
        .where(model.status == queued)
        .order_by(model.created_at, model.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("oldest")
    )
    statement = (
        update(model)
        .where(model.id == oldest.c.id, model.status == queued)
        .values(**running)
        .returning(model.id)
    )
    claimed = session.execute(statement, execution_options={"synchronize_session": False}).scalar()
    session.commit()
    return claimed
