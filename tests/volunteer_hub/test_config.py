"""Configuration: defaults, VH_* overrides, DATABASE_URL, and the secret-key guard."""

from __future__ import annotations

import pytest

from volunteer_hub import create_app
from volunteer_hub.config import ConfigError


def test_any_setting_can_be_overridden_with_a_vh_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("VH_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("VH_PUBLIC_BASE_URL", "https://hotro.example.vn")
    monkeypatch.setenv("VH_MAX_CONTENT_LENGTH", "1234")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/x.sqlite3")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["PUBLIC_BASE_URL"] == "https://hotro.example.vn"
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.sqlite3"


def test_database_url_is_accepted_and_given_the_psycopg_driver(monkeypatch):
    monkeypatch.delenv("VH_SQLALCHEMY_DATABASE_URI", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db.internal:5432/hub")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db.internal:5432/hub"


def test_vh_database_uri_wins_over_database_url(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://ignored/db")
    monkeypatch.setenv("VH_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/wins.sqlite3")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("wins.sqlite3")


def test_default_database_is_a_sqlite_file_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("VH_SQLALCHEMY_DATABASE_URI", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///")
    assert uri.endswith("volunteer_hub.sqlite3")
    assert app.instance_path in uri


def test_production_refuses_the_default_secret_key_with_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("VH_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError) as caught:
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.sqlite3"})
    message = str(caught.value)
    assert "VH_SECRET_KEY" in message
    assert "\n" not in message


def test_debug_and_testing_may_use_the_default_secret_key(tmp_path):
    uri = f"sqlite:///{tmp_path}/d.sqlite3"
    assert create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri}).testing
    assert create_app({"DEBUG": True, "SQLALCHEMY_DATABASE_URI": uri}).debug


def test_session_cookies_are_secure_httponly_and_samesite_in_production(tmp_path):
    app = create_app(
        {"SECRET_KEY": "s" * 32, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/s.sqlite3"}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_demo_mode_keeps_a_random_secret_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("VH_SECRET_KEY", raising=False)
    uri = f"sqlite:///{tmp_path}/demo.sqlite3"
    first = create_app({"DEMO": True, "SQLALCHEMY_DATABASE_URI": uri})
    second = create_app({"DEMO": True, "SQLALCHEMY_DATABASE_URI": uri})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VH_MAX_CONTENT_LENGTH", "abc"),
        ("VH_MAX_CONTENT_LENGTH", "-1"),
        ("VH_MAX_CONTENT_LENGTH", "1.5"),
        ("VH_PUBLIC_FORM_MAX_BYTES", "true"),
        ("VH_PUBLIC_FORM_MAX_BYTES", '"64000"'),
        ("VH_PROXY_FIX", "[1]"),
        ("VH_PLAN_TIME_LIMIT_S", "soon"),
        ("VH_SMS_RATE_PER_S", "-2"),
        ("VH_SMS_BATCH_SIZE", "0"),
        ("VH_WTF_CSRF_TIME_LIMIT", "x" * 500),
        ("VH_SMS_BATCH_SIZE", "9" * 400),  # math.isfinite() of this int raised OverflowError
        ("VH_SMS_HTTP_TIMEOUT_S", "1e300"),
    ],
)
def test_a_numeric_setting_of_the_wrong_type_stops_the_start_with_one_line(
    monkeypatch, tmp_path, name, value
):
    # Without the check the app starts, then every request that reads the setting fails (500).
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/n.sqlite3"})
    message = str(caught.value)
    assert message.startswith(f"{name} must be")
    assert "\n" not in message and len(message) < 160


def test_numeric_settings_accept_numbers_and_no_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("VH_MAX_CONTENT_LENGTH", "null")  # Flask's "no limit"
    monkeypatch.setenv("VH_SMS_RATE_PER_S", "0.5")
    monkeypatch.setenv("VH_PUBLIC_FORM_MAX_BYTES", "3e4")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/ok.sqlite3"}
    )
    assert app.config["MAX_CONTENT_LENGTH"] is None
    assert app.config["SMS_RATE_PER_S"] == 0.5
    assert app.config["PUBLIC_FORM_MAX_BYTES"] == 30000 and isinstance(
        app.config["PUBLIC_FORM_MAX_BYTES"], int
    )


def test_a_wrong_numeric_override_is_refused_too(tmp_path):
    with pytest.raises(ConfigError, match="VH_PLAN_WORKERS"):
        create_app(
            {
                "TESTING": True,
                "PLAN_WORKERS": "2",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/o.sqlite3",
            }
        )
