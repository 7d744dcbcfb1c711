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
from volunteer_hub.models import ApiToken, AuditEvent, Commune, HelpRequest, Role, User, Volunteer


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
    for command in ("db", "run", "places", "users", "api-tokens", "demo", "privacy", "worker"):
        assert command in result.output


def test_db_upgrade_then_places_users_and_tokens(cli_env):
    assert run("db", "upgrade").exit_code == 0

    loaded = run("places", "load", "--province", "Hue")
    assert loaded.exit_code == 0, loaded.output
    assert "40 commune(s) added" in loaded.output
    assert count(cli_env, Commune) == 40

    made = run(
        "users",
        "create",
        "--role",
        "coordinator",
        "--email",
        "Lan@Example.vn",
        "--commune",
        "19789",
        "--commune",
        "19777",
        "--password",
        "a-long-password",
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
        cli,
        [
            "users",
            "create",
            "--role",
            "coordinator",
            "--email",
            "x@example.vn",
            "--password",
            "a-long-password",
        ],
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


@pytest.mark.parametrize(
    "command",
    [["users", "list"], ["drives", "list"], ["sms", "status"], ["privacy", "purge", "--dry-run"]],
)
def test_commands_on_a_database_without_tables_say_to_upgrade(cli_env, command):
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the database has no tables yet")
    assert lines[0].endswith("run: volunteer-hub db upgrade")
    assert "Traceback" not in result.output


def _seed_retention_world(uri: str) -> None:
    """A household helped 60 days ago, one helped 10 days ago, one still waiting (old)."""
    from datetime import UTC, datetime, timedelta

    from tests import factories
    from volunteer_hub import create_app
    from volunteer_hub.extensions import db
    from volunteer_hub.models import RequestStatus

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    now = datetime.now(UTC)
    with app.app_context():
        commune = factories.commune(db.session)
        for reference, status, days in (
            ("OLD001", RequestStatus.DONE, 60),
            ("NEW001", RequestStatus.NOT_HOME, 10),
            ("WAIT01", RequestStatus.TRIAGED, 90),
        ):
            factories.help_request(
                db.session,
                commune,
                reference=reference,
                status=status,
                status_changed_at=now - timedelta(days=days),
            )
        db.session.commit()
        db.engine.dispose()


def phone_of(uri: str, reference: str) -> str | None:
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        value = session.scalar(select(HelpRequest.phone).where(HelpRequest.reference == reference))
    engine.dispose()
    return value


def test_privacy_purge_follows_the_retention_setting_and_prints_the_count_last(
    cli_env, monkeypatch
):
    assert run("db", "upgrade").exit_code == 0
    _seed_retention_world(cli_env)
    monkeypatch.setenv("VH_RETENTION_DAYS", "30")

    dry = run("privacy", "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.strip().splitlines()[-1] == "1"
    assert "would remove" in dry.stdout and "OLD001" in dry.stdout and "NEW001" not in dry.stdout
    assert phone_of(cli_env, "OLD001") is not None  # a dry run changes nothing
    assert count(cli_env, AuditEvent) == 0
    wider = run("privacy", "purge", "--days", "5", "--dry-run")
    assert wider.stdout.strip().splitlines()[-1] == "2"  # --days wins over the setting

    done = run("privacy", "purge")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip().splitlines()[-1] == "1"
    assert "removed the contact details of 1 request(s)" in done.stdout and "OLD001" in done.stdout
    assert phone_of(cli_env, "OLD001") is None
    assert phone_of(cli_env, "NEW001") is not None and phone_of(cli_env, "WAIT01") is not None
    assert count(cli_env, AuditEvent) == 1  # one audit event with the counts

    again = run("privacy", "purge")
    assert again.stdout.strip().splitlines()[-1] == "0"
    assert count(cli_env, AuditEvent) == 1


def test_privacy_purge_refuses_a_wrong_retention_in_one_line(cli_env, monkeypatch):
    run("db", "upgrade")
    monkeypatch.setenv("VH_RETENTION_DAYS", "soon")
    result = CliRunner().invoke(cli, ["privacy", "purge"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: VH_RETENTION_DAYS must be a whole number")
    assert "'soon'" in lines[0]
    zero = CliRunner().invoke(cli, ["privacy", "purge", "--days", "0"])
    assert zero.exit_code == 2 and "--days" in zero.output


def test_demo_seed_only_twice_duplicates_nothing(cli_env):
    first = run("demo", "--seed-only")
    assert first.exit_code == 0, first.output
    assert "admin@demo.vn" in first.output and "dieuphoi@demo.vn" in first.output
    volunteers, requests = count(cli_env, Volunteer), count(cli_env, HelpRequest)
    assert 35 <= volunteers <= 45
    assert 150 + 2 * 36 <= requests <= 150 + 2 * 36 + 40  # two past drives and follow-ups
    password = first.output.split("admin@demo.vn / ")[1].split()[0]
    assert len(password) >= 16 and password != "demo"
    second = run("demo", "--seed-only")
    assert second.exit_code == 0
    assert "added 0 volunteers, 0 requests, 0 drive(s)" in second.output
    assert password not in second.output and "unchanged" in second.output
    assert count(cli_env, Volunteer) == volunteers
    assert count(cli_env, HelpRequest) == requests


def test_demo_refuses_a_database_with_other_accounts(cli_env):
    run("db", "upgrade")
    run(
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "real@hue.gov.vn",
        "--password",
        "a long password",
    )
    refused = CliRunner().invoke(cli, ["demo", "--seed-only", "--password", "demo"])
    assert refused.exit_code == 1 and "real@hue.gov.vn" in refused.output
    assert count(cli_env, Volunteer) == 0 and count(cli_env, User) == 1


def test_the_console_script_is_installed_and_runs(cli_env):
    exe = shutil.which("volunteer-hub") or os.path.join(
        os.path.dirname(sys.executable), "volunteer-hub"
    )
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


def test_users_deactivate_activate_and_set_password(cli_env):
    run("db", "upgrade")
    made = run(
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "a@example.vn",
        "--password",
        "first password",
    )
    assert made.exit_code == 0, made.output
    run(
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "b@example.vn",
        "--password",
        "first password",
    )

    off = run("users", "deactivate", "A@example.vn")
    assert off.exit_code == 0 and "a@example.vn deactivated" in off.output
    assert "inactive" in run("users", "list").output.splitlines()[0]
    assert "already" in run("users", "deactivate", "a@example.vn").output
    on = run("users", "activate", "a@example.vn")
    assert on.exit_code == 0 and "a@example.vn active" in on.output

    changed = run("users", "set-password", "a@example.vn", "--password", "second password")
    assert changed.exit_code == 0, changed.output
    short = CliRunner().invoke(
        cli, ["users", "set-password", "a@example.vn", "--password", "short"]
    )
    assert short.exit_code == 1 and "10" in short.output
    unknown = CliRunner().invoke(cli, ["users", "deactivate", "nobody@example.vn"])
    assert unknown.exit_code == 1 and "nobody@example.vn" in unknown.output

    engine = create_engine(cli_env.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        from volunteer_hub.services.reference.accounts import authenticate

        assert authenticate(session, "a@example.vn", "second password") is not None
        logged = list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "user")))
    engine.dispose()
    assert {"deactivate", "activate", "password_change"} <= set(logged)


def test_api_tokens_list_and_revoke(cli_env):
    run("db", "upgrade")
    run(
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "a@example.vn",
        "--password",
        "first password",
    )
    run("users", "create", "--role", "partner", "--email", "app@partner.vn")
    run("api-tokens", "create", "--user", "a@example.vn", "--name", "script")
    run("api-tokens", "create", "--user", "app@partner.vn", "--name", "hue-s", "--days", "30")

    lines = run("api-tokens", "list").output.strip().splitlines()
    assert len(lines) == 2
    first = lines[0].split("\t")
    assert first[0].isdigit() and first[1:3] == ["script", "a@example.vn"]
    assert first[4] == "-" and first[5] == "-"  # never used, never expires
    second = lines[1].split("\t")
    assert second[1:3] == ["hue-s", "app@partner.vn"] and second[5] != "-"
    only = run("api-tokens", "list", "--user", "app@partner.vn").output.strip().splitlines()
    assert len(only) == 1 and only[0].startswith(second[0] + "\t")

    revoked = run("api-tokens", "revoke", first[0])
    assert revoked.exit_code == 0 and f"token {first[0]} revoked" in revoked.output
    assert "revoked" in run("api-tokens", "list").output.strip().splitlines()[0]
    missing = CliRunner().invoke(cli, ["api-tokens", "revoke", "999"])
    assert missing.exit_code == 1 and "999" in missing.output
