"""Alembic environment for volunteer_hub: runs inside the Flask app (Flask-Migrate)."""

from __future__ import annotations

import logging
from typing import Any

from alembic import context
from flask import current_app

from volunteer_hub.models.base import UTCDateTime

log = logging.getLogger("alembic.env")
config = context.config
migrate_ext = current_app.extensions["migrate"]
metadata = migrate_ext.db.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our UTCDateTime as the plain column type it stores, so revisions import nothing."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def skip_empty(context_: Any, revision: Any, directives: list[Any]) -> None:
    """Do not write an empty revision when autogenerate finds no change."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def run_offline() -> None:
    """Emit SQL for the configured database URL without connecting."""
    context.configure(
        url=migrate_ext.db.engine.url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on a connection of the app's engine."""
    options = dict(migrate_ext.configure_args)
    options.setdefault("process_revision_directives", skip_empty)
    options.setdefault("render_item", render_item)
    options.setdefault("compare_type", True)
    with migrate_ext.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
