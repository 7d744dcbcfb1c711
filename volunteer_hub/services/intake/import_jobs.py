"""Large imports run by the worker: queued from the upload, run in batches, shown as progress.

A file with more rows than ``IMPORT_SYNC_MAX_ROWS`` is not imported in the web request: the
upload stores it on an :class:`~volunteer_hub.models.ImportJob` (the bytes only until the job
ends) and the worker's ``imports`` role runs it. Rows are written in batches of
:data:`BATCH_ROWS`; each batch commits together with the job's checkpoint (``rows_done``), and
that commit only succeeds while this worker still holds the job and the checkpoint is where it
left it. So a worker killed mid-batch loses the whole batch (rolled back) and the job, taken up
again once its heartbeat is stale, starts at the first row not yet committed: no row is
imported twice. After :data:`MAX_ATTEMPTS` starts without finishing it fails, saying how far it
got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale, format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from volunteer_hub.models import ImportJob, ImportStatus, Role, User, utcnow
from volunteer_hub.services import audit
from volunteer_hub.services.access import NotVisibleError
from volunteer_hub.services.intake.imports import (
    ImportFileError,
    ImportReport,
    parse_upload,
    row_store,
    store_row,
)
from volunteer_hub.services.validation import is_record_id
from volunteer_hub.services.workers import claim_oldest, worker_name

log = logging.getLogger(__name__)

KINDS = ("requests", "volunteers")
#: Rows written per transaction (and per checkpoint).
BATCH_ROWS = 50
#: A running job whose worker has not written for this long is taken up again.
HEARTBEAT_TIMEOUT = timedelta(minutes=2)
#: Starts after which a job that never finishes is failed instead of tried again.
MAX_ATTEMPTS = 3
#: Row errors kept on the job (the page lists them); beyond that only their number.
MAX_ERRORS = 500
#: Finished jobs (counts and row errors, the file is long gone) are deleted after this long.
KEEP_FOR = timedelta(days=7)
#: The largest file a job keeps, whatever MAX_CONTENT_LENGTH says.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024

#: Why a whole job failed, when the worker (not the file) decided it; shown translated.
WORKER_STOPPED = "worker_stopped"
ACCOUNT_GONE = "account_gone"
UNEXPECTED = "unexpected"
FAILURE_TEXTS = {
    WORKER_STOPPED: _l(
        "The import stopped %(n)d times before it finished, so it was not tried again."
    ),
    ACCOUNT_GONE: _l("The account that uploaded this file can no longer import."),
    UNEXPECTED: _l("The import stopped on an unexpected error."),
}


def sync_max_rows(config: Any) -> int:
    """Return ``IMPORT_SYNC_MAX_ROWS``: files with more rows go to the worker."""
    return int(config.get("IMPORT_SYNC_MAX_ROWS", 200))


def queue_import(
    session: Session,
    kind: str,
    filename: str,
    data: bytes,
    *,
    rows_total: int,
    user: User,
    locale: str,
    ip: str | None = None,
) -> ImportJob:
    """Store the file on a queued job for the worker; the caller commits."""
    if kind not in KINDS:
        raise ValueError(kind)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            _("This file is larger than %(mb)d MB.", mb=MAX_UPLOAD_BYTES // (1024 * 1024))
        )
    job = ImportJob(
        kind=kind,
        user_id=user.id,
        commune_ids=None if user.role is Role.ADMIN else sorted(user.commune_ids),
        locale=(locale or "vi")[:8],
        ip=ip,
        filename=filename[-200:],
        size_bytes=len(data),
        upload=data,
        rows_total=rows_total,
        errors=[],
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        action="create",
        entity="import_job",
        entity_id=job.id,
        user=user,
        ip=ip,
        detail={"kind": kind, "rows": rows_total, "bytes": len(data)},
    )
    return job


def visible_job(session: Session, user: User, job_id: int) -> ImportJob:
    """Return the job if ``user`` uploaded it or is an admin, else raise NotVisibleError."""
    job = session.get(ImportJob, job_id) if is_record_id(job_id) else None
    if job is None or not (user.role is Role.ADMIN or job.user_id == user.id):
        raise NotVisibleError
    return job


def recent_jobs(session: Session, user: User, kind: str, limit: int = 5) -> list[ImportJob]:
    """Return the user's latest jobs of ``kind``, newest first."""
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.user_id == user.id, ImportJob.kind == kind)
            .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
            .limit(limit)
        )
    )


