"""The volunteer-hub command: Flask's CLI plus the project's commands, with clear errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from volunteer_hub.cli import cli
from volunteer_hub.models import ApiToken, Commune, HelpRequest, Role, User, Volunteer


@pytest.fixture
def cli_env(databases, monkeypatch):
    """Environment of a CLI run against a new empty database; returns its URI."""
    uri = databases.new("cli")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", uri)
    monkeypatch.setenv("VH_SECRET_KEY", "cli-test-secret")
    return uri


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def count(uri: str, model) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        value = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return value or 0


def test_help_lists_the_project_commands_without_any_configuration(monkeypatch):
    monkeypatch.delenv("VH_SECRET_KEY", raising=False)
    result = run("--help")
    assert result.exit_code == 0
    for command in ("db", "run", "places", "users", "api-tokens", "demo"):
        assert command in result.output


def test_db_upgrade_then_places_users_and_tokens(cli_env):
    assert run("db", "upgrade").exit_code == 0

    loaded = run("places", "load", "--province", "Hue")
    assert loaded.exit_code == 0, loaded.output
    assert "40 commune(s) added" in loaded.output
    assert count(cli_env, Commune) == 40

    made = run(
        "users", "create", "--role", "coordinator", "--email", "Lan@Example.vn",
        "--commune", "19789", "--commune", "19777", "--password", "a-long-password",
    )
    assert made.exit_code == 0, made.output
    assert "lan@example.vn" in made.output

    token = run("api-tokens", "create", "--user", "lan@example.vn")
    assert token.exit_code == 0, token.output
    last_line = token.stdout.strip().splitlines()[-1]
    assert last_line.startswith("vh_") and len(last_line) > 40
    assert count(cli_env, ApiToken) == 1
    assert count(cli_env, User) == 1


def test_a_coordinator_without_a_commune_is_refused(cli_env):
    run("db", "upgrade")
    result = CliRunner().invoke(
        cli, ["users", "create", "--role", "coordinator", "--email", "x@example.vn",
              "--password", "a-long-password"],
    )
    assert result.exit_code != 0
    assert "commune" in result.output


def test_unknown_province_is_one_clear_line(cli_env):
    run("db", "upgrade")
    result = CliRunner().invoke(cli, ["places", "load", "--province", "Atlantis"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: no province matches 'Atlantis'")
    assert "Traceback" not in result.output


def test_a_wrong_database_uri_ends_with_one_line_and_non_zero(monkeypatch):
    monkeypatch.setenv("VH_SECRET_KEY", "x")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", "not a uri at all")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "database URI is not valid" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_an_unreachable_database_ends_with_one_line_and_non_zero(monkeypatch):
    monkeypatch.setenv("VH_SECRET_KEY", "x")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", "postgresql://postgres@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot use the database")
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_secret_key_ends_with_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("VH_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/x.sqlite3")
    result = CliRunner().invoke(cli, ["users", "list"])
    assert result.exit_code == 1
    assert "VH_SECRET_KEY is not set" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_commands_on_a_database_without_tables_say_to_upgrade(cli_env):
    result = CliRunner().invoke(cli, ["users", "list"])
    assert result.exit_code == 1
    assert "volunteer-hub db upgrade" in result.output or "cannot use the database" in result.output


def test_demo_seed_only_twice_duplicates_nothing(cli_env):
    first = run("demo", "--seed-only")
    assert first.exit_code == 0, first.output
    assert "admin@demo.vn" in first.output and "dieuphoi@demo.vn" in first.output
    volunteers, requests = count(cli_env, Volunteer), count(cli_env, HelpRequest)
    assert 35 <= volunteers <= 45
    assert 150 + 2 * 36 <= requests <= 150 + 2 * 36 + 40  # two past drives and follow-ups
    second = run("demo", "--seed-only")
    assert second.exit_code == 0
    assert "added 0 volunteers, 0 requests, 0 drive(s)" in second.output
    assert count(cli_env, Volunteer) == volunteers
    assert count(cli_env, HelpRequest) == requests


def test_the_console_script_is_installed_and_runs(cli_env):
    exe = shutil.which("volunteer-hub") or os.path.join(os.path.dirname(sys.executable), "volunteer-hub")
    result = subprocess.run(
        [exe, "db", "upgrade"], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
    listed = subprocess.run(
        [exe, "users", "list"], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )
    assert listed.returncode == 0, listed.stderr


def test_roles_are_the_three_documented_ones():
    assert {r.value for r in Role} == {"admin", "coordinator", "partner"}
