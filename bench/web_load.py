"""Benchmark: the web app under concurrent load, as production serves it.

    python bench/web_load.py                          # SQLite and PostgreSQL, 60 s per scenario
    python bench/web_load.py --databases sqlite --duration 20 --users 16
    python bench/web_load.py --json bench/results/web.json

For each database, a fresh database is upgraded and given Huế's communes, the service
catalogue and stored SMS (for the delivery reports); then ``gunicorn --workers 2 wsgi:app``
serves it and locust (headless, ``bench/locustfile.py``) runs one scenario at a time for
``--duration`` seconds with ``--users`` concurrent users: ``/healthz`` (the ceiling: one
database round trip), the household form page, form submissions (page, then post with its
CSRF token) and Twilio's signed status webhook. It prints requests per second and the 50th,
95th and 99th percentile latencies of each.

Rate limits are off for the run (every request comes from 127.0.0.1, and the limits exist to
stop one address); the session cookie is allowed over plain HTTP on loopback. Everything
else is the production configuration. Load generator and server share the machine: on two
cores the figures are a floor, not the server's capacity alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import Database  # noqa: E402

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # noqa: S105 - a fake, for signing
SCENARIOS = {
    # scenario tag: the locust request name whose figures the table shows
    "healthz": "GET /healthz",
    "form_page": "GET /request",
    "form_submit": "POST /request",
    "status_webhook": "POST /webhooks/twilio/status",
}
STORED_SIDS = 500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(uri: str) -> dict[str, str]:
    """Upgrade the database, load what the scenarios need and return locust's settings."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from volunteer_hub import create_app
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Commune, Message, MessageStatus, Service, utcnow
    from volunteer_hub.services.reference.catalogue import load_default_catalogue
    from volunteer_hub.services.reference.places import load_places

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_places(db.session, "Huế")
        load_default_catalogue(db.session)
        now = utcnow()
        sids = [f"SMbench{i:026d}" for i in range(STORED_SIDS)]
        db.session.execute(
            insert(Message),
            [
                {
                    "idempotency_key": f"bench:{i}",
                    "kind": "broadcast",
                    "to_phone": f"+849{i:08d}",
                    "body": f"Doan TN: tin so {i}",
                    "status": MessageStatus.SENT,
                    "send_after": now,
                    "created_at": now,
                    "sent_at": now,
                    "provider": "twilio",
                    "provider_sid": sid,
                }
                for i, sid in enumerate(sids)
            ],
        )
        db.session.commit()
        commune = db.session.scalars(select(Commune.code).order_by(Commune.code)).first()
        services = db.session.scalars(select(Service.code).order_by(Service.code)).all()
        db.engine.dispose()
    return {
        "VH_BENCH_COMMUNE": commune or "",
        "VH_BENCH_SERVICES": ",".join(services[:4]),
        "VH_BENCH_SIDS": ",".join(sids),
        "VH_BENCH_AUTH_TOKEN": AUTH_TOKEN,
    }


def serve(uri: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start gunicorn with two workers on the database; return once /healthz answers."""
    env = os.environ | {
        "VH_SECRET_KEY": "bench-secret",
        "VH_SQLALCHEMY_DATABASE_URI": uri,
        "VH_RATELIMIT_ENABLED": "false",
        "VH_SESSION_COOKIE_SECURE": "false",
        "VH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "VH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.3)
    server.kill()
    raise RuntimeError(f"gunicorn did not start; see {log}")


def run_scenario(
    scenario: str, url: str, settings: dict[str, str], *, users: int, duration_s: int, folder: Path
) -> dict[str, object]:
    """Run one locust scenario and return its figures for the request that matters."""
    prefix = folder / scenario
    env = os.environ | settings | {"VH_BENCH_PUBLIC_URL": url}
    subprocess.run(  # noqa: S603 - our own interpreter and locustfile
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{duration_s}s",
            "--host",
            url,
            "--tags",
            scenario,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--stop-timeout",
            "5",
        ],
        cwd=REPO,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows.get(SCENARIOS[scenario])
    with open(f"{prefix}_failures.csv", newline="") as handle:
        failures = [
            f"{f['Name']}: {f['Error']} (x{f['Occurrences']})" for f in csv.DictReader(handle)
        ]
    for failure in failures:
        print(f"    {scenario}: {failure}", file=sys.stderr)
    if row is None:
        return {
            "scenario": scenario,
            "requests": 0,
            "failures": 0,
            "per_s": 0.0,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
        }
    return {
        "scenario": scenario,
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "per_s": round(float(row["Requests/s"]), 1),
        "p50_ms": _ms(row["50%"]),
        "p95_ms": _ms(row["95%"]),
        "p99_ms": _ms(row["99%"]),
    }


def _ms(value: str) -> int | None:
    return None if value in ("", "N/A") else int(float(value))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="Which databases to serve from: sqlite, postgresql or both.",
    )
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("VH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"),
        help="The PostgreSQL server to create the benchmark database on.",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=int, default=60, help="Seconds per scenario.")
    parser.add_argument("--users", type=int, default=32, help="Concurrent locust users.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args()

    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    print(
        f"gunicorn --workers 2, locust {args.users} users, {args.duration} s per scenario, "
        f"{os.cpu_count()} CPU(s) shared by server and load"
    )
    print(
        f"{'database':<11} {'scenario':<15} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'requests':>9} {'failed':>7}"
    )
    results: list[dict[str, object]] = []
    for kind in [d for d in args.databases.split(",") if d]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            database = Database(args.postgresql if kind == "postgresql" else None, folder)
            uri = database.create()
            server = None
            try:
                settings = prepare(uri)
                port = free_port()
                server = serve(uri, port, folder / "gunicorn.log")
                for scenario in scenarios:
                    figures = {
                        "database": kind,
                        **run_scenario(
                            scenario,
                            f"http://127.0.0.1:{port}",
                            settings,
                            users=args.users,
                            duration_s=args.duration,
                            folder=folder,
                        ),
                    }
                    results.append(figures)
                    print(
                        f"{kind:<11} {scenario:<15} {figures['per_s']:>8} "
                        f"{figures['p50_ms'] or '-':>7} {figures['p95_ms'] or '-':>7} "
                        f"{figures['p99_ms'] or '-':>7} {figures['requests']:>9} "
                        f"{figures['failures']:>7}",
                        flush=True,
                    )
            finally:
                if server is not None:
                    server.send_signal(signal.SIGTERM)
                    server.wait(30)
                database.drop()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    failed = sum(int(r["failures"]) for r in results)  # type: ignore[call-overload]
    print(f"failed requests: {failed}")
    return 0 if failed == 0 and all(int(r["requests"]) for r in results) else 1  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
