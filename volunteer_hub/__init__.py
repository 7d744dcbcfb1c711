"""volunteer_hub: coordinate door-to-door digital help by student volunteers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from volunteer_hub.clean_request import CleanRequest
from volunteer_hub.config import load_config
from volunteer_hub.services.validation import MAX_ID


def numbers_up_to(limit: int) -> str:
    """Return a regular expression for the whole numbers 1 to ``limit``, without leading zeros."""
    text = str(limit)
    choices = [f"[1-9][0-9]{{0,{len(text) - 2}}}"] if len(text) > 1 else []  # fewer digits
    for index, digit in enumerate(text):  # as many digits: equal up to ``index``, then lower
        lowest = 1 if index == 0 else 0
        if int(digit) > lowest:
            rest = len(text) - index - 1
            choices.append(f"{text[:index]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(text)
    return "(?:" + "|".join(choices) + ")"


class RecordIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a record id of ASCII digits, 1 to ``MAX_ID``; else 404.

    Werkzeug's ``int`` takes any number of digits, and other scripts' digits too ("١٢"); a
    number beyond the database's INTEGER would fail in the query instead of finding nothing.
    The bound is in the pattern itself: a converter that refuses a value after matching makes
    Werkzeug answer 405 for a POST whose path also has a GET route, instead of 404.
    """

    regex = numbers_up_to(MAX_ID)

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def migrations_directory() -> str:
    """Return the Alembic folder: the checkout's migrations/, or the copy in the wheel."""
    checkout = Path(__file__).resolve().parent.parent / "migrations"
    if (checkout / "env.py").exists():
        return str(checkout)
    return str(Path(__file__).resolve().parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the volunteer_hub Flask application."""
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = CleanRequest
    load_config(app, test_config)
    app.url_map.converters["id"] = RecordIdConverter

    if app.config["PROXY_FIX"]:
        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    from volunteer_hub import cli, i18n, labels, logs, security
    from volunteer_hub.extensions import csrf, db, limiter, migrate
    from volunteer_hub.redaction import install_log_redaction
    from volunteer_hub.web import register_blueprints

    install_log_redaction()
    db.init_app(app)
    from volunteer_hub.services.results import totals

    totals.install()  # report totals: mark the days a change touches (services/results)
    migrate.init_app(app, db, directory=migrations_directory(), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    security.init_app(app)
    logs.init_app(app)
    register_blueprints(app)
    cli.init_app(app)
    return app
