"""Workers with roles: --jobs picks the jobs, every worker beats, the SMS rate is shared."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
import redis
from click.testing import CliRunner

from tests import factories
from volunteer_hub import jobs, worker
from volunteer_hub.cli import cli
from volunteer_hub.models import Plan, PlanStatus, WorkerHeartbeat, utcnow
from volunteer_hub.services import workers
from volunteer_hub.sms.throttle import SharedThrottle, window_for

REDIS_URI = "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URI, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        (None, worker.ROLES),
        ("", worker.ROLES),
        ("plans", ("plans",)),
        ("purge, SMS", ("sms", "purge")),
        ("sms,plans,reminders,links,reconcile,purge,imports", worker.ROLES),
        ("imports,plans", ("plans", "imports")),
    ],
)
def test_roles_are_parsed_in_a_fixed_order(text, roles):
    assert worker.parse_roles(text) == roles


@pytest.mark.parametrize("text", ["pigeons", "sms,plan", ",", "sms;plans"])
def test_an_unknown_role_is_refused_with_the_known_ones(text):
    with pytest.raises(worker.WorkerRolesError, match="sms, plans, reminders"):
        worker.parse_roles(text)


def test_a_planner_worker_runs_only_plans_and_its_heartbeat(app):
    app.config["SMS_BACKEND"] = "twilio"  # not configured: a planner never needs it
    built = worker.build_scheduler(app, roles=("plans",))
    assert {j.id for j in built.scheduler.get_jobs()} == {"plans-run", "worker-heartbeat"}
    assert built.gateway is None


def test_a_sender_worker_runs_sending_and_reconciling_only(app):
    built = worker.build_scheduler(app, roles=("sms", "reconcile"))
    assert {j.id for j in built.scheduler.get_jobs()} == {
        "sms-dispatch",
        "sms-reconcile",
        "worker-heartbeat",
    }


def test_run_once_runs_only_the_chosen_roles(app):
    assert set(worker.run_once(app, ("links", "reminders"))) == {"links-expire", "sms-reminders"}


def test_the_command_refuses_an_unknown_role_with_exit_status_2():
    result = CliRunner().invoke(cli, ["worker", "--once", "--jobs", "sms,pigeons"])
    assert result.exit_code == 2
    assert "unknown job role(s): pigeons" in result.output
    assert "sms, plans, reminders, links, reconcile, purge" in result.output


def test_the_module_entry_point_refuses_an_unknown_role_too(capsys):
    with pytest.raises(SystemExit) as stop:
        worker.main(["--jobs", "nope"])
    assert stop.value.code == 2 and "unknown job role(s): nope" in capsys.readouterr().err


@pytest.mark.slow
def test_a_planner_only_worker_solves_the_queued_plan_and_sends_nothing(app, session):
    from zoneinfo import ZoneInfo

    from volunteer_hub.services.drives import planning
    from volunteer_hub.services.messaging.outbox import queue_message

    dw = factories.drive_world(session)
    plan = planning.start_plan(
        session, dw.drive, user=None, tz=ZoneInfo("Asia/Ho_Chi_Minh"), time_limit_s=2
    )
    queue_message(session, key="r", kind="broadcast", to_phone="+84901234567", body="x")
    session.commit()
    done = worker.run_once(app, ("plans",))
    assert done == {"plans-run": [plan.id]}
    session.expire_all()
    assert session.get(Plan, plan.id).status is PlanStatus.DONE
    from volunteer_hub.models import Message, MessageStatus

    assert session.query(Message).one().status is MessageStatus.QUEUED


def test_heartbeats_say_which_roles_are_alive(app, session):
    now = utcnow()
    workers.beat(session, "a:1", ("sms", "reconcile"), now=now)
    workers.beat(session, "b:2", ("plans",), now=now - timedelta(seconds=30))
    workers.beat(session, "c:3", ("sms",), now=now - timedelta(minutes=5))  # silent
    assert workers.live_workers(session, now=now) == {"sms": 1, "reconcile": 1, "plans": 1}
    workers.beat(session, "c:3", ("sms",), now=now)  # beats again: the same row
    assert session.query(WorkerHeartbeat).count() == 3
    assert workers.live_workers(session, now=now)["sms"] == 2
    workers.forget(session, "a:1")
    assert workers.live_workers(session, now=now) == {"sms": 1, "plans": 1}
    workers.beat(session, "d:4", ("links",), now=now + timedelta(days=2))
    assert [h.name for h in workers.heartbeats(session)] == ["d:4"]  # the dead are removed


def test_the_heartbeat_job_writes_the_worker_row_and_stopping_removes_it(app, session):
    assert jobs.heartbeat(app, "host:42", ("plans", "links")) is True
    row = session.query(WorkerHeartbeat).one()
    assert (row.name, row.roles) == ("host:42", "plans,links")
    assert jobs.forget(app, "host:42") is True
    session.expire_all()
    assert session.query(WorkerHeartbeat).count() == 0


@pytest.mark.parametrize(
    ("rate", "window"), [(1, (1, 1)), (0.5, (1, 2)), (0.3, (1, 4)), (2.5, (5, 2)), (8, (8, 1))]
)
def test_a_rate_becomes_a_whole_window_never_above_it(rate, window):
    assert window_for(rate) == window
    assert window[0] / window[1] <= rate


def _no_sleep(waits: list[float]):  # type: ignore[no-untyped-def]
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise TimeoutError  # the test only wants to know the throttle would wait

    return sleep


def test_two_workers_share_one_senders_rate_in_one_store():
    # Two throttles on one store stand for two workers: once the window's one segment is
    # spent by the first, the second has to wait (one per 10 s, so no timing is involved).
    key = f"test:{uuid.uuid4().hex}"
    first = SharedThrottle(0.1, storage_uri="memory://", key=key)
    second = SharedThrottle(0.1, storage_uri="memory://", key=key)
    second._limiter = first._shared()  # memory:// is per object; Redis is per server
    assert first.acquire(1) == 0.0
    waits: list[float] = []
    second._sleep = _no_sleep(waits)
    with pytest.raises(TimeoutError):
        second.acquire(1)
    assert 0 < waits[0] <= 10


@needs_redis
def test_workers_share_the_rate_through_redis():
    key = f"test:{uuid.uuid4().hex}"
    throttles = [SharedThrottle(0.1, storage_uri=REDIS_URI, key=key) for _ in range(3)]
    assert throttles[0].acquire(1) == 0.0
    for other in throttles[1:]:
        waits: list[float] = []
        other._sleep = _no_sleep(waits)
        with pytest.raises(TimeoutError):
            other.acquire(1)
        assert 0 < waits[0] <= 10
    # Another sender has its own rate.
    assert SharedThrottle(0.1, storage_uri=REDIS_URI, key=key + ":other").acquire(1) == 0.0


def test_without_the_store_a_worker_sends_its_share_of_the_rate(caplog):
    caplog.set_level(logging.WARNING, logger="volunteer_hub.sms.throttle")
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    throttle = SharedThrottle(
        4,
        storage_uri="redis://127.0.0.1:1/0",  # nothing listens there
        key="k",
        senders=lambda: 2,
        clock=lambda: clock[0],
        sleep=sleep,
    )
    for _ in range(6):
        throttle.acquire(1)
    # Half of 4/s for this worker: after its first two (the bucket), one every half second.
    assert waits == pytest.approx([0.5] * 4)
    assert "unreachable" in caplog.text and "1/2 of the rate" in caplog.text


def test_no_rate_means_no_waiting_and_no_store():
    throttle = SharedThrottle(0, storage_uri="redis://127.0.0.1:1/0", key="k")
    assert throttle.acquire(5) == 0.0 and throttle._limiter is None


def test_the_workers_throttle_keys_on_the_sender(app):
    from volunteer_hub.services.messaging.settings import SmsSettings
    from volunteer_hub.sms import build_gateway

    app.config.update(SMS_RATE_PER_S=1, TWILIO_FROM="DoanTN", RATELIMIT_STORAGE_URI="memory://")
    throttle = worker.sms_throttle(app, SmsSettings.from_config(app.config), build_gateway({}))
    assert isinstance(throttle, SharedThrottle)
    assert throttle.key == "console:DoanTN" and throttle.storage_uri == "memory://"
    app.config["SMS_RATE_STORAGE_URI"] = REDIS_URI
    throttle = worker.sms_throttle(app, SmsSettings.from_config(app.config), build_gateway({}))
    assert throttle.storage_uri == REDIS_URI
