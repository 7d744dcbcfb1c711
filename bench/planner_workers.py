"""Benchmark: drives planned per hour with one and with two planner-only workers.

    python bench/planner_workers.py                         # SQLite, 6 plans of 10 s each
    python bench/planner_workers.py --database postgresql://postgres@127.0.0.1:5432/
    python bench/planner_workers.py --plans 8 --time-limit 20 --workers 1 2 3

The demo is seeded into a throwaway database; each run queues ``--plans`` copies of a past
drive's plan (its stored problem, as a coordinator pressing "Plan" again would) and starts N
``python -m volunteer_hub.worker --jobs plans`` processes, each solving with one search process
(``VH_PLAN_WORKERS=1``). The rate is plans divided by the time from the first claim to the last
result, read from the plan rows, so process start-up is not counted. A plan searches for its
whole time limit, so the figure measures how many plans run side by side (claims, cores), not
the planner's speed (see docs/scheduling.md for that).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import Database  # noqa: E402


def config(uri: str) -> dict[str, object]:
    return {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": uri}


def seed(uri: str) -> None:
    """Build the schema and load the demo (its past drives carry solved plans)."""
    from flask_migrate import upgrade

    from volunteer_hub import create_app
    from volunteer_hub.demo.hue import seed_demo
    from volunteer_hub.extensions import db

    app = create_app(config(uri))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        seed_demo(db.session)
        db.session.commit()
        db.engine.dispose()


def queue(uri: str, plans: int, time_limit_s: float) -> tuple[list[int], int]:
    """Queue ``plans`` copies of the largest past plan; return their ids and its visits."""
    from sqlalchemy import func, select

    from volunteer_hub import create_app
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Plan, PlanStatus

    app = create_app(config(uri))
    with app.app_context():
        source = max(
            db.session.scalars(select(Plan).where(Plan.status == PlanStatus.DONE)),
            key=lambda p: len((p.problem or {}).get("visits", [])),
        )
        version = db.session.scalar(
            select(func.max(Plan.version)).where(Plan.drive_id == source.drive_id)
        )
        made = []
        for i in range(plans):
            plan = Plan(
                drive_id=source.drive_id,
                version=version + 1 + i,
                status=PlanStatus.QUEUED,
                problem=source.problem,
                params={"time_limit_s": time_limit_s},
            )
            db.session.add(plan)
            made.append(plan)
        db.session.commit()
        ids = [p.id for p in made]
        visits = len(source.problem.get("visits", []))
        db.engine.dispose()
    return ids, visits


def measure(uri: str, ids: list[int], timeout_s: float) -> tuple[float, int]:
    """Wait until every plan is done; return seconds from first claim to last result."""
    from sqlalchemy import create_engine, select

    from bench.databases import driver_url
    from volunteer_hub.models import Plan, PlanStatus

    engine = create_engine(driver_url(uri))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Plan.status, Plan.started_at, Plan.finished_at).where(Plan.id.in_(ids))
                ).all()
            finished = [r for r in rows if r.status in (PlanStatus.DONE, PlanStatus.FAILED)]
            if len(finished) == len(ids):
                failed = sum(1 for r in rows if r.status is PlanStatus.FAILED)
                first = min(r.started_at for r in rows)
                last = max(r.finished_at for r in rows)
                return (last - first).total_seconds(), failed
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(finished)} of {len(ids)} plans finished in time")
            time.sleep(0.5)
    finally:
        engine.dispose()


def run(uri: str, workers: int, plans: int, time_limit_s: float) -> dict[str, float]:
    ids, visits = queue(uri, plans, time_limit_s)
    env = {
        **os.environ,
        "VH_SECRET_KEY": "bench",
        "VH_SQLALCHEMY_DATABASE_URI": uri,
        "VH_PLAN_WORKERS": "1",
        "VH_WORKER_PLANS_INTERVAL_S": "0.5",
    }
    procs = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "volunteer_hub.worker", "--jobs", "plans"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        seconds, failed = measure(uri, ids, timeout_s=plans * time_limit_s * 3 + 120)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    return {
        "workers": workers,
        "plans": plans,
        "visits": visits,
        "seconds": seconds,
        "failed": failed,
        "per_hour": plans / seconds * 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--plans", type=int, default=6)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per plan")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.database, Path(folder))
        uri = database.create()
        try:
            seed(uri)
            kind = "PostgreSQL" if args.database else "SQLite"
            print(f"{kind}, {os.cpu_count()} cores, {args.time_limit:g} s per plan")
            print("| planner workers | plans | visits each | seconds | failed | drives/hour |")
            print("|---:|---:|---:|---:|---:|---:|")
            for n in args.workers:
                r = run(uri, n, args.plans, args.time_limit)
                print(
                    f"| {n} | {r['plans']} | {r['visits']} | {r['seconds']:.1f} | "
                    f"{r['failed']} | {r['per_hour']:.0f} |",
                    flush=True,
                )
        finally:
            database.drop()


if __name__ == "__main__":
    main()
