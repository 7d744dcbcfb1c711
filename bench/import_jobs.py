"""Benchmark: what a large import costs the web request, and how fast the worker runs it.

    python bench/import_jobs.py                       # SQLite file
    python bench/import_jobs.py --database postgresql://postgres@127.0.0.1:5432/
    python bench/import_jobs.py --rows 2000 --sync-rows 200

Uploads a CSV of ``--rows`` valid requests (the row cap by default) through the real upload
page: above ``VH_IMPORT_SYNC_MAX_ROWS`` the request only reads the file and queues it, and the
worker's job (``imports-run``) imports it in batches. Prints the upload request's time, the
job's time and rows per second, and, for comparison, the time of a file of ``--sync-rows``
rows imported inside the request. Every run checks that each row was imported exactly once.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import Database  # noqa: E402


def csv_of(code: str, rows: int, start: int = 0) -> bytes:
    lines = ["beneficiary_name,phone,commune,services,consent"]
    lines += [
        f"Người nhập {n:05d},09{n:08d},{code},vneid_install,yes" for n in range(start, start + rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def measure(uri: str, rows: int, sync_rows: int) -> dict[str, float | int]:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from tests import factories
    from volunteer_hub import create_app, jobs
    from volunteer_hub.extensions import db
    from volunteer_hub.models import HelpRequest, ImportJob, ImportStatus, Role

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": uri,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "IMPORT_SYNC_MAX_ROWS": sync_rows,
        }
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        prov = factories.province(db.session, name="Thành phố Huế", short_name="Huế")
        factories.catalogue(db.session)
        commune = factories.commune(db.session, prov, name="Phường An")
        coordinator = factories.user(db.session, Role.COORDINATOR, [commune], email="c@x.vn")
        db.session.commit()
        code, email = commune.code, coordinator.email
        db.session.remove()

    client = app.test_client()
    client.post("/login", data={"email": email, "password": factories.PASSWORD})

    def post(data: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        response = client.post(
            "/requests/import",
            data={"file": (io.BytesIO(data), "yeu-cau.csv")},
            content_type="multipart/form-data",
        )
        return response.status_code, time.perf_counter() - started

    sync_status, sync_s = post(csv_of(code, sync_rows, start=rows))
    assert sync_status == 200, sync_status
    queued_status, upload_s = post(csv_of(code, rows))
    assert queued_status == 303, queued_status
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with app.app_context():
        jobs.run_imports(app)
    job_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with app.app_context():
        job = db.session.scalars(select(ImportJob)).one()
        names = db.session.scalar(select(func.count(func.distinct(HelpRequest.beneficiary_name))))
        total = db.session.scalar(select(func.count()).select_from(HelpRequest))
        assert job.status is ImportStatus.DONE and job.rows_imported == rows, job.errors[:3]
        db.engine.dispose()
    return {
        "sync_rows": sync_rows,
        "sync_s": round(sync_s, 2),
        "upload_s": round(upload_s, 3),
        "job_s": round(job_s, 2),
        "rows_per_s": round(rows / job_s, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "exactly_once": int(total == names == rows + sync_rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--sync-rows", type=int, default=200)
    parser.add_argument(
        "--database",
        default=os.environ.get("VH_BENCH_DATABASE_URL"),
        help="A PostgreSQL server URL; a SQLite file when omitted.",
    )
    args = parser.parse_args()
    kind = "PostgreSQL" if args.database else "SQLite"
    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.database, Path(folder))
        try:
            r = measure(database.create(), args.rows, args.sync_rows)
        finally:
            database.drop()
    print(f"{kind}: {args.rows} rows through the worker, {args.sync_rows} in the request")
    print(f"  in the request ({r['sync_rows']} rows): {r['sync_s']} s")
    print(f"  upload of {args.rows} rows (read and queue): {r['upload_s']} s")
    print(f"  worker job: {r['job_s']} s, {r['rows_per_s']} rows/s, RSS +{r['rss_growth_mb']} MB")
    print(f"  every row exactly once: {'yes' if r['exactly_once'] else 'NO'}")
    return 0 if r["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
