"""The worker process: APScheduler 3 runs the outbox, reminders, links and reconciliation.

    volunteer-hub worker [--jobs sms,plans,reminders,links,reconcile,purge,imports]
    python -m volunteer_hub.worker [--jobs ...]

A ``BlockingScheduler`` with ten jobs, each with an explicit id, coalescing missed runs and
never running twice at once: ``sms-dispatch`` (send what is due), ``sms-reconcile`` (settle
``sending`` rows a crash left behind), ``sms-reminders`` (queue reminders now due),
``links-expire``, ``plans-run`` (solve the drive plans coordinators queued), and, every night,
``privacy-purge`` (remove households' contact details after ``VH_RETENTION_DAYS``) with, hourly
in the same ``purge`` role, ``idempotency-expire`` (the API's keys older than 24 h),
``report-totals`` (the reports' per-commune daily totals, every 10 minutes) and
``imports-run`` (the large spreadsheet imports coordinators queued). Several
workers may run at once: claims are atomic in the database. The web app never starts a
scheduler; only the demo starts an in-process one (:func:`start_demo_scheduler`).

A worker runs the jobs of its roles (:data:`ROLES`; all by default), so planners and senders
scale apart: ``--jobs plans`` on a machine with cores to spare, ``--jobs sms,reconcile`` near
the provider. Every worker also writes a heartbeat row (``worker-heartbeat``) naming its
roles, which ``/readyz`` and ``/metrics`` read.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from volunteer_hub import jobs, logs
from volunteer_hub.extensions import db
from volunteer_hub.services.messaging.settings import SmsSettings
from volunteer_hub.services.privacy import retention_days
from volunteer_hub.services.workers import ROLES, live_workers, worker_name
from volunteer_hub.sms import SenderThrottle, SmsGateway, build_gateway

logger = logging.getLogger("volunteer_hub.worker")

DISPATCH_JOB = "sms-dispatch"
RECONCILE_JOB = "sms-reconcile"
REMINDERS_JOB = "sms-reminders"
LINKS_JOB = "links-expire"
PLANS_JOB = "plans-run"
PURGE_JOB = "privacy-purge"
IDEMPOTENCY_JOB = "idempotency-expire"
IMPORTS_JOB = "imports-run"
HEARTBEAT_JOB = "worker-heartbeat"
TOTALS_JOB = "report-totals"
JOB_IDS = (
    DISPATCH_JOB,
    RECONCILE_JOB,
    REMINDERS_JOB,
    LINKS_JOB,
    PLANS_JOB,
    PURGE_JOB,
    IDEMPOTENCY_JOB,
    IMPORTS_JOB,
    TOTALS_JOB,
    HEARTBEAT_JOB,
)

#: The roles of ``--jobs`` (a contract) and the job each one runs, in this order.
ROLE_JOBS = {
    "sms": DISPATCH_JOB,
    "plans": PLANS_JOB,
    "reminders": REMINDERS_JOB,
    "links": LINKS_JOB,
    "reconcile": RECONCILE_JOB,
    "purge": PURGE_JOB,
    "imports": IMPORTS_JOB,
}
assert tuple(ROLE_JOBS) == ROLES  # services.workers.ROLES is the one list


class WorkerRolesError(ValueError):
    """``--jobs`` names a role that does not exist; the message lists the ones that do."""


def parse_roles(text: str | None) -> tuple[str, ...]:
    """Parse ``"sms,plans"`` into roles in :data:`ROLES` order; empty or None means all."""
    names = [n.strip().lower() for n in (text or "").split(",") if n.strip()]
    if not names:
        if text is not None and text.strip():
            raise WorkerRolesError(f"no role in {text!r}; choose from {', '.join(ROLES)}")
        return ROLES
    unknown = sorted({n for n in names if n not in ROLE_JOBS})
    if unknown:
        raise WorkerRolesError(
            f"unknown job role(s): {', '.join(unknown)}; choose from {', '.join(ROLES)}"
        )
    return tuple(role for role in ROLES if role in names)


#: The nightly purge runs at this local time (VH_TIMEZONE), when nobody is out visiting.
PURGE_HOUR, PURGE_MINUTE = 3, 0


class _QuietSkips(logging.Filter):
    """Log "skipped: maximum number of running instances" for our jobs at DEBUG.

    A dispatch run that drains a big outbox outlives its interval on purpose, and so may a
    reconciliation waiting on the provider; APScheduler would warn about every run it skips
    meanwhile, which is exactly what max_instances=1 is for.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "maximum number of running instances" in message and any(
            job_id in message for job_id in JOB_IDS
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


@dataclass
class Worker:
    """A configured scheduler and what its jobs share."""

    scheduler: BaseScheduler
    gateway: SmsGateway | None
    stop: threading.Event
    roles: tuple[str, ...] = ROLES
    name: str = ""
    pool: ThreadPoolExecutor | None = None


def check_settings(
    app: Flask, roles: tuple[str, ...] = ROLES
) -> tuple[SmsSettings, SmsGateway | None]:
    """Read the settings the roles need and build the gateway (None when no role sends).

    Raises a one-line error when a setting is wrong, before anything starts.
    """
    if "purge" in roles:
        retention_days(app.config)  # a nightly job that fails every night helps nobody
        retention_days(app.config, "VOLUNTEER_RETENTION_DAYS")
    settings = SmsSettings.from_config(app.config)
    if not {"sms", "reconcile"} & set(roles):
        return settings, None
    if settings.sending_timeout_s <= float(app.config.get("SMS_HTTP_TIMEOUT_S", 15)):
        from volunteer_hub.services.messaging.settings import SmsSettingsError

        raise SmsSettingsError(
            "VH_SMS_SENDING_TIMEOUT_S must be longer than VH_SMS_HTTP_TIMEOUT_S, or a slow "
            "send could be reconciled while it is still in flight"
        )
    return settings, build_gateway(app.config)


def _interval(app: Flask, key: str, default: float) -> float:
    value = float(app.config.get(key) or default)
    return max(0.1, value)


def sms_throttle(app: Flask, settings: SmsSettings, gateway: SmsGateway) -> SenderThrottle:
    """Return the sender's rate limiter, shared by every worker through the limiter store."""
    from volunteer_hub.sms.throttle import SharedThrottle

    if settings.rate_per_s <= 0:
        return SenderThrottle(0)
    uri = str(
        app.config.get("SMS_RATE_STORAGE_URI") or app.config.get("RATELIMIT_STORAGE_URI") or ""
    ).strip()
    sender = app.config.get("TWILIO_MESSAGING_SERVICE_SID") or app.config.get("TWILIO_FROM")
    key = f"{gateway.name}:{sender or app.config.get('SMS_SENDER_NAME') or '-'}"

    def senders() -> int:
        # How many workers send now, to split the rate when the shared store is away.
        with app.app_context():
            try:
                return live_workers(db.session).get("sms", 1)
            finally:
                db.session.remove()

    return SharedThrottle(
        settings.rate_per_s, storage_uri=uri or "memory://", key=key, senders=senders
    )


def configure(scheduler: BaseScheduler, app: Flask, roles: tuple[str, ...] = ROLES) -> Worker:
    """Add the jobs of ``roles`` to ``scheduler`` (which must not be started yet)."""
    settings, gateway = check_settings(app, roles)
    stop = threading.Event()
    name = worker_name()
    first_run = datetime.now(UTC)
    common: dict[str, Any] = {
        "trigger": "interval",
        "coalesce": True,
        "max_instances": 1,
        "replace_existing": True,
        "next_run_time": first_run,
    }
    beat_s = _interval(app, "WORKER_HEARTBEAT_INTERVAL_S", 15)
    scheduler.add_job(
        jobs.heartbeat,
        id=HEARTBEAT_JOB,
        name=HEARTBEAT_JOB,
        args=(app, name, roles),
        seconds=beat_s,
        misfire_grace_time=max(1, int(beat_s)),
        **common,
    )
    if "sms" in roles:
        assert gateway is not None
        throttle = sms_throttle(app, settings, gateway)
        dispatch_s = _interval(app, "WORKER_DISPATCH_INTERVAL_S", 2)
        scheduler.add_job(
            jobs.dispatch_messages,
            id=DISPATCH_JOB,
            name=DISPATCH_JOB,
            args=(app, gateway, throttle, stop),
            seconds=dispatch_s,
            misfire_grace_time=max(1, int(dispatch_s * 5)),
            **common,
        )
    for role, job_id, func, key, default in (
        ("reconcile", RECONCILE_JOB, jobs.reconcile_messages, "WORKER_RECONCILE_INTERVAL_S", 60),
        ("reminders", REMINDERS_JOB, jobs.plan_reminders, "WORKER_REMINDERS_INTERVAL_S", 300),
        ("links", LINKS_JOB, jobs.expire_links, "WORKER_LINKS_INTERVAL_S", 3600),
        ("plans", PLANS_JOB, jobs.run_plans, "WORKER_PLANS_INTERVAL_S", 2),
        ("imports", IMPORTS_JOB, jobs.run_imports, "WORKER_IMPORTS_INTERVAL_S", 2),
        # The purge role removes what must not be kept; API keys past 24 h are that too.
        (
            "purge",
            IDEMPOTENCY_JOB,
            jobs.expire_idempotency_keys,
            "WORKER_IDEMPOTENCY_INTERVAL_S",
            3600,
        ),
        # The housekeeping role also keeps the reports' daily totals (services/results/totals).
        (
            "purge",
            TOTALS_JOB,
            jobs.update_report_totals,
            "WORKER_REPORT_TOTALS_INTERVAL_S",
            600,
        ),
    ):
        if role not in roles:
            continue
        seconds = _interval(app, key, default)
        job_args = (app, gateway) if job_id == RECONCILE_JOB else (app,)
        scheduler.add_job(
            func,
            id=job_id,
            name=job_id,
            args=job_args,
            seconds=seconds,
            misfire_grace_time=max(1, int(seconds)),
            **common,
        )
    if "purge" in roles:
        # Nightly, at a fixed local hour; a run missed while the worker was busy still happens
        # within the next hours (the purge is idempotent, so running late or twice is harmless).
        scheduler.add_job(
            jobs.purge_contacts,
            id=PURGE_JOB,
            name=PURGE_JOB,
            args=(app,),
            trigger=CronTrigger(
                hour=PURGE_HOUR, minute=PURGE_MINUTE, timezone=ZoneInfo(app.config["TIMEZONE"])
            ),
            coalesce=True,
            max_instances=1,
            replace_existing=True,
            misfire_grace_time=6 * 3600,
        )
    return Worker(scheduler=scheduler, gateway=gateway, stop=stop, roles=roles, name=name)


def _scheduler_logger() -> logging.Logger:
    log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _QuietSkips) for f in log.filters):
        log.addFilter(_QuietSkips())
    return log


