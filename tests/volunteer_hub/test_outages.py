"""A helper service away is not the site away: Redis (rate limits) and the database."""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.conftest import login
from tests.volunteer_hub.test_bad_input import request_form
from volunteer_hub.extensions import db
from volunteer_hub.services.reference.accounts import create_api_token

# Port 1 on loopback: nothing listens, so a connection is refused at once (as when Redis is
# stopped); the socket timeouts bound the wait when a store hangs instead.
NO_REDIS = "redis://127.0.0.1:1/0"


@contextmanager
def database_down():  # type: ignore[no-untyped-def]
    """Every statement fails as when the server has gone away mid-request."""

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    event.listen(db.engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", refuse)


def test_signed_in_pages_answer_503_with_retry_after_when_the_database_is_away(client, world):
    login(client, world.a.coordinator.email)
    with database_down():
        for path in ("/dashboard", "/requests", "/account", "/admin/users"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == "30"
            assert "tạm thời" in response.get_data(as_text=True)  # the translated page
    assert client.get("/dashboard").status_code == 200  # and back once it returns


def test_an_import_during_an_outage_is_503_with_one_log_line_not_one_per_row(client, world, caplog):
    login(client, world.a.coordinator.email)
    header = "beneficiary_name,phone,commune_code,services,consent\n"
    rows = "".join(
        f"Người {i},090511{i:04d},{world.a.commune.code},bank_app,yes\n" for i in range(200)
    )
    with database_down(), caplog.at_level(logging.WARNING):
        response = client.post(
            "/requests/import",
            data={"file": (io.BytesIO((header + rows).encode()), "a.csv")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 2
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.app_config(
    RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=NO_REDIS, RATELIMIT_LOGIN="3 per minute"
)
def test_without_redis_limits_are_kept_in_process_and_health_says_degraded(client, world, session):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "degraded", "database": "ok", "ratelimit": "degraded"}
    for _ in range(3):
        assert login(client, world.a.coordinator.email, "wrong").status_code == 200
    assert login(client, world.a.coordinator.email, "wrong").status_code == 429  # still limited
    assert client.get("/s/AAAAAAAAAA").status_code == 404
    assert client.post("/s/AAAAAAAAAA", data={"action": "accept"}).status_code == 404
    assert client.get("/request").status_code == 200
    submitted = client.post("/request", data=request_form(world))
    assert submitted.status_code == 302 and "/request/thanks" in submitted.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200


@pytest.mark.app_config(RATELIMIT_ENABLED=True)
def test_health_says_the_rate_limits_are_ok_with_their_store(client):
    assert client.get("/healthz").get_json()["ratelimit"] == "ok"
