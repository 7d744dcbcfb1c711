"""The migrations build the schema the models describe, and run down and up again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.conftest import base_config
from volunteer_hub import create_app, migrations_directory
from volunteer_hub.extensions import db

VERSIONS = Path(migrations_directory()) / "versions"


@pytest.fixture
def fresh_app(databases):  # type: ignore[no-untyped-def]
    app = create_app(base_config(databases.new("migrations")))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def schema_differences(app) -> list:  # type: ignore[no-untyped-def]
    """What `flask db check` checks: autogenerate's diff between models and the database."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_builds_exactly_the_schema_of_the_models(fresh_app):
    upgrade(directory=migrations_directory())
    assert schema_differences(fresh_app) == []


def test_upgrade_downgrade_upgrade_round_trip(fresh_app):
    directory = migrations_directory()
    upgrade(directory=directory)
    tables = set(inspect(db.engine).get_table_names())
    assert {"help_request", "volunteer", "drive", "plan", "visit", "message"} <= tables
    downgrade(directory=directory, revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(directory=directory)
    assert schema_differences(fresh_app) == []


def _upgrade_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            return [
                f"{call.func.attr}"
                for call in ast.walk(node)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            ]
    return []


def test_no_upgrade_drops_a_table_or_column_without_saying_so():
    # A revision that drops data must say so in its docstring ("drops data: ...") so a
    # reviewer signs it off; nothing may drop data silently.
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name == "__init__.py":
            continue
        drops = {"drop_table", "drop_column"} & set(_upgrade_calls(path))
        if drops:
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "drops data:" in docstring, f"{path.name} drops {drops} silently"


def test_every_revision_has_a_downgrade():
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name == "__init__.py":
            continue
        names = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert {"upgrade", "downgrade"} <= names, path.name