def failure_text(job: ImportJob) -> str | None:
    """Return why the job failed, in the reader's language when the worker decided it."""
    if not job.error:
        return None
    text = FAILURE_TEXTS.get(job.error)
    if text is None:
        return job.error  # a file error, written in the uploader's language
    return str(text) % {"n": job.attempts}


def progress_of(job: ImportJob) -> dict[str, Any]:
    """Return what the progress page shows and polls."""
    if job.status is ImportStatus.QUEUED:
        message = (
            _("Starting again where it stopped…")
            if job.attempts
            else _("Waiting for the worker to start…")
        )
    elif job.status is ImportStatus.RUNNING:
        message = _(
            "Importing: %(done)s of %(total)s rows.",
            done=format_number(job.rows_done),
            total=format_number(job.rows_total),
        )
    elif job.status is ImportStatus.DONE:
        message = (
            _("Finished.")
            + " "
            + _(
                "%(ok)s of %(rows)s rows imported.",
                ok=format_number(job.rows_imported),
                rows=format_number(job.rows_total),
            )
        )
    else:
        message = _("The import failed.")
    return {
        "id": job.id,
        "status": job.status.value,
        "finished": job.finished,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows_imported": job.rows_imported,
        "rows_failed": job.rows_failed,
        "message": message,
    }


# --- the worker side --------------------------------------------------------------------------


def claim_next_job(session: Session, worker: str, now: datetime) -> int | None:
    """Atomically move the oldest queued job to running for this worker; return its id
    (``workers.claim_oldest``, as for plans)."""
    return claim_oldest(
        session,
        ImportJob,
        ImportStatus.QUEUED,
        {
            "status": ImportStatus.RUNNING,
            "claimed_by": worker,
            "heartbeat_at": now,
            "started_at": now,
            "attempts": ImportJob.attempts + 1,
        },
    )


