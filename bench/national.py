"""Benchmark: the pages and API calls people wait for, over a whole country's data.

    python bench/national.py --database sqlite:////tmp/national.sqlite3
    python bench/national.py --database postgresql://postgres@127.0.0.1:5432/vh_national
    python bench/national.py --database ... --repeats 20 --json bench/results/national.json
    python bench/national.py --database ... --only "admin report dashboard"

The database is upgraded and, unless it already holds them, given the national demo
(``volunteer-hub demo --seed-only --scale national``: 3,321 communes, 10,000 volunteers,
100,000 open requests, a year of drives with 1,000,000 visits and 2,000,000 SMS); the seed's
time is printed. Then the app answers in-process (Flask's test client, no HTTP server, so the
figures are the app and its database alone) and each scenario is called ``--repeats`` times
after one warm-up call, each call followed by a ``GET /healthz`` whose times are shown beside
it: the floor of the same run, so a busy machine shows in both columns.

Scenarios: the admin's report dashboard over the whole country (last 90 days), a province
coordinator's home dashboard and report dashboard (the province with the most communes), the
summary API (admin token, 90 days: its first page of communes, and a page of 200), the
requests list searched for a name (whole country), the drives API (first page), the household
form page, and the Excel report export (90 days). The 90 days end on the app's local today
(``VH_TIMEZONE``), the period a user's report shows by default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import driver_url  # noqa: E402

PASSWORD = "bench-national"  # noqa: S105 - the demo accounts' password in the bench database


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (0 < share <= 1)."""
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[rank - 1]


def prepare(uri: str, factor: float) -> tuple[Any, float | None]:
    """Upgrade and seed the database when it lacks the national data; return the app."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from volunteer_hub import create_app
    from volunteer_hub.demo.national import seed_national
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Volunteer

    config = {
        "TESTING": True,
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SMS_BACKEND": "console",
    }
    app = create_app(config)
    seconds = None
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        seeded = db.session.scalar(
            select(Volunteer.id).where(Volunteer.source == "national-demo").limit(1)
        )
        if seeded is None:
            started = time.monotonic()
            seed_national(db.session, password=PASSWORD, factor=factor, echo=print)
            db.session.commit()
            seconds = time.monotonic() - started
        else:
            # Reused: make sure the bench knows the accounts' password.
            seed_national(db.session, password=PASSWORD, factor=factor)
            db.session.commit()
        db.session.remove()
    return app, seconds


def clients(app: Any) -> dict[str, Any]:
    """Signed-in test clients and an admin API token."""
    from sqlalchemy import func, select

    from volunteer_hub.demo.hue import ADMIN_EMAIL, province_coordinator_email
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Commune, Province, User
    from volunteer_hub.services.reference.accounts import create_api_token

    with app.app_context():
        code, name, communes = db.session.execute(
            select(Province.code, Province.short_name, func.count(Commune.id))
            .join(Commune, Commune.province_id == Province.id)
            .group_by(Province.id)
            .order_by(func.count(Commune.id).desc(), Province.code)
            .limit(1)
        ).one()
        admin = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        token = create_api_token(db.session, admin, name="bench-national").token
        db.session.commit()
        db.session.remove()
    out: dict[str, Any] = {"token": token, "province": f"{name} ({communes} communes)"}
    for role, email in (("admin", ADMIN_EMAIL), ("coordinator", province_coordinator_email(code))):
        client = app.test_client()
        answer = client.post("/login", data={"email": email, "password": PASSWORD})
        if answer.status_code != 302:
            raise SystemExit(f"could not sign in as {email}: {answer.status_code}")
        out[role] = client
    out["anonymous"] = app.test_client()
    return out


def scenarios(c: dict[str, Any], today: date) -> list[tuple[str, Any, str, dict[str, str]]]:
    first = (today - timedelta(days=89)).isoformat()
    period = f"from={first}&to={today.isoformat()}"
    bearer = {"Authorization": f"Bearer {c['token']}"}
    return [
        ("admin report dashboard, country, 90 days", c["admin"], f"/reports?{period}", {}),
        ("coordinator home dashboard, one province", c["coordinator"], "/dashboard", {}),
        (
            "coordinator report dashboard, one province, 90 days",
            c["coordinator"],
            f"/reports?{period}",
            {},
        ),
        (
            "summary API, country, 90 days",
            c["anonymous"],
            f"/api/v1/reports/summary?{period}",
            bearer,
        ),
        (
            "summary API, country, 90 days, 200 communes a page",
            c["anonymous"],
            f"/api/v1/reports/summary?limit=200&{period}",
            bearer,
        ),
        ("requests list, search 'nguyen van', country", c["admin"], "/requests?q=nguyen+van", {}),
        ("drives API, first page", c["anonymous"], "/api/v1/drives", bearer),
        ("public form page", c["anonymous"], "/request", {}),
        ("Excel report export, country, 90 days", c["admin"], f"/reports/export.xlsx?{period}", {}),
    ]


def run(uri: str, repeats: int, factor: float, only: str | None = None) -> dict[str, Any]:
    app, seed_seconds = prepare(uri, factor)
    c = clients(app)
    health = app.test_client()
    rows = []
    # The period ends on the app's local today (VH_TIMEZONE), as a user's report does by
    # default: not the machine's or UTC's date, which is a day behind in Vietnam until 07:00.
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    chosen = [s for s in scenarios(c, today) if not only or only.lower() in s[0].lower()]
    if not chosen:
        raise SystemExit(f"no scenario's name contains {only!r}")
    for name, client, path, headers in chosen:
        client.get(path, headers=headers)  # warm-up: caches, pool, statistics
        took: list[float] = []
        floor: list[float] = []
        size = 0
        for _ in range(repeats):
            started = time.perf_counter()
            answer = client.get(path, headers=headers)
            took.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code}")
            size = len(answer.data)
            started = time.perf_counter()
            if health.get("/healthz").status_code != 200:
                raise SystemExit("/healthz is not 200")
            floor.append((time.perf_counter() - started) * 1000)
        rows.append(
            {
                "scenario": name,
                "path": path,
                "p50_ms": statistics.median(took),
                "p95_ms": percentile(took, 0.95),
                "bytes": size,
                "healthz_p50_ms": statistics.median(floor),
                "healthz_p95_ms": percentile(floor, 0.95),
            }
        )
        print(f"  {name}: p95 {rows[-1]['p95_ms']:.0f} ms", flush=True)
    return {
        "seed_seconds": seed_seconds,
        "province": c["province"],
        "period_last": today.isoformat(),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLite or PostgreSQL URL")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per scenario")
    parser.add_argument("--scale-factor", type=float, default=1.0, help="shrink the seed")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--only", help="run only the scenarios whose name contains this (case ignored)"
    )
    args = parser.parse_args()
    uri = driver_url(args.database)
    result = run(uri, max(2, args.repeats), args.scale_factor, args.only)
    seed = result["seed_seconds"]
    print()
    print(f"database: {uri.split('@')[-1]}; coordinator's province: {result['province']}")
    print(f"seed: {f'{seed:.0f} s' if seed is not None else 'reused'}; {args.repeats} calls each")
    print(f"90-day periods end on the local today: {result['period_last']}")
    print()
    print("| scenario | p50 ms | p95 ms | bytes | /healthz p50 ms | /healthz p95 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in result["rows"]:
        print(
            f"| {row['scenario']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | "
            f"{row['bytes']:,} | {row['healthz_p50_ms']:.1f} | {row['healthz_p95_ms']:.1f} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"database": uri.split("@")[-1], **result}, indent=2))


if __name__ == "__main__":
    main()