def build_scheduler(
    app: Flask, *, background: bool = False, roles: tuple[str, ...] = ROLES
) -> Worker:
    """Return a configured (not started) blocking scheduler, or a background one."""
    cls = BackgroundScheduler if background else BlockingScheduler
    pool = ThreadPoolExecutor(max_workers=len(roles) + 1)
    scheduler = cls(timezone=UTC, executors={"default": pool}, logger=_scheduler_logger())
    worker = configure(scheduler, app, roles)
    worker.pool = pool
    return worker


def run(app: Flask, roles: tuple[str, ...] = ROLES) -> None:
    """Run the worker until SIGTERM or SIGINT; the batch in flight is finished first."""
    # APScheduler logs every run at INFO; the jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    worker = build_scheduler(app, roles=roles)
    logger.info(
        "worker %s started: roles %s, backend %s",
        worker.name,
        ",".join(worker.roles),
        worker.gateway.name if worker.gateway else "none",
    )

    def stop(signum: int, frame: Any) -> None:
        logger.info("signal %s: finishing the batch in flight, then stopping", signum)
        worker.stop.set()
        worker.scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.scheduler.start()
    # start() returns once shut down; wait for the jobs in flight to finish their batch.
    if worker.pool is not None:
        worker.pool.shutdown(wait=True)
    jobs.forget(app, worker.name)
    logger.info("worker stopped")


