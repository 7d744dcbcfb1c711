"""The ``volunteer-hub`` command: Flask's CLI for this app, plus the project's own commands."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import cli as migrate_cli
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from volunteer_hub.config import ConfigError


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


#: PostgreSQL's SQLSTATEs for a table or column the schema does not have (yet).
_UNDEFINED_TABLE_OR_COLUMN = {"42P01", "42703"}


def _is_missing_schema(exc: OperationalError | ProgrammingError) -> bool:
    """Return True when the error says a table (or column) is missing: migrations not run."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _UNDEFINED_TABLE_OR_COLUMN:  # psycopg 3
        return True
    # SQLite has no error codes for this, only its message.
    text = str(orig or exc).lower()
    return "no such table" in text or "no such column" in text


class HubGroup(FlaskGroup):
    """FlaskGroup that ends known failures with one clear line instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Every command is registered on this group, so --help never needs to build the app
        # (which would fail, with a traceback, before VH_SECRET_KEY is set).
        self._load_plugin_commands()
        return sorted(click.Group.list_commands(self, ctx))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except ArgumentError as exc:
            raise click.ClickException(
                f"the database URI is not valid ({_first_line(exc)}); "
                "check VH_SQLALCHEMY_DATABASE_URI or DATABASE_URL"
            ) from None
        except (OperationalError, ProgrammingError) as exc:
            if _is_missing_schema(exc):
                raise click.ClickException(
                    f"the database has no tables yet, or older ones ({_first_line(exc)}); "
                    "run: volunteer-hub db upgrade"
                ) from None
            if isinstance(exc, ProgrammingError):
                raise click.ClickException(
                    f"the database is not ready ({_first_line(exc)}); run: volunteer-hub db upgrade"
                ) from None
            raise click.ClickException(f"cannot use the database: {_first_line(exc)}") from None
        except ModuleNotFoundError as exc:
            raise click.ClickException(
                f"a database driver is missing ({exc.name}); use sqlite:// or postgresql://"
            ) from None
        finally:
            _close_connections(ctx)


def _close_connections(ctx: click.Context) -> None:
    """Close the command's pooled database connections (psycopg warns of any left open)."""
    from flask.cli import ScriptInfo

    info = ctx.find_object(ScriptInfo)
    app = getattr(info, "_loaded_app", None) if info is not None else None
    extension = app.extensions.get("sqlalchemy") if app is not None else None
    if extension is not None:
        with app.app_context():
            for engine in extension.engines.values():
                engine.dispose()


def _create_app() -> Flask:
    from volunteer_hub import create_app

    return create_app()


@click.group(
    cls=HubGroup,
    create_app=_create_app,
    help="volunteer_hub: plan door-to-door digital help. Flask's CLI with the project's commands.",
)
def cli() -> None:
    """Run volunteer_hub's commands."""


# --- places ----------------------------------------------------------------------------------


@click.group("places")
def places_group() -> None:
    """Provinces, communes and hamlets."""


@places_group.command("load")
@click.option("--province", "province", help="Only this province, e.g. Huế (accents optional).")
@with_appcontext
def places_load(province: str | None) -> None:
    """Load Vietnam's communes (names, official codes, coordinates) from vietnamadminunits."""
    from volunteer_hub.extensions import db
    from volunteer_hub.services.places import PlaceError, load_places

    try:
        report = load_places(db.session, province)
    except PlaceError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"{report.provinces} province(s); {report.communes_added} commune(s) added, "
        f"{report.communes_updated} updated"
    )