def requeue_stale(session: Session, *, now: datetime | None = None) -> int:
    """Queue again the running jobs whose worker stopped; fail those that stopped too often.

    The rows before the job's checkpoint stay imported, and the next start begins after them.
    """
    now = now or utcnow()
    stale = (ImportJob.status == ImportStatus.RUNNING) & (
        ImportJob.heartbeat_at < now - HEARTBEAT_TIMEOUT
    )
    failed = session.execute(
        update(ImportJob)
        .where(stale, ImportJob.attempts >= MAX_ATTEMPTS)
        .values(
            status=ImportStatus.FAILED,
            error=WORKER_STOPPED,
            upload=None,
            claimed_by=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    requeued = session.execute(
        update(ImportJob)
        .where(stale, ImportJob.attempts < MAX_ATTEMPTS)
        .values(status=ImportStatus.QUEUED, claimed_by=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if failed or requeued:
        log.warning("imports: %d stale job(s) queued again, %d failed", requeued, failed)
    return requeued


def _owned(job_id: int, worker: str) -> Any:
    return (
        (ImportJob.id == job_id)
        & (ImportJob.status == ImportStatus.RUNNING)
        & (ImportJob.claimed_by == worker)
    )


def _fail(session: Session, job_id: int, worker: str, error: str) -> None:
    session.rollback()
    session.execute(
        update(ImportJob)
        .where(_owned(job_id, worker))
        .values(
            status=ImportStatus.FAILED,
            error=error[:2000],
            upload=None,
            claimed_by=None,
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def run_claimed_job(session_factory: Callable[[], Session], job_id: int, worker: str) -> None:
    """Run a job this worker has claimed, from its checkpoint to the end (or its failure)."""
    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.claimed_by != worker or job.status is not ImportStatus.RUNNING:
            return
        user = job.user
        kind, filename, data = job.kind, job.filename, job.upload or b""
        locale, ip = job.locale, job.ip
        done, imported, failed = job.rows_done, job.rows_imported, job.rows_failed
        errors, errors_more = list(job.errors or []), job.errors_more
        with force_locale(locale):
            if not user.active or user.role not in (Role.ADMIN, Role.COORDINATOR):
                _fail(session, job_id, worker, ACCOUNT_GONE)
                return
            try:
                rows = parse_upload(kind, filename, data)
            except ImportFileError as exc:
                _fail(session, job_id, worker, str(exc))
                return
            store = row_store(kind, session, user=user, ip=ip)
            try:
                while done < len(rows):
                    batch = rows[done : done + BATCH_ROWS]
                    # The batch's transaction starts with a write on the job: it locks the
                    # job's row (PostgreSQL), stops here a worker that lost the job, and opens
                    # a real transaction before the rows' savepoints (pysqlite starts none
                    # for a SAVEPOINT, and would commit each row on its RELEASE).
                    held = session.execute(
                        update(ImportJob)
                        .where(_owned(job_id, worker), ImportJob.rows_done == done)
                        .values(heartbeat_at=utcnow())
                        .execution_options(synchronize_session=False)
                    ).rowcount
                    if held != 1:
                        session.rollback()
                        log.warning("import job %s was taken over; this worker stops", job_id)
                        return
                    report = ImportReport(rows=len(batch))
                    for number, payload in batch:
                        store_row(session, store, number, payload, report)
                    for error in report.errors:
                        if len(errors) < MAX_ERRORS:
                            errors.append(
                                {"row": error.row, "field": error.field, "messages": error.messages}
                            )
                        else:
                            errors_more += 1
                    imported += len(report.imported)
                    failed += report.failed_rows
                    # The checkpoint moves in the rows' own transaction, and only from where
                    # this worker left it: a worker presumed dead that wakes up writes nothing.
                    moved = session.execute(
                        update(ImportJob)
                        .where(_owned(job_id, worker), ImportJob.rows_done == done)
                        .values(
                            rows_done=done + len(batch),
                            rows_total=len(rows),
                            rows_imported=imported,
                            rows_failed=failed,
                            errors=errors,
                            errors_more=errors_more,
                            heartbeat_at=utcnow(),
                        )
                        .execution_options(synchronize_session=False)
                    ).rowcount
                    if moved != 1:
                        session.rollback()
                        log.warning("import job %s was taken over; this worker stops", job_id)
                        return
                    session.commit()
                    done += len(batch)
            except OperationalError:
                # The database is away: leave the job running; once its heartbeat is stale it
                # starts again from the last checkpoint.
                session.rollback()
                log.warning("import job %s: database unavailable; it will start again", job_id)
                return
            except Exception:
                log.exception("import job %s failed", job_id)
                _fail(session, job_id, worker, UNEXPECTED)
                return
        session.execute(
            update(ImportJob)
            .where(_owned(job_id, worker))
            .values(
                status=ImportStatus.DONE,
                rows_total=len(rows),
                upload=None,
                claimed_by=None,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            action="import",
            entity="import_job",
            entity_id=job_id,
            user=user,
            ip=ip,
            detail={"kind": kind, "rows": len(rows), "imported": imported, "failed": failed},
        )
        session.commit()
        log.info("import job %s: %d imported, %d rows refused", job_id, imported, failed)


def run_next_job(session_factory: Callable[[], Session]) -> int | None:
    """Take up stale jobs, claim the oldest queued one, if any, and run it; return its id."""
    worker = worker_name()
    with session_factory() as session:
        requeue_stale(session)
        job_id = claim_next_job(session, worker, utcnow())
    if job_id is None:
        return None
    run_claimed_job(session_factory, job_id, worker)
    return job_id


def expire_jobs(session: Session, *, now: datetime | None = None) -> int:
    """Delete finished jobs older than :data:`KEEP_FOR` (the caller commits)."""
    now = now or utcnow()
    return session.execute(
        delete(ImportJob)
        .where(
            ImportJob.status.in_((ImportStatus.DONE, ImportStatus.FAILED)),
            ImportJob.finished_at < now - KEEP_FOR,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