def run_once(app: Flask, roles: tuple[str, ...] = ROLES) -> dict[str, Any]:
    """Run the jobs of ``roles`` once, in order, and return what they did (for cron, tests)."""
    settings, gateway = check_settings(app, roles)
    done: dict[str, Any] = {}
    if "reconcile" in roles:
        assert gateway is not None
        done[RECONCILE_JOB] = jobs.reconcile_messages(app, gateway)
    if "plans" in roles:
        done[PLANS_JOB] = jobs.run_plans(app)
    if "imports" in roles:
        done[IMPORTS_JOB] = jobs.run_imports(app)
    if "reminders" in roles:
        done[REMINDERS_JOB] = jobs.plan_reminders(app)
    if "sms" in roles:
        assert gateway is not None
        done[DISPATCH_JOB] = jobs.dispatch_messages(
            app, gateway, sms_throttle(app, settings, gateway)
        )
    if "links" in roles:
        done[LINKS_JOB] = jobs.expire_links(app)
    if "purge" in roles:
        done[PURGE_JOB] = jobs.purge_contacts(app)
        done[IDEMPOTENCY_JOB] = jobs.expire_idempotency_keys(app)
        done[TOTALS_JOB] = jobs.update_report_totals(app)
    return done


def start_demo_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the demo's in-process scheduler (console backend); the demo calls this only."""
    worker = build_scheduler(app, background=True)
    scheduler = worker.scheduler
    # The console backend's messages should show in the demo's terminal.
    for name in ("volunteer_hub.sms", "volunteer_hub.worker"):
        log = logging.getLogger(name)
        if not log.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
    assert isinstance(scheduler, BackgroundScheduler)
    scheduler.start()
    logger.info(
        "demo scheduler started in-process (backend %s)",
        worker.gateway.name if worker.gateway else "none",
    )
    return scheduler


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m volunteer_hub.worker [--jobs ROLES]``."""
    import argparse

    from volunteer_hub import create_app

    parser = argparse.ArgumentParser(prog="python -m volunteer_hub.worker")
    parser.add_argument("--jobs", default=None, help=f"roles to run: {','.join(ROLES)}")
    args = parser.parse_args(argv)
    try:
        roles = parse_roles(args.jobs)
    except WorkerRolesError as exc:
        parser.error(str(exc))  # exits 2, as click does for the CLI
    app = create_app()
    logs.configure(app.config, "worker")
    run(app, roles)


if __name__ == "__main__":  # pragma: no cover
    main()
