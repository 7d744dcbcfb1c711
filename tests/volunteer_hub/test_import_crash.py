"""SIGKILL a real worker mid-import, let another take the job up: every row imported once.

A real ``volunteer-hub worker --jobs imports`` process imports a queued file of 600 requests in
batches of 50; it is killed with SIGKILL once a few batches are in. What the database holds at
that moment must be exactly the rows the checkpoint counts (a batch in flight leaves nothing).
The job is then queued again (as ``requeue_stale`` does once the heartbeat is two minutes old)
and a second worker process finishes it; no row may be missing or imported twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import base_config
from tests.volunteer_hub.sms.test_crash import wait_for, worker_command
from volunteer_hub import create_app
from volunteer_hub.extensions import db
from volunteer_hub.models import HelpRequest, ImportJob, ImportStatus, Role, utcnow
from volunteer_hub.services.intake import import_jobs
from volunteer_hub.services.intake.imports import parse_upload

ROWS = 600
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def prepare(uri: str) -> int:
    """Build the schema, a commune with its coordinator, and a queued job of ROWS requests."""
    app = create_app(base_config(uri))
    with app.app_context(), app.test_request_context():
        upgrade(directory=app.extensions["migrate"].directory)
        prov = factories.province(db.session, name="Thành phố Huế", short_name="Huế")
        factories.catalogue(db.session)
        commune = factories.commune(db.session, prov, name="Phường An")
        coordinator = factories.user(db.session, Role.COORDINATOR, [commune], email="c@x.vn")
        db.session.commit()
        lines = ["beneficiary_name,phone,commune,services,consent"]
        lines += [f"Người {n:04d},09{n:08d},{commune.code},vneid_install,yes" for n in range(ROWS)]
        data = ("\n".join(lines) + "\n").encode()
        job = import_jobs.queue_import(
            db.session,
            "requests",
            "lon.csv",
            data,
            rows_total=len(parse_upload("requests", "lon.csv", data)),
            user=coordinator,
            locale="vi",
        )
        db.session.commit()
        job_id = job.id
        db.session.remove()
        db.engine.dispose()
    return job_id


def start_worker(uri: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "VH_SQLALCHEMY_DATABASE_URI": uri,
        "VH_SECRET_KEY": "import-crash-secret",
        "VH_WORKER_IMPORTS_INTERVAL_S": "0.2",
        # This checkout's code, wherever the virtualenv was installed from.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*worker_command(), "--jobs", "imports"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def test_sigkill_mid_import_imports_every_row_exactly_once(databases, tmp_path):
    uri = databases.new("importcrash")
    job_id = prepare(uri)
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))

    def job() -> ImportJob:
        with Session(engine, expire_on_commit=False) as session:
            found = session.get(ImportJob, job_id)
            assert found is not None
            return found

    def imported() -> tuple[int, int]:
        with Session(engine) as session:
            rows = session.scalar(select(func.count()).select_from(HelpRequest))
            names = session.scalar(select(func.count(func.distinct(HelpRequest.beneficiary_name))))
            return int(rows or 0), int(names or 0)

    first = start_worker(uri, tmp_path / "worker-1.log")
    try:
        wait_for(lambda: job().rows_done >= 100, 120, "two batches", 0.01)
        began = time.monotonic()
        wait_for(lambda: job().rows_done >= 150, 60, "the third batch", 0.01)
        # Half a batch later: the kill lands with rows of the fourth batch written, uncommitted.
        time.sleep((time.monotonic() - began) / 2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    at_kill = job()
    assert at_kill.status is ImportStatus.RUNNING and at_kill.rows_done < ROWS
    # Exactly what the checkpoint counts is in: the batch in flight left nothing behind.
    assert imported() == (at_kill.rows_done, at_kill.rows_done)

    with Session(engine) as session:
        later = utcnow() + import_jobs.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
        assert import_jobs.requeue_stale(session, now=later) == 1
    second = start_worker(uri, tmp_path / "worker-2.log")
    try:
        wait_for(lambda: job().status is ImportStatus.DONE, 180, "the job to finish", 0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(30)
    assert code == 0
    done = job()
    engine_rows = imported()
    engine.dispose()
    assert (done.rows_done, done.rows_imported, done.rows_failed) == (ROWS, ROWS, 0)
    assert done.attempts == 2 and done.upload is None
    assert engine_rows == (ROWS, ROWS), "every row once, none lost"
