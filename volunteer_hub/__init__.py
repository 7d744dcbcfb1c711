"""volunteer_hub: coordinate door-to-door digital help by student volunteers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from volunteer_hub.config import load_config


def migrations_directory() -> str:
    """Return the Alembic folder: the checkout's migrations/, or the copy in the wheel."""
    checkout = Path(__file__).resolve().parent.parent / "migrations"
    if (checkout / "env.py").exists():
        return str(checkout)
    return str(Path(__file__).resolve().parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the volunteer_hub Flask application."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)

    if app.config["PROXY_FIX"]:
        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    from volunteer_hub import cli, i18n, labels, security
    from volunteer_hub.extensions import csrf, db, limiter, migrate
    from volunteer_hub.web import register_blueprints

    db.init_app(app)
    migrate.init_app(app, db, directory=migrations_directory(), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    security.init_app(app)
    register_blueprints(app)
    cli.init_app(app)
    return app
