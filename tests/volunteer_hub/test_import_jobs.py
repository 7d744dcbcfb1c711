"""Large imports run in the worker: queued by the upload, in batches with a checkpoint, shown."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import login
from volunteer_hub import jobs, worker
from volunteer_hub.extensions import db
from volunteer_hub.models import (
    AuditEvent,
    HelpRequest,
    ImportJob,
    ImportStatus,
    RequestSource,
    utcnow,
)
from volunteer_hub.services.intake import import_jobs

#: Files of more than three rows go to the worker in these tests.
large_above_3 = pytest.mark.app_config(IMPORT_SYNC_MAX_ROWS=3)


def requests_csv(code: str, good: int, bad_rows: tuple[int, ...] = ()) -> bytes:
    """A CSV of ``good`` valid requests, with a bad phone on the data rows in ``bad_rows``."""
    lines = ["beneficiary_name,phone,commune,services,consent"]
    for n in range(1, good + len(bad_rows) + 1):
        phone = "12" if n in bad_rows else f"0912 {n:03d} {n:03d}"
        lines.append(f"Người nhập {n:02d},{phone},{code},vneid_install,yes")
    return ("\n".join(lines) + "\n").encode()


def upload(client, data: bytes, name: str = "yeu-cau.csv", kind: str = "requests"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/{kind}/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def imported(session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(HelpRequest.beneficiary_name)
            .where(HelpRequest.source == RequestSource.IMPORT)
            .order_by(HelpRequest.beneficiary_name)
        )
    )


def factory():  # type: ignore[no-untyped-def]
    return Session(db.engine)


def job_of(session, response) -> ImportJob:  # type: ignore[no-untyped-def]
    match = re.search(r"/imports/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    session.expire_all()
    job = session.get(ImportJob, int(match.group(1)))
    assert job is not None
    return job


@large_above_3
def test_a_large_file_is_queued_then_imported_by_the_worker_with_its_row_errors(
    client, world, session
):
    login(client, world.a.coordinator.email)
    data = requests_csv(world.a.commune.code, good=6, bad_rows=(2, 5))
    response = upload(client, data)
    assert response.status_code == 303
    job = job_of(session, response)
    # Nothing is imported in the web request: the file waits on the job.
    assert imported(session) == []
    assert job.status is ImportStatus.QUEUED and job.upload == data and job.rows_total == 8
    assert job.user_id == world.a.coordinator.id and job.commune_ids == [world.a.commune.id]
    progress = client.get(f"/imports/{job.id}/progress.json").get_json()
    assert progress["status"] == "queued" and progress["finished"] is False
    assert (progress["rows_done"], progress["rows_total"]) == (0, 8)
    page = client.get(f"/imports/{job.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="import-progress"' in body and "js/import.js" in body
    assert '<meta http-equiv="refresh"' in body  # without JavaScript, the page refreshes itself

    assert jobs.run_imports(client.application) == [job.id]

    session.expire_all()
    assert len(imported(session)) == 6
    job = session.get(ImportJob, job.id)
    assert job.status is ImportStatus.DONE and job.finished_at is not None
    assert job.upload is None  # the file is erased once the job ends
    assert (job.rows_done, job.rows_imported, job.rows_failed) == (8, 6, 2)
    assert {e["row"] for e in job.errors} == {3, 6}  # data rows 2 and 5, under the header
    progress = client.get(f"/imports/{job.id}/progress.json").get_json()
    assert progress["status"] == "done" and progress["finished"] is True
    assert (progress["rows_done"], progress["rows_imported"], progress["rows_failed"]) == (8, 6, 2)
    body = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "js/import.js" not in body and 'http-equiv="refresh"' not in body
    assert "<td>Dòng 3</td>" in body and "<td>Dòng 6</td>" in body and "<td>Điện thoại</td>" in body
    assert "2 dòng cần sửa" in body
    # The import page lists it among the coordinator's latest imports.
    listing = client.get("/requests/import").get_data(as_text=True)
    assert f"/imports/{job.id}" in listing and "Đã nhập 6 trên 8 dòng." in listing
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "import_job"))
    )
    assert actions == {"create", "import"}


def test_a_small_file_is_still_imported_in_the_request(client, world, session):
    login(client, world.a.coordinator.email)
    response = upload(client, requests_csv(world.a.commune.code, good=3))
    assert response.status_code == 200
    assert "Đã nhập 3 trên 3 dòng." in response.get_data(as_text=True)
    assert len(imported(session)) == 3
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


@large_above_3
def test_a_file_that_cannot_be_read_is_a_form_error_and_queues_nothing(client, world, session):
    login(client, world.a.coordinator.email)
    response = upload(client, b"ten,so\n" + b"a,b\n" * 10)
    assert response.status_code == 422
    assert "beneficiary_name" in response.get_data(as_text=True)  # the missing columns
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


class Killed(BaseException):
    """Stands for the worker process being killed: nothing after it runs."""


@large_above_3
def test_a_worker_killed_midway_is_taken_up_at_its_checkpoint_and_imports_no_row_twice(
    client, world, session, monkeypatch
):
    login(client, world.a.coordinator.email)
    response = upload(client, requests_csv(world.a.commune.code, good=7))
    job_id = job_of(session, response).id
    monkeypatch.setattr(import_jobs, "BATCH_ROWS", 2)
    real_store_row = import_jobs.store_row
    calls = []

    def dies_on_the_fourth_row(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[2])
        if len(calls) == 4:  # the second row of the second batch: the batch is not committed
            raise Killed
        return real_store_row(*args, **kwargs)

    monkeypatch.setattr(import_jobs, "store_row", dies_on_the_fourth_row)
    with pytest.raises(Killed):
        import_jobs.run_next_job(factory)
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job.status is ImportStatus.RUNNING and job.rows_done == 2 and job.attempts == 1
    assert len(imported(session)) == 2  # the first batch, committed with its checkpoint
    assert client.get(f"/imports/{job_id}/progress.json").get_json()["rows_done"] == 2

    # While its heartbeat is fresh nobody takes it; once stale it is queued again.
    assert import_jobs.requeue_stale(session) == 0
    later = utcnow() + import_jobs.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
    assert import_jobs.requeue_stale(session, now=later) == 1
    session.expire_all()
    assert session.get(ImportJob, job_id).status is ImportStatus.QUEUED
    assert "Đang làm tiếp từ chỗ đã dừng" in client.get(f"/imports/{job_id}").get_data(as_text=True)

    monkeypatch.setattr(import_jobs, "store_row", real_store_row)
    assert import_jobs.run_next_job(factory) == job_id
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job.status is ImportStatus.DONE and job.attempts == 2
    assert (job.rows_done, job.rows_imported, job.rows_failed) == (7, 7, 0)
    names = imported(session)
    assert names == sorted(f"Người nhập {n:02d}" for n in range(1, 8))  # each exactly once


@large_above_3
def test_a_worker_presumed_dead_that_wakes_up_writes_nothing(client, world, session):
    login(client, world.a.coordinator.email)
    job_id = job_of(session, upload(client, requests_csv(world.a.commune.code, good=5))).id
    assert import_jobs.claim_next_job(session, "old-worker", utcnow()) == job_id
    later = utcnow() + import_jobs.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
    import_jobs.requeue_stale(session, now=later)
    assert import_jobs.claim_next_job(session, "new-worker", utcnow()) == job_id
    import_jobs.run_claimed_job(factory, job_id, "old-worker")
    session.expire_all()
    assert imported(session) == [] and session.get(ImportJob, job_id).rows_done == 0
    import_jobs.run_claimed_job(factory, job_id, "new-worker")
    session.expire_all()
    assert len(imported(session)) == 5


@large_above_3
def test_a_job_that_keeps_stopping_fails_clearly_and_drops_its_file(client, world, session):
    login(client, world.a.coordinator.email)
    job = job_of(session, upload(client, requests_csv(world.a.commune.code, good=5)))
    job.status, job.attempts, job.rows_done = ImportStatus.RUNNING, import_jobs.MAX_ATTEMPTS, 2
    job.heartbeat_at = utcnow() - import_jobs.HEARTBEAT_TIMEOUT - timedelta(seconds=1)
    session.commit()
    assert import_jobs.requeue_stale(session) == 0
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert job.status is ImportStatus.FAILED and job.upload is None
    body = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "Lần nhập này đã dừng 3 lần" in body
    assert "2 dòng đầu trong 5 dòng" in body
    assert client.get(f"/imports/{job.id}/progress.json").get_json()["status"] == "failed"


@large_above_3
def test_an_account_deactivated_before_its_job_runs_imports_nothing(client, world, session):
    login(client, world.a.coordinator.email)
    job_id = job_of(session, upload(client, requests_csv(world.a.commune.code, good=5))).id
    world.a.coordinator.active = False
    session.commit()
    assert jobs.run_imports(client.application) == [job_id]
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job.status is ImportStatus.FAILED and job.error == import_jobs.ACCOUNT_GONE
    assert job.upload is None and imported(session) == []


@large_above_3
def test_only_the_uploader_and_admins_see_an_import(client, world, session):
    login(client, world.a.coordinator.email)
    job_id = job_of(session, upload(client, requests_csv(world.a.commune.code, good=5))).id
    client.post("/logout")
    login(client, world.b.coordinator.email)
    assert client.get(f"/imports/{job_id}").status_code == 404
    assert client.get(f"/imports/{job_id}/progress.json").status_code == 404
    assert f"/imports/{job_id}" not in client.get("/requests/import").get_data(as_text=True)
    client.post("/logout")
    login(client, world.admin.email)
    assert client.get(f"/imports/{job_id}").status_code == 200
    assert client.get(f"/imports/{job_id}/progress.json").status_code == 200
    client.post("/logout")
    anonymous = client.get(f"/imports/{job_id}")
    assert anonymous.status_code in (302, 401) and "login" in anonymous.headers.get("Location", "")


@large_above_3
def test_a_large_volunteer_file_goes_to_the_worker_too(client, world, session):
    login(client, world.a.coordinator.email)
    template = client.get("/volunteers/import/template.csv").get_data()
    header, example = template.decode("utf-8-sig").strip().splitlines()
    example = example.replace(",19789,", f",{world.a.commune.code},")
    rows = [example.replace("0987654321", f"09876543{n:02d}") for n in range(10, 15)]
    data = ("\n".join([header, *rows]) + "\n").encode()
    response = upload(client, data, "tnv.csv", kind="volunteers")
    job = job_of(session, response)
    assert job.kind == "volunteers" and job.rows_total == 5
    jobs.run_imports(client.application)
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert job.status is ImportStatus.DONE and job.rows_imported == 5, job.errors


def test_the_imports_role_runs_only_its_job(app):
    assert worker.parse_roles("imports") == ("imports",)
    built = worker.build_scheduler(app, roles=("imports",))
    assert {j.id for j in built.scheduler.get_jobs()} == {"imports-run", "worker-heartbeat"}
    assert "imports-run" in worker.run_once(app, ("imports",))


@large_above_3
def test_finished_jobs_are_deleted_after_a_week(client, world, session):
    login(client, world.a.coordinator.email)
    job_id = job_of(session, upload(client, requests_csv(world.a.commune.code, good=4))).id
    jobs.run_imports(client.application)
    assert import_jobs.expire_jobs(session) == 0
    later = utcnow() + import_jobs.KEEP_FOR + timedelta(minutes=1)
    assert import_jobs.expire_jobs(session, now=later) == 1
    session.commit()
    assert session.get(ImportJob, job_id) is None


def test_a_small_import_the_database_fails_half_way_keeps_nothing(
    client, world, session, monkeypatch
):
    # The database going away at the third row: 503, and none of the file's rows stays (on
    # SQLite, too, where each row's savepoint once committed the row on its own).
    from sqlalchemy.exc import OperationalError

    from volunteer_hub.services.intake import imports

    real_store_row = imports.store_row
    calls = []

    def fails_on_the_third_row(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OperationalError("INSERT", {}, Exception("the database went away"))
        return real_store_row(*args, **kwargs)

    monkeypatch.setattr(imports, "store_row", fails_on_the_third_row)
    login(client, world.a.coordinator.email)
    response = upload(client, requests_csv(world.a.commune.code, good=5))
    assert response.status_code == 503
    assert len(calls) == 3 and imported(session) == []
