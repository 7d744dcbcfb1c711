"""For operators: /readyz, /metrics (not public), JSON logs with a request id."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from datetime import timedelta

import pytest

from volunteer_hub import create_app, jobs, logs
from volunteer_hub.config import ConfigError
from volunteer_hub.models import MessageStatus, PlanStatus, utcnow
from volunteer_hub.services import workers
from volunteer_hub.services.messaging.outbox import queue_message

TOKEN = "metrics-test-token"  # noqa: S105


def test_readyz_reports_the_database_redis_and_the_missing_workers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["redis"] == "not used"  # memory:// in the tests
    assert body["workers"] == dict.fromkeys(workers.ROLES, 0)
    assert body["workers_missing"] == list(workers.ROLES)


def test_readyz_counts_the_workers_that_beat_in_the_last_minute(client, session):
    workers.beat(session, "planner:1", ("plans",))
    workers.beat(session, "sender:2", ("sms", "reconcile"))
    workers.beat(session, "old:3", ("links",), now=utcnow() - timedelta(minutes=3))
    body = client.get("/readyz").get_json()
    assert body["workers"]["plans"] == 1 and body["workers"]["sms"] == 1
    assert body["workers_missing"] == ["reminders", "links", "purge", "imports"]


@pytest.mark.app_config(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
def test_readyz_says_degraded_but_stays_ready_when_redis_is_away(client):
    # The site serves with in-process limits meanwhile (issue 15): a 503 would take every
    # replica out of the load balancer for an outage it rides out.
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "error"
    assert response.get_json()["status"] == "degraded"
    assert client.get("/healthz").status_code == 200  # liveness does not depend on Redis


def test_readyz_is_503_without_the_database(tmp_path):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/such/db.sqlite3"}
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"


def test_metrics_are_not_public_by_default(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 404


@pytest.mark.app_config(METRICS_TOKEN=TOKEN)
def test_metrics_need_the_token(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.mimetype == "text/plain"


@pytest.mark.app_config(METRICS_ALLOW=["10.1.0.0/16"])
def test_metrics_answer_an_allowed_address_only(client):
    inside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 200
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.2.0.1"})
    assert outside.status_code == 404


@pytest.mark.parametrize("value", ["not-a-network", "10.0.0.0/99", 5])
def test_a_wrong_allow_list_stops_the_app(value):
    with pytest.raises(ConfigError, match="VH_METRICS_ALLOW"):
        create_app({"TESTING": True, "METRICS_ALLOW": value})


def _samples(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


@pytest.mark.app_config(METRICS_TOKEN=TOKEN)
def test_metrics_show_the_outbox_plans_and_heartbeats(client, session):
    from tests import factories
    from volunteer_hub.models import Plan

    now = utcnow()
    queue_message(
        session,
        key="old",
        kind="k",
        to_phone="+84901234567",
        body="x",
        send_after=now - timedelta(minutes=10),
    )
    queue_message(session, key="new", kind="k", to_phone="+84901234568", body="y")
    queue_message(
        session,
        key="later",
        kind="k",
        to_phone="+84901234569",
        body="z",
        send_after=now + timedelta(hours=5),
    )
    drive = factories.drive_world(session).drive
    session.add(Plan(drive=drive, version=7, status=PlanStatus.QUEUED, problem={}, params={}))
    session.commit()
    workers.beat(session, "host:9", ("plans", "sms"), now=now - timedelta(seconds=20))
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    values = _samples(text)
    assert values['volunteer_hub_outbox_messages{status="queued"}'] == 3
    assert values['volunteer_hub_outbox_messages{status="held"}'] == 0
    assert values["volunteer_hub_outbox_due_messages"] == 2
    assert 590 <= values["volunteer_hub_outbox_oldest_due_age_seconds"] < 3600
    assert values['volunteer_hub_plans{status="queued"}'] == 1
    assert values['volunteer_hub_plans{status="running"}'] == 0
    assert values['volunteer_hub_workers_live{role="plans"}'] == 1
    assert values['volunteer_hub_workers_live{role="purge"}'] == 0
    age = values['volunteer_hub_worker_heartbeat_age_seconds{roles="plans,sms",worker="host:9"}']
    assert age >= 20
    assert MessageStatus.SENDING.value in text


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_the_proxys_request_id_is_kept_when_it_looks_like_one(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "a1b2c3d4e5f60718"})
    assert kept.headers["X-Request-ID"] == "a1b2c3d4e5f60718"
    for odd in ("<script>alert(1)</script>", "short", "x" * 200, "a b c d e f g h"):
        answered = client.get("/healthz", headers={"X-Request-ID": odd}).headers["X-Request-ID"]
        assert answered != odd and len(answered) == 32


def _json_logger(component: str) -> tuple[logging.Logger, io.StringIO]:
    config = logs.dict_config("json", "INFO", component)
    stream = io.StringIO()
    config["handlers"]["main"]["stream"] = stream
    del config["root"]  # leave the test runner's root logger alone
    config["loggers"] = {"vh.test": {"level": "INFO", "handlers": ["main"], "propagate": False}}
    logging.config.dictConfig(config)
    return logging.getLogger("vh.test"), stream


def test_json_logs_carry_the_request_id_of_the_request(app):
    log, stream = _json_logger("web")

    @app.get("/_log_something")
    def _log_something():  # type: ignore[no-untyped-def]
        log.info("hello from a view")
        return "ok"

    response = app.test_client().get("/_log_something", headers={"X-Request-ID": "req-12345678"})
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["message"] == "hello from a view"
    assert line["request_id"] == "req-12345678" == response.headers["X-Request-ID"]
    assert line["level"] == "INFO" and line["logger"] == "vh.test" and line["component"] == "web"
    assert "time" in line


def test_json_logs_of_a_worker_job_carry_its_run_id(app):
    log, stream = _json_logger("worker")

    def work() -> int:
        log.info("inside the job")
        return 1

    assert jobs._in_context(app, "sms-dispatch", work) == 1
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"].startswith("sms-dispatch-") and line["component"] == "worker"
    assert logs.REQUEST_ID.get() == "-"  # reset after the run


@pytest.mark.parametrize(("fmt", "level"), [("xml", "INFO"), ("json", "LOUD")])
def test_wrong_log_settings_are_one_clear_error(fmt, level):
    with pytest.raises(logs.LogSettingsError, match="VH_LOG_"):
        logs.dict_config(fmt, level)
