"""Running the service: the heartbeats of the background workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.models.base import Base, utcnow


class WorkerHeartbeat(Base):
    """A worker process and the roles it runs, with the last time it said it was alive.

    Kept in the database (not in Redis) because the database is what every web process and
    worker already shares: ``/readyz`` and ``/metrics`` read it, and a worker's row is removed
    when it stops cleanly (a crashed one simply stops beating).
    """

    __tablename__ = "worker_heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    # host:pid, as in the rows the worker claims (services/workers.py: worker_name).
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # Comma-separated roles ("sms,plans"), in the order of worker.ROLES.
    roles: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
