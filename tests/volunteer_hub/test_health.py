"""The health check reports the database's state."""

from __future__ import annotations

from volunteer_hub import create_app


def test_healthz_reports_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "ratelimit": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    # A SQLite file in a folder that does not exist cannot be opened.
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.get_json() == {"status": "error", "database": "error", "ratelimit": "ok"}


def test_healthz_is_503_when_postgresql_refuses_connections():
    app = create_app(
        {
            "TESTING": True,
            # Port 1 is closed: the connection is refused at once.
            "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/nothing",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"