# --- users and tokens ------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Accounts of admins, coordinators and partner apps."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", help="Display name (defaults to the part of the email before @).")
@click.option("--role", type=click.Choice(["admin", "coordinator", "partner"]), required=True)
@click.option("--commune", "communes", multiple=True, help="Commune code; repeat for several.")
@click.option(
    "--password",
    envvar="VH_NEW_USER_PASSWORD",
    help="Password (prompted when absent; partners have none).",
)
@with_appcontext
def users_create(
    email: str, name: str | None, role: str, communes: tuple[str, ...], password: str | None
) -> None:
    """Create an account."""
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Role
    from volunteer_hub.services.accounts import AccountError, create_user

    if role != "partner" and not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            db.session,
            email=email,
            name=name or email.split("@")[0],
            role=Role(role),
            password=password,
            commune_codes=list(communes),
        )
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    scope = ", ".join(c.code for c in user.communes) or "all"
    click.echo(f"created {user.role.value} {user.email} (communes: {scope})")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts."""
    from sqlalchemy import select

    from volunteer_hub.extensions import db
    from volunteer_hub.models import User

    for user in db.session.scalars(select(User).order_by(User.email)):
        scope = ",".join(c.code for c in user.communes) or "-"
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.role.value}\t{state}\t{scope}")


@click.group("api-tokens")
def tokens_group() -> None:
    """Bearer tokens for scripts and partner apps."""


@tokens_group.command("create")
@click.option("--user", "email", required=True, help="Email of the account the token acts for.")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@with_appcontext
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Create a bearer token; it is printed once, as the last line, and stored hashed."""
    from datetime import timedelta

    from volunteer_hub.extensions import db
    from volunteer_hub.services.accounts import AccountError, create_api_token, find_user

    user = find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    try:
        issued = create_api_token(
            db.session, user, name=name, expires_in=timedelta(days=days) if days else None
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"token for {user.email} ({user.role.value}), shown once; keep it secret:", err=True)
    click.echo(issued.token)


# --- demo ------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--password", default="demo", show_default=True, help="Password of the demo accounts."
)
@click.option("--seed-only", is_flag=True, help="Load the demo data and exit.")
def demo(host: str, port: int, password: str, seed_only: bool) -> None:
    """Upgrade the database, load realistic demo data and serve the app with its worker."""
    from volunteer_hub.services.demo import run_demo

    run_demo(host=host, port=port, password=password, seed_only=seed_only, echo=click.echo)


# --- SMS, the worker and drives (docs/sms.md) ------------------------------------------------


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each job once and exit (for cron or a check).")
@with_appcontext
def worker_command(once: bool) -> None:
    """Run the worker: SMS outbox, reminders, links, reconciliation, plans, nightly purge."""
    import logging

    from flask import current_app

    from volunteer_hub import worker
    from volunteer_hub.services.messaging.settings import SmsSettingsError
    from volunteer_hub.services.privacy import RetentionError
    from volunteer_hub.sms import GatewayConfigError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if once:
            for job_id, report in worker.run_once(app).items():
                click.echo(f"{job_id}: {report}")
        else:
            worker.run(app)
    except (SmsSettingsError, GatewayConfigError, RetentionError) as exc:
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
    from volunteer_hub.services.messaging.outbox import MessagingError
    from volunteer_hub.services.notifications import broadcast

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


# --- privacy (docs/reports.md) --------------------------------------------------------------


@click.group("privacy")
def privacy_group() -> None:
    """Retention of households' personal data."""


#: At most this many purged reference codes are listed; the count is always exact.
PURGE_LISTED = 50


@privacy_group.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1, 36500),
    help="Keep contact details this many days after the last visit (default: VH_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@with_appcontext
def privacy_purge(days: int | None, dry_run: bool) -> None:
    """Remove households' contact details after the retention period; the last line is the count."""
    from flask import current_app

    from volunteer_hub.extensions import db
    from volunteer_hub.services.privacy import RetentionError, purge_contacts, retention_days

    try:
        days = days or retention_days(current_app.config)
    except RetentionError as exc:
        raise click.ClickException(str(exc)) from None
    report = purge_contacts(db.session, days=days, dry_run=dry_run, actor="cli")
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
    if not dry_run and report.requests:
        click.echo("recorded in the audit log (action: purge)")
    click.echo(str(report.requests))


COMMANDS = (
    places_group,
    users_group,
    tokens_group,
    demo,
    worker_command,
    sms_group,
    drives_group,
    privacy_group,
)

for _command in COMMANDS:
    cli.add_command(_command)
# Flask-Migrate's "db" group, listed without building the app.
cli.add_command(migrate_cli.db)


def init_app(app: Flask) -> None:
    """Make the project's commands available to ``flask --app volunteer_hub`` too."""
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the ``volunteer-hub`` console script."""
    cli.main(prog_name="volunteer-hub")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
