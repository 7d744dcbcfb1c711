"""Scheduled jobs: each pushes an app context, calls one service and commits.

The worker (:mod:`volunteer_hub.worker`) runs them; a failing run is logged and rolled back,
and the next run starts afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

from volunteer_hub.extensions import db
from volunteer_hub.logs import REQUEST_ID, job_run_id
from volunteer_hub.services import idempotency, privacy, workers
from volunteer_hub.services.intake import import_jobs
from volunteer_hub.services.messaging import dispatch, links, reconcile, reminders
from volunteer_hub.sms import SenderThrottle, SmsGateway

logger = logging.getLogger("volunteer_hub.worker")

T = TypeVar("T")

#: A dispatch run stops claiming after this long so the other jobs get their turn.
DISPATCH_BUDGET_S = 30.0


def _in_context(app: Flask, name: str, work: Callable[[], T]) -> T | None:
    token = REQUEST_ID.set(job_run_id(name))  # every line of this run carries one id
    with app.app_context():
        try:
            result = work()
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            logger.exception("job %s failed; it runs again at its next time", name)
            return None
        finally:
            db.session.remove()
            REQUEST_ID.reset(token)


def dispatch_messages(
    app: Flask,
    gateway: SmsGateway,
    throttle: SenderThrottle,
    stop: threading.Event | None = None,
) -> dispatch.DispatchReport | None:
    """Send what is due in the outbox."""

    def work() -> dispatch.DispatchReport:
        report = dispatch.send_due_messages(
            db.session, gateway, throttle=throttle, time_budget_s=DISPATCH_BUDGET_S, stop=stop
        )
        if report.claimed:
            logger.info(
                "dispatched %d: %d sent, %d retrying, %d failed, %d uncertain, %d cancelled "
                "(%.0f/s)",
                report.claimed,
                report.sent,
                report.retrying,
                report.failed,
                report.uncertain,
                report.cancelled,
                report.messages_per_s,
            )
        return report

    return _in_context(app, "sms-dispatch", work)


def reconcile_messages(app: Flask, gateway: SmsGateway) -> reconcile.ReconcileReport | None:
    """Settle messages left ``sending`` by a crash."""

    def work() -> reconcile.ReconcileReport:
        report = reconcile.reconcile_stale_messages(db.session, gateway)
        if report.checked:
            logger.warning(
                "reconciled %d stale message(s): %d found sent, %d queued again, %d held, "
                "%d to retry",
                report.checked,
                report.found_sent,
                report.requeued,
                report.held,
                report.deferred,
            )
        return report

    return _in_context(app, "sms-reconcile", work)


def plan_reminders(app: Flask) -> reminders.ReminderReport | None:
    """Queue the reminders now due."""

    def work() -> reminders.ReminderReport:
        report = reminders.plan_reminders(db.session)
        if report.volunteers or report.households:
            logger.info(
                "queued reminders: %d to volunteers, %d to households",
                report.volunteers,
                report.households,
            )
        return report

    return _in_context(app, "sms-reminders", work)


#: Plans solved per run at most, so a long queue never keeps one run going for hours.
PLANS_PER_RUN = 10


def run_plans(app: Flask) -> list[int] | None:
    """Solve queued drive plans, oldest first (the planner writes its own progress)."""
    from sqlalchemy.orm import Session

    from volunteer_hub.services.drives import planning

    def work() -> list[int]:
        workers = int(app.config.get("PLAN_WORKERS") or 2)
        done: list[int] = []
        for _ in range(PLANS_PER_RUN):
            plan_id = planning.run_next_plan(lambda: Session(db.engine), workers=workers)
            if plan_id is None:
                break
            logger.info("plan %s solved", plan_id)
            done.append(plan_id)
        return done

    return _in_context(app, "plans-run", work)


#: Import jobs run per worker run at most, so the heartbeat and other jobs get their turn.
IMPORTS_PER_RUN = 5


def run_imports(app: Flask) -> list[int] | None:
    """Run queued import jobs, oldest first, each from its checkpoint (the job writes progress)."""
    from sqlalchemy.orm import Session

    def work() -> list[int]:
        done: list[int] = []
        for _ in range(IMPORTS_PER_RUN):
            job_id = import_jobs.run_next_job(lambda: Session(db.engine))
            if job_id is None:
                break
            done.append(job_id)
        return done

    return _in_context(app, "imports-run", work)


def expire_links(app: Flask) -> Any:
    """Revoke links of cancelled visits and delete long-expired ones."""

    def work() -> links.LinkSweep:
        sweep = links.expire_links(db.session)
        if sweep.revoked or sweep.deleted:
            logger.info("links: %d revoked, %d deleted", sweep.revoked, sweep.deleted)
        return sweep

    return _in_context(app, "links-expire", work)


def purge_contacts(app: Flask) -> privacy.PurgeReport | None:
    """Remove households' and volunteers' details past their retention (the service logs it)."""

    def work() -> privacy.PurgeReport:
        days = privacy.retention_days(app.config)
        volunteer_days = privacy.retention_days(app.config, "VOLUNTEER_RETENTION_DAYS")
        report = privacy.purge_contacts(db.session, days=days, actor="worker")
        privacy.purge_volunteers(db.session, days=volunteer_days, actor="worker")
        # Finished import jobs keep row errors (which may quote a row) only for a week.
        import_jobs.expire_jobs(db.session)
        return report

    return _in_context(app, "privacy-purge", work)


def expire_idempotency_keys(app: Flask) -> int | None:
    """Delete the API's Idempotency-Keys older than 24 hours (a retry after that runs again)."""

    def work() -> int:
        deleted = idempotency.expire_keys(db.session)
        if deleted:
            logger.info("idempotency keys: %d expired", deleted)
        return deleted

    return _in_context(app, "idempotency-expire", work)


def update_report_totals(app: Flask) -> Any:
    """Compute the report totals of the closed days that lack them or changed since."""
    from zoneinfo import ZoneInfo

    from volunteer_hub.services.results import totals

    def work() -> totals.TotalsRun:
        run = totals.refresh(
            db.session,
            ZoneInfo(app.config["TIMEZONE"]),
            keep_days=int(app.config.get("REPORT_TOTALS_DAYS") or 400),
        )
        if run.days:
            logger.info(
                "report totals: %d day(s) computed (%s to %s), %d rows, %.1f s",
                len(run.days),
                min(run.days).isoformat(),
                max(run.days).isoformat(),
                run.rows,
                run.seconds,
            )
        return run

    return _in_context(app, "report-totals", work)


def heartbeat(app: Flask, name: str, roles: tuple[str, ...]) -> bool | None:
    """Write this worker's heartbeat (its name and roles) for /readyz and /metrics."""

    def work() -> bool:
        workers.beat(db.session, name, roles)
        return True

    return _in_context(app, "worker-heartbeat", work)


def forget(app: Flask, name: str) -> bool | None:
    """Remove this worker's heartbeat: it is stopping cleanly."""

    def work() -> bool:
        workers.forget(db.session, name)
        return True

    return _in_context(app, "worker-heartbeat", work)
