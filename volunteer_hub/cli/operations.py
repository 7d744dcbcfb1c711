"""Running the service: places, the worker, SMS, drives and the privacy purge."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("places")
def places_group() -> None:
    """Provinces, communes and hamlets."""


@places_group.command("load")
@click.option("--province", "province", help="Only this province, e.g. Huế (accents optional).")
@with_appcontext
def places_load(province: str | None) -> None:
    """Load Vietnam's communes (names, official codes, coordinates) from vietnamadminunits."""
    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.places import PlaceError, load_places

    try:
        report = load_places(db.session, province)
    except PlaceError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"{report.provinces} province(s); {report.communes_added} commune(s) added, "
        f"{report.communes_updated} updated"
    )


def _roles(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    from volunteer_hub.worker import WorkerRolesError, parse_roles

    try:
        return parse_roles(value)
    except WorkerRolesError as exc:
        raise click.BadParameter(str(exc)) from None  # usage error: exit status 2


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each job once and exit (for cron or a check).")
@click.option(
    "--jobs",
    "roles",
    default=None,
    callback=_roles,
    metavar="ROLES",
    help="Comma-separated roles to run: sms, plans, reminders, links, reconcile, purge "
    "(default: all).",
)
@with_appcontext
def worker_command(once: bool, roles: tuple[str, ...]) -> None:
    """Run the worker: SMS outbox, reminders, links, reconciliation, plans, nightly purge."""
    from flask import current_app

    from volunteer_hub import logs, worker
    from volunteer_hub.services.messaging.settings import SmsSettingsError
    from volunteer_hub.services.privacy import RetentionError
    from volunteer_hub.sms import GatewayConfigError

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        logs.configure(app.config, "worker")
        if once:
            for job_id, report in worker.run_once(app, roles).items():
                click.echo(f"{job_id}: {report}")
        else:
            worker.run(app, roles)
    except (SmsSettingsError, GatewayConfigError, RetentionError, logs.LogSettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("sms")
def sms_group() -> None:
    """The SMS outbox."""


@sms_group.command("broadcast")
@click.option("--drive", "drive_id", type=int, required=True, help="Id of the drive.")
@click.option("--text", required=True, help="What to tell everyone (the sender's name is added).")
@click.option("--urgent", is_flag=True, help="Send even in quiet hours.")
@with_appcontext
def sms_broadcast(drive_id: int, text: str, urgent: bool) -> None:
    """Queue TEXT to every volunteer and household of a drive; the last line is the count."""
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Drive
    from volunteer_hub.services.messaging.notifications import broadcast
    from volunteer_hub.services.messaging.outbox import MessagingError

    drive = db.session.get(Drive, drive_id)
    if drive is None:
        raise click.ClickException(f"no drive with id {drive_id} (see: volunteer-hub drives list)")
    try:
        queued = broadcast(db.session, drive, text, urgent=urgent)
    except MessagingError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"drive {drive.id} ({drive.name}): messages queued", err=True)
    click.echo(str(queued))


@sms_group.command("status")
@click.option("--json", "as_json", is_flag=True, help='Print {"queued": n, "sending": n, ...}.')
@with_appcontext
def sms_status(as_json: bool) -> None:
    """Count the outbox's messages by status."""
    import json

    from volunteer_hub.extensions import db
    from volunteer_hub.services.messaging.outbox import outbox_counts

    counts = outbox_counts(db.session)
    if as_json:
        click.echo(json.dumps(counts))
        return
    for status, count in counts.items():
        click.echo(f"{status}\t{count}")


@click.group("drives")
def drives_group() -> None:
    """Weekend drives."""


@drives_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@with_appcontext
def drives_list(as_json: bool) -> None:
    """List drives: id, name, status and first day (local date)."""
    import json
    from zoneinfo import ZoneInfo

    from flask import current_app
    from sqlalchemy import select

    from volunteer_hub.extensions import db
    from volunteer_hub.models import Drive

    zone = ZoneInfo(current_app.config["TIMEZONE"])
    rows = []
    for drive in db.session.scalars(select(Drive).order_by(Drive.id)):
        first = drive.first_day
        rows.append(
            {
                "id": drive.id,
                "name": drive.name,
                "status": drive.status.value,
                "first_day": first.astimezone(zone).date().isoformat() if first else None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']}\t{row['name']}\t{row['status']}\t{row['first_day'] or '-'}")


@click.group("privacy")
def privacy_group() -> None:
    """Retention of households' and volunteers' personal data."""


#: At most this many purged reference codes are listed; the count is always exact.
PURGE_LISTED = 50


@privacy_group.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1, 36500),
    help="Keep contact details this many days after the last visit (default: VH_RETENTION_DAYS).",
)
@click.option(
    "--volunteer-days",
    type=click.IntRange(1, 36500),
    help="Keep volunteers' and guardians' details this many days after their last drive or "
    "sign-up (default: VH_VOLUNTEER_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@with_appcontext
def privacy_purge(days: int | None, volunteer_days: int | None, dry_run: bool) -> None:
    """Remove personal details after the retention periods; the last line is the request count.

    Households' contact details go VH_RETENTION_DAYS after their last visit, volunteers' (and
    a minor's guardian's) VH_VOLUNTEER_RETENTION_DAYS after their last drive or sign-up, from
    every copy: records, SMS, visit notes, plan problem and result JSON, audit details.
    """
    from flask import current_app

    from volunteer_hub.extensions import db
    from volunteer_hub.services.privacy import (
        RetentionError,
        purge_contacts,
        purge_volunteers,
        retention_days,
    )

    try:
        days = days or retention_days(current_app.config)
        volunteer_days = volunteer_days or retention_days(
            current_app.config, "VOLUNTEER_RETENTION_DAYS"
        )
    except RetentionError as exc:
        raise click.ClickException(str(exc)) from None
    report = purge_contacts(db.session, days=days, dry_run=dry_run, actor="cli")
    people = purge_volunteers(db.session, days=volunteer_days, dry_run=dry_run, actor="cli")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"retention {days} days: households last visited before "
        f"{report.cutoff.isoformat(timespec='minutes')}"
    )
    click.echo(f"{verb} the contact details of {report.requests} request(s)")
    if report.references:
        listed = ", ".join(report.references[:PURGE_LISTED])
        more = len(report.references) - PURGE_LISTED
        click.echo(f"requests: {listed}" + (f" and {more} more" if more > 0 else ""))
    click.echo(f"{verb} the texts and numbers of {report.messages} SMS")
    click.echo(f"{verb} the texts and numbers of {report.inbound} inbound SMS")
    click.echo(
        f"volunteer retention {volunteer_days} days: volunteers whose last drive or sign-up "
        f"was before {people.cutoff.isoformat(timespec='minutes')}"
    )
    click.echo(
        f"{verb} the personal details of {people.volunteers} volunteer(s) "
        f"({people.guardians} with a guardian) and {people.messages} SMS to them"
    )
    if people.ids:
        listed = ", ".join(str(i) for i in people.ids[:PURGE_LISTED])
        more = len(people.ids) - PURGE_LISTED
        click.echo(f"volunteers: {listed}" + (f" and {more} more" if more > 0 else ""))
    if not dry_run and (report.requests or people.volunteers):
        click.echo("recorded in the audit log (action: purge)")
    click.echo(str(report.requests))
