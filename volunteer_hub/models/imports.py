"""Spreadsheet imports the worker runs: the file waiting, the progress, the rows refused."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.accounts import User
from volunteer_hub.models.base import Base, enum_column, utcnow


class ImportStatus(enum.StrEnum):
    """An import job's life: waiting for a worker, running, done, or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(Base):
    """A large import of requests or volunteers, run by the worker in batches.

    The uploaded file waits in ``upload`` (at most ``MAX_CONTENT_LENGTH``), read by the worker
    only, and is erased when the job ends, done or failed. ``rows_done`` is the checkpoint:
    each batch of rows is written in the same transaction that moves it on, so a job taken up
    again after a crash starts at the first row not yet committed and never imports one twice.
    """

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "requests" or "volunteers".
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[ImportStatus] = mapped_column(
        enum_column(ImportStatus), default=ImportStatus.QUEUED, index=True
    )
    # Who uploaded it: the rows are checked against this account's rights when they run.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # The communes the uploader could import into when it was queued (None: an admin, all).
    commune_ids: Mapped[list[int] | None] = mapped_column(JSON())
    # The language the row errors are written in (the uploader's at upload).
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    ip: Mapped[str | None] = mapped_column(String(45))
    filename: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(default=0)
    # The file itself, only until the job ends.
    upload: Mapped[bytes | None] = mapped_column(LargeBinary)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    # [{"row": 7, "field": "phone", "messages": ["..."]}, ...], at most MAX_ERRORS entries.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON(), default=list)
    # Row errors beyond the ones kept.
    errors_more: Mapped[int] = mapped_column(default=0)
    # Why the whole job failed (a file that cannot be read, the worker stopping too often).
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)
