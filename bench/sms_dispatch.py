"""Benchmark: messages per second the outbox sends through the real twilio client.

    python bench/sms_dispatch.py                        # SQLite, 2,000 messages, 1 and 2 workers
    python bench/sms_dispatch.py --database postgresql://postgres@127.0.0.1:5432/
    python bench/sms_dispatch.py --latency-ms 150       # closer to a real provider's round trip

The fake Twilio (tests/fakes.py) runs in its own process; each worker is its own process
running the same dispatch the ``sms-dispatch`` job runs. The rate is messages divided by the
time from the first claim to the last ``sent`` row, read from the database, so process start-up
is not counted. Every run also checks that the fake received each message exactly once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, insert, select  # noqa: E402

from bench.databases import Database, driver_url  # noqa: E402
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402

GOAL_PER_S = 200


def config(uri: str, base_url: str, concurrency: int) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": uri,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": base_url,
        "PUBLIC_BASE_URL": "https://hotro.example.vn",
        "SMS_QUIET_HOURS": "",
        "SMS_CONCURRENCY": concurrency,
    }


def prepare(uri: str, messages: int, run: str) -> None:
    """Build the schema and queue ``messages`` messages."""
    from flask_migrate import upgrade

    from volunteer_hub import create_app
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Message, MessageStatus, utcnow

    app = create_app(config(uri, "http://unused", 1))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        now = utcnow()
        db.session.execute(
            insert(Message),
            [
                {
                    "idempotency_key": f"bench:{run}:{i}",
                    "kind": "broadcast",
                    "to_phone": f"+849{i:08d}",
                    "body": f"Doan TN: tin {run} so {i}",
                    "status": MessageStatus.QUEUED,
                    "send_after": now,
                    "created_at": now,
                }
                for i in range(messages)
            ],
        )
        db.session.commit()
        db.engine.dispose()


def drain(uri: str, base_url: str, concurrency: int, start: Any) -> None:
    """One worker process: send until nothing is due (what the sms-dispatch job does)."""
    from volunteer_hub import create_app
    from volunteer_hub.extensions import db
    from volunteer_hub.services.messaging.dispatch import send_due_messages
    from volunteer_hub.sms import build_gateway

    app = create_app(config(uri, base_url, concurrency))
    with app.app_context():
        gateway = build_gateway(app.config)
        start.wait(60)
        send_due_messages(db.session, gateway)
        db.session.remove()
        db.engine.dispose()


def fake_messages(base_url: str) -> list[dict[str, object]]:
    """Every message the fake received, through its list API."""
    found: list[dict[str, object]] = []
    url: str | None = f"{base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?PageSize=1000"
    token = b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    while url:
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            page = json.load(response)
        found += page["messages"]
        url = base_url + page["next_page_uri"] if page["next_page_uri"] else None
    return found


def measure(
    uri: str, base_url: str, messages: int, workers: int, concurrency: int, run: str
) -> dict[str, object]:
    """Queue, dispatch with ``workers`` processes, and check what arrived."""
    from volunteer_hub.models import Message, MessageStatus

    prepare(uri, messages, run)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [
        context.Process(target=drain, args=(uri, base_url, concurrency, start))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # let every process import and connect before the clock starts
    began = time.monotonic()
    start.set()
    for process in processes:
        process.join(600)
    wall_s = time.monotonic() - began

    engine = create_engine(driver_url(uri))
    with engine.connect() as conn:
        first, last, sent = conn.execute(
            select(func.min(Message.claimed_at), func.max(Message.sent_at), func.count()).where(
                Message.status == MessageStatus.SENT, Message.idempotency_key.like(f"bench:{run}:%")
            )
        ).one()
    engine.dispose()
    if isinstance(first, str):  # SQLite returns text for aggregates of datetimes
        from datetime import datetime

        first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    seconds = (last - first).total_seconds() if sent else float("nan")

    received = [m for m in fake_messages(base_url) if f"tin {run} " in str(m["body"])]
    bodies = [m["body"] for m in received]
    return {
        "workers": workers,
        "messages": messages,
        "sent": sent,
        "seconds": round(seconds, 2),
        "per_s": round(sent / seconds, 1) if sent else 0.0,
        "wall_s": round(wall_s, 2),
        "received": len(received),
        "duplicates": len(bodies) - len(set(bodies)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="Worker counts to run, e.g. 1,2,4.")
    parser.add_argument("--concurrency", type=int, default=8, help="Sends in flight per worker.")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="Delay the fake adds to every request."
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("VH_BENCH_DATABASE_URL"),
        help="A PostgreSQL server URL; SQLite files when omitted.",
    )
    args = parser.parse_args()

    fake = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.fakes", "--latency-ms", str(args.latency_ms)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = (fake.stdout.readline() if fake.stdout else "").strip()
        if not base_url.startswith("http"):
            print("the fake Twilio did not start", file=sys.stderr)
            return 1
        kind = "PostgreSQL" if args.database else "SQLite"
        print(
            f"{args.messages} messages, {kind}, fake Twilio at {base_url}, "
            f"latency {args.latency_ms:g} ms, {args.concurrency} sends in flight per worker"
        )
        results = []
        with tempfile.TemporaryDirectory() as folder:
            for workers in (int(w) for w in args.workers.split(",")):
                database = Database(args.database, Path(folder))
                try:
                    result = measure(
                        database.create(),
                        base_url,
                        args.messages,
                        workers,
                        args.concurrency,
                        uuid.uuid4().hex[:6],
                    )
                finally:
                    database.drop()
                results.append(result)
                print(
                    f"  {workers} worker(s): {result['per_s']:>7} messages/s  "
                    f"({result['sent']} sent in {result['seconds']} s; "
                    f"received {result['received']}, duplicates {result['duplicates']})"
                )
        ok = all(
            r["received"] == r["messages"] == r["sent"] and r["duplicates"] == 0 for r in results
        )
        best = max(float(r["per_s"]) for r in results)
        print(
            f"goal >= {GOAL_PER_S}/s: {'met' if best >= GOAL_PER_S else 'NOT met'}; "
            f"every message exactly once: {'yes' if ok else 'NO'}"
        )
        return 0 if ok else 1
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    sys.exit(main())
