"""``volunteer-hub demo``: seed the demo data, then serve the app with its in-process worker."""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from volunteer_hub import create_app
from volunteer_hub.demo.hue import (
    ADMIN_EMAIL,
    COORDINATOR_EMAIL,
    DemoError,
    province_coordinator_email,
    seed_demo,
)
from volunteer_hub.demo.national import SCALES, seed_national
from volunteer_hub.extensions import db
from volunteer_hub.worker import start_demo_scheduler


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--password",
    help="Password of the demo accounts (default: a random one, printed once).",
)
@click.option("--seed-only", is_flag=True, help="Load the demo data and exit.")
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="city",
    show_default=True,
    help="city: Huế's demo. national: all 3,321 communes, 10,000 volunteers, 100,000 open "
    "requests and a year of drives (1,000,000 visits, 2,000,000 SMS), in bulk.",
)
@click.option(
    "--scale-factor",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    hidden=True,
    help="Shrink the national counts (for tests and quick tries).",
)
def demo(
    host: str,
    port: int,
    password: str | None,
    seed_only: bool,
    scale: str,
    scale_factor: float,
) -> None:
    """Upgrade the database, load realistic demo data and serve the app with its worker."""
    run_demo(
        host=host,
        port=port,
        password=password,
        seed_only=seed_only,
        echo=click.echo,
        scale=scale,
        scale_factor=scale_factor,
    )


def run_demo(
    *,
    host: str,
    port: int,
    password: str | None,
    seed_only: bool,
    echo: Callable[[str], None],
    scale: str = "city",
    scale_factor: float = 1.0,
) -> None:
    """Upgrade the database, seed the demo, print the accounts and serve the app."""
    # The demo never talks to a real SMS provider: its people and phone numbers are invented.
    app = create_app(
        {"DEMO": True, "SMS_BACKEND": "console", "PUBLIC_BASE_URL": f"http://{host}:{port}"}
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        try:
            if scale == "national":
                started = time.monotonic()
                report = seed_national(
                    db.session, password=password, factor=scale_factor, echo=echo
                )
                db.session.commit()
                echo(f"  national data seeded in {time.monotonic() - started:.0f} s")
            else:
                report = seed_demo(db.session, password=password)
        except DemoError as exc:
            db.session.rollback()
            db.engine.dispose()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        database = db.engine.url.render_as_string(hide_password=True)
        # Return the seeding connections: psycopg warns about connections left to the collector.
        db.engine.dispose()
    echo(
        f"demo data in {database}: added {report.volunteers} volunteers, "
        f"{report.requests} requests, {report.drives} drive(s)"
    )
    if report.password:
        # Printed this once and stored only hashed: note it down.
        echo(f"  admin:        {ADMIN_EMAIL} / {report.password}")
        echo(f"  coordinator:  {COORDINATOR_EMAIL} / {report.password}")
        if scale == "national":
            echo(f"  provinces:    {province_coordinator_email('<code>')} / {report.password}")
    else:
        echo(f"  admin:        {ADMIN_EMAIL}")
        echo(f"  coordinator:  {COORDINATOR_EMAIL}")
        if scale == "national":
            echo(f"  provinces:    {province_coordinator_email('<code>')}")
        echo(
            "  (their password is unchanged: give one with --password, or "
            "volunteer-hub users set-password EMAIL)"
        )
    if seed_only:
        return
    echo(f"serving on http://{host}:{port}  (Ctrl+C to stop)")
    # The one in-process scheduler the web app ever runs: the demo's SMS worker (console).
    scheduler = start_demo_scheduler(app)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        scheduler.shutdown(wait=False)
