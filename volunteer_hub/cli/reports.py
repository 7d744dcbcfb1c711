"""``volunteer-hub reports``: the reports' per-commune daily totals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask.cli import with_appcontext


@click.group("reports")
def reports_group() -> None:
    """The reports' daily totals (kept by the worker's purge role)."""


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@reports_group.command("rebuild-totals")
@click.option(
    "--from",
    "first",
    callback=_day,
    help="First day (YYYY-MM-DD; default: VH_REPORT_TOTALS_DAYS ago).",
)
@click.option("--to", "last", callback=_day, help="Last day (default: the day before yesterday).")
@with_appcontext
def rebuild_totals(first: date | None, last: date | None) -> None:
    """Count the days from --from to --to again from the raw rows and store their totals.

    Today and yesterday are never totalled (the reports count them live); each day is its own
    transaction, so an interrupted rebuild keeps the days it finished.
    """
    from zoneinfo import ZoneInfo

    from flask import current_app

    from volunteer_hub.extensions import db
    from volunteer_hub.services.results import totals

    tz = ZoneInfo(current_app.config["TIMEZONE"])
    newest = totals.last_closed_day(tz)
    last = min(last or newest, newest)
    keep = int(current_app.config.get("REPORT_TOTALS_DAYS") or 400)
    first = first or newest - timedelta(days=keep - 1)
    if first > last:
        raise click.BadParameter(
            f"nothing to rebuild: --from {first.isoformat()} is after {last.isoformat()} "
            "(today and yesterday are always counted live)",
            param_hint="--from",
        )
    if (last - first).days > 3660:
        raise click.BadParameter("at most ten years at once", param_hint="--from")
    started = datetime.now()
    try:
        days = totals.rebuild(db.session, first, last, tz)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    seconds = (datetime.now() - started).total_seconds()
    click.echo(
        f"{days} day(s) totalled, {first.isoformat()} to {last.isoformat()}, {seconds:.1f} s"
    )
