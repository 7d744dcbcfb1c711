"""Done when: SIGKILL the worker mid-dispatch, restart it, and every message went out exactly once.

Real worker processes (``volunteer-hub worker``) send 1,000 messages through the real twilio
client to the fake Twilio; they are killed with SIGKILL while dispatching and started again.
Rows they left ``sending`` are reconciled against the fake's message list. Nothing may be lost
or sent twice. On SQLite with one and two workers; on PostgreSQL with two workers at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from tests.conftest import base_config, server_url
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from volunteer_hub import create_app
from volunteer_hub.extensions import db
from volunteer_hub.models import Message, MessageStatus, utcnow
from volunteer_hub.services.messaging.outbox import queue_message

MESSAGES = 1000

pytestmark = pytest.mark.slow


def worker_command() -> list[str]:
    exe = shutil.which("volunteer-hub") or os.path.join(
        os.path.dirname(sys.executable), "volunteer-hub"
    )
    return [exe, "worker"]


def prepare(uri: str) -> None:
    app = create_app(base_config(uri))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        # queue_message checks each key; a bulk insert of the same rows is quicker here.
        queue_message(
            db.session,
            key="crash:0",
            kind="broadcast",
            to_phone="+84900000000",
            body="Doan TN: tin so 0",
        )
        db.session.execute(
            insert(Message),
            [
                {
                    "idempotency_key": f"crash:{i}",
                    "kind": "broadcast",
                    "to_phone": f"+8490{i % 97:07d}",
                    "body": f"Doan TN: tin so {i}",
                    "status": MessageStatus.QUEUED,
                    "send_after": utcnow(),
                    "created_at": utcnow(),
                }
                for i in range(1, MESSAGES)
            ],
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, every_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class Outbox:
    """Reads the outbox from the test process, as a coordinator's page would."""

    def __init__(self, uri: str) -> None:
        self.engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))

    def rows(self) -> list[tuple[str, MessageStatus, str | None]]:
        with Session(self.engine) as session:
            return [
                (body, MessageStatus(status), sid)
                for body, status, sid in session.execute(
                    select(Message.body, Message.status, Message.provider_sid)
                )
            ]

    def all_sent(self) -> bool:
        return all(status == MessageStatus.SENT for _, status, _ in self.rows())


def start_workers(
    count: int, env: dict[str, str], logs: Path, round_: int
) -> list[subprocess.Popen]:
    started = []
    for n in range(count):
        with open(logs / f"worker-{round_}-{n}.log", "wb") as log:
            # The child keeps its own copy of the file descriptor.
            started.append(
                subprocess.Popen(worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
            )
    return started


def worker_env(uri: str, fake: FakeTwilio) -> dict[str, str]:
    return {
        **os.environ,
        "VH_SQLALCHEMY_DATABASE_URI": uri,
        "VH_SECRET_KEY": "crash-test-secret",
        "VH_SMS_BACKEND": "twilio",
        "VH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "VH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "VH_TWILIO_FROM": "+15005550006",
        "VH_TWILIO_API_BASE_URL": fake.base_url,
        "VH_PUBLIC_BASE_URL": "https://hotro.example.vn",
        "VH_SMS_QUIET_HOURS": "",
        "VH_SMS_BATCH_SIZE": "50",
        "VH_SMS_CONCURRENCY": "4",
        "VH_SMS_HTTP_TIMEOUT_S": "1",
        # Rows a killed worker left "sending" are reconciled 3 s later, every half second.
        "VH_SMS_SENDING_TIMEOUT_S": "3",
        "VH_WORKER_RECONCILE_INTERVAL_S": "0.5",
        "VH_WORKER_DISPATCH_INTERVAL_S": "0.2",
    }


def run_crash_scenario(uri: str, workers: int, logs: Path) -> None:
    began = time.monotonic()
    prepare(uri)
    print(f"prepared in {time.monotonic() - began:.1f}s")
    # A little latency per request, so the kill lands while batches are in flight.
    with FakeTwilio(latency_s=0.004) as fake:
        env = worker_env(uri, fake)
        first = start_workers(workers, env, logs, 1)
        try:
            # Mid-batch (batches are 50), so claimed rows are in flight when the kill lands.
            wait_for(lambda: len(fake.messages) >= 275, 60, "the first 275 messages", 0.005)
        finally:
            for process in first:
                process.send_signal(signal.SIGKILL)
            for process in first:
                process.wait(10)
        at_kill = len(fake.messages)
        outbox = Outbox(uri)
        left = outbox.rows()
        in_flight = sum(1 for _, status, _ in left if status == MessageStatus.SENDING)
        assert at_kill < MESSAGES, "the kill came after the dispatch had finished"
        assert in_flight > 0, "the kill came between batches; nothing was left to reconcile"

        print(f"killed at {time.monotonic() - began:.1f}s")
        second = start_workers(workers, env, logs, 2)
        try:
            wait_for(outbox.all_sent, 120, "every message to be sent", 0.2)
        finally:
            for process in second:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(30) for process in second]
        assert codes == [0] * workers, "the restarted workers stop cleanly on SIGTERM"

        print(f"all sent at {time.monotonic() - began:.1f}s")
        received = fake.bodies()
        by_sid = fake.by_sid()
        final = outbox.rows()
        outbox.engine.dispose()

    duplicated = {body: n for body, n in received.items() if n > 1}
    assert duplicated == {}, f"sent twice: {list(duplicated)[:5]}"
    assert len(received) == MESSAGES, "every message reached the provider"
    for body, status, sid in final:
        assert status == MessageStatus.SENT
        assert sid in by_sid and by_sid[sid]["body"] == body
    assert len({sid for _, _, sid in final}) == MESSAGES
    print(f"killed with {at_kill} sent and {in_flight} rows in flight; all {MESSAGES} sent once")


@pytest.mark.skipif(server_url() is not None, reason="the SQLite case; PostgreSQL runs below")
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_dispatch_on_sqlite_loses_and_duplicates_nothing(databases, tmp_path, workers):
    run_crash_scenario(databases.new("crash"), workers, tmp_path)


@pytest.mark.skipif(server_url() is None, reason="needs PostgreSQL (VH_TEST_DATABASE_URL)")
def test_sigkill_two_workers_mid_dispatch_on_postgresql_loses_and_duplicates_nothing(
    databases, tmp_path
):
    run_crash_scenario(databases.new("crash"), 2, tmp_path)
