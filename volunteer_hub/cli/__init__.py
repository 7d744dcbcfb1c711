"""The ``volunteer-hub`` command: Flask's CLI for this app, plus the project's own commands."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from flask_migrate import cli as migrate_cli
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from volunteer_hub.cli.accounts import tokens_group, users_group
from volunteer_hub.cli.demo import demo
from volunteer_hub.cli.operations import (
    drives_group,
    places_group,
    privacy_group,
    sms_group,
    worker_command,
)
from volunteer_hub.cli.reports import reports_group
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


COMMANDS = (
    places_group,
    users_group,
    tokens_group,
    demo,
    worker_command,
    sms_group,
    drives_group,
    privacy_group,
    reports_group,
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
