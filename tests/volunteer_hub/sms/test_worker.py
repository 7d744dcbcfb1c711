"""The worker: APScheduler jobs with explicit ids, the demo's in-process scheduler, the CLI."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from sqlalchemy import select

from tests import factories
from volunteer_hub import jobs, worker
from volunteer_hub.cli import cli
from volunteer_hub.models import AuditEvent, Message, MessageStatus, RequestStatus, utcnow
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.services.messaging.settings import SmsSettingsError
from volunteer_hub.services.privacy import RetentionError
from volunteer_hub.sms import GatewayConfigError


def test_the_worker_has_coalescing_jobs_with_explicit_ids(app):
    built = worker.build_scheduler(app)
    assert isinstance(built.scheduler, BlockingScheduler)
    jobs = {job.id: job for job in built.scheduler.get_jobs()}
    assert set(jobs) == {
        "sms-dispatch",
        "sms-reconcile",
        "sms-reminders",
        "links-expire",
        "plans-run",
        "privacy-purge",
        "idempotency-expire",
        "imports-run",
        "report-totals",
        "worker-heartbeat",
    }
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
    for job_id in set(jobs) - {"privacy-purge"}:
        assert isinstance(jobs[job_id].trigger, IntervalTrigger)
    assert jobs["sms-dispatch"].trigger.interval.total_seconds() == 2
    assert jobs["sms-reconcile"].trigger.interval.total_seconds() == 60


def test_the_purge_runs_every_night_at_three_local_time(app):
    purge = worker.build_scheduler(app).scheduler.get_job("privacy-purge")
    assert isinstance(purge.trigger, CronTrigger)
    assert str(purge.trigger.timezone) == "Asia/Ho_Chi_Minh"
    after = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    fire = purge.trigger.get_next_fire_time(None, after)
    assert (fire.date(), fire.hour, fire.minute) == (date(2026, 11, 23), 3, 0)


def _ended_request(session, days_ago: int, **kw):  # type: ignore[no-untyped-def]
    """A household helped (request done, no visit row) ``days_ago`` days ago."""
    commune = kw.pop("commune", None) or factories.commune(session)
    return factories.help_request(
        session,
        commune,
        status=RequestStatus.DONE,
        status_changed_at=utcnow() - timedelta(days=days_ago),
        **kw,
    )


@pytest.mark.app_config(RETENTION_DAYS=30)
def test_the_purge_job_removes_old_contacts_with_the_retention_setting(app, session, caplog):
    caplog.set_level("INFO", logger="volunteer_hub.privacy")
    old = _ended_request(session, 45, phone="+84911111111", house="5 kiệt 3 Chi Lăng")
    recent = _ended_request(session, 10, commune=old.commune, phone="+84922222222")
    session.commit()
    report = worker.run_once(app)["privacy-purge"]
    assert (report.requests, report.dry_run) == (1, False)
    session.expire_all()
    assert old.phone is None and old.house is None and old.contact_purged_at is not None
    assert recent.phone == "+84922222222"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
    assert event.actor == "worker" and event.detail["requests"] == 1 and event.detail["days"] == 30
    assert "purge by worker" in caplog.text
    assert jobs.purge_contacts(app).requests == 0  # the next night finds nothing new


@pytest.mark.parametrize("value", ["soon", 0, -5, "1.5", True])
def test_a_wrong_retention_setting_stops_the_worker_before_it_starts(app, value):
    app.config["RETENTION_DAYS"] = value
    with pytest.raises(RetentionError, match="VH_RETENTION_DAYS"):
        worker.build_scheduler(app)
    with pytest.raises(RetentionError):
        worker.run_once(app)


def test_run_once_sends_what_is_due_with_the_configured_backend(app, session, caplog):
    caplog.set_level("INFO", logger="volunteer_hub.sms.console")
    app.config["SMS_QUIET_HOURS"] = ""
    queue_message(
        session, key="w", kind="broadcast", to_phone="+84901234567", body="Doan TN: thu worker"
    )
    session.commit()
    reports = worker.run_once(app)
    assert reports["sms-dispatch"].sent == 1
    assert session.scalar(select(Message.status)) == MessageStatus.SENT
    assert "Doan TN: thu worker" in caplog.text


def test_a_failing_job_is_logged_and_the_next_run_starts_afresh(app, session, caplog):
    class Broken:
        name = "broken"
        max_concurrency = 1

        def send(self, to, body):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        def find_sent(self, to, since):  # type: ignore[no-untyped-def]
            raise RuntimeError("list boom")

    queue_message(session, key="b", kind="k", to_phone="+84901234567", body="x")
    session.commit()
    app.config["SMS_QUIET_HOURS"] = ""
    app.config["SMS_SENDING_TIMEOUT_S"] = 0
    from volunteer_hub.sms import SenderThrottle

    report = jobs.dispatch_messages(app, Broken(), SenderThrottle(0))
    assert report is not None and report.uncertain == 1  # a backend bug never resends
    assert jobs.reconcile_messages(app, Broken()) is None  # logged, rolled back
    assert "sms-reconcile failed" in caplog.text


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("SMS_QUIET_HOURS", "late", SmsSettingsError),
        ("SMS_SENDING_TIMEOUT_S", 10, SmsSettingsError),
        ("SMS_BACKEND", "pigeon", GatewayConfigError),
        ("SMS_BACKEND", "twilio", GatewayConfigError),
    ],
)
def test_wrong_settings_stop_the_worker_before_it_starts(app, setting, value, error):
    app.config[setting] = value
    with pytest.raises(error):
        worker.build_scheduler(app)


def test_the_demo_scheduler_runs_in_the_background_and_stops(app):
    scheduler = worker.start_demo_scheduler(app)
    try:
        assert isinstance(scheduler, BackgroundScheduler) and scheduler.running
        assert {j.id for j in scheduler.get_jobs()} >= {"sms-dispatch", "sms-reminders"}
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler.running


def test_the_web_app_never_starts_a_scheduler(client):
    before = {t.name for t in threading.enumerate()}
    client.get("/")
    client.get("/healthz")
    after = {t.name for t in threading.enumerate()}
    assert not any("APScheduler" in name for name in after - before)
    assert not any("APScheduler" in name for name in after)


@pytest.fixture
def cli_env(databases, monkeypatch):  # type: ignore[no-untyped-def]
    uri = databases.new("smscli")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", uri)
    monkeypatch.setenv("VH_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("VH_SMS_QUIET_HOURS", "")
    return uri


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_drives_list_broadcast_status_and_worker_from_the_command_line(cli_env):
    assert run("db", "upgrade").exit_code == 0
    assert run("demo", "--seed-only").exit_code == 0

    listed = run("drives", "list", "--json")
    assert listed.exit_code == 0, listed.output
    drives = json.loads(listed.stdout)
    assert all(set(d) == {"id", "name", "status", "first_day"} for d in drives)
    drive = max(drives, key=lambda d: d["first_day"] or "")  # the upcoming weekend
    assert drive["status"] == "draft" and len(drive["first_day"]) == 10
    lines = run("drives", "list").stdout.splitlines()
    assert f"{drive['id']}\t{drive['name']}\tdraft\t{drive['first_day']}" in lines

    queued = run(
        "sms",
        "broadcast",
        "--drive",
        str(drive["id"]),
        "--text",
        "Trời mưa to sáng thứ Bảy, các đội mang áo mưa.",
    )
    assert queued.exit_code == 0, queued.output
    count = int(queued.stdout.strip().splitlines()[-1])
    assert count > 20
    again = run(
        "sms",
        "broadcast",
        "--drive",
        str(drive["id"]),
        "--text",
        "Trời mưa to sáng thứ Bảy, các đội mang áo mưa.",
    )
    assert again.stdout.strip().splitlines()[-1] == "0"

    status = json.loads(run("sms", "status", "--json").stdout)
    assert status["queued"] == count and set(status) >= {"queued", "sending", "sent", "held"}

    once = run("worker", "--once")
    assert once.exit_code == 0, once.output
    # The nightly purge ran too; the demo's households were all visited recently.
    assert "privacy-purge: PurgeReport(requests=0" in once.output
    status = json.loads(run("sms", "status", "--json").stdout)
    assert status["sent"] == count and status["queued"] == 0
    assert "sent\t" in run("sms", "status").stdout


def test_broadcast_errors_are_one_clear_line(cli_env):
    run("db", "upgrade")
    missing = CliRunner().invoke(cli, ["sms", "broadcast", "--drive", "999", "--text", "x"])
    assert missing.exit_code == 1 and "no drive with id 999" in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_the_worker_refuses_bad_settings_in_one_line(cli_env, monkeypatch):
    run("db", "upgrade")
    monkeypatch.setenv("VH_SMS_QUIET_HOURS", "all night")
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 1
    assert "VH_SMS_QUIET_HOURS" in result.output and "Traceback" not in result.output
