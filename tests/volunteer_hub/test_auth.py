"""Signing in: passwords, sessions, rate limits, CSRF and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.models import AuditEvent, Role, utcnow
from volunteer_hub.services.reference.accounts import (
    AccountError,
    authenticate,
    create_api_token,
    create_user,
    set_password,
)


def test_a_coordinator_signs_in_and_lands_on_the_overview(client, world):
    response = login(client, world.a.coordinator.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert world.a.commune.name in page.get_data(as_text=True)


def test_a_wrong_password_is_refused_and_audited(client, world, session):
    response = login(client, world.a.coordinator.email, "wrong password")
    assert response.status_code == 200
    assert "Sai email hoặc mật khẩu." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302
    assert session.query(AuditEvent).filter_by(action="login_failed").count() == 1


def test_pages_need_a_signed_in_account(client, world):
    response = client.get("/requests")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_signing_out_ends_the_session(client, world):
    login(client, world.a.coordinator.email)
    assert client.post("/logout").status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_a_password_change_signs_the_account_out_everywhere(client, world, session):
    login(client, world.a.coordinator.email)
    assert client.get("/dashboard").status_code == 200
    set_password(session, world.a.coordinator, "another long password")
    session.commit()
    assert client.get("/dashboard").status_code == 302


def test_a_deactivated_account_cannot_sign_in(client, world, session):
    world.a.coordinator.active = False
    session.commit()
    assert login(client, world.a.coordinator.email).status_code == 200
    assert authenticate(session, world.a.coordinator.email, PASSWORD) is None


def test_partner_accounts_cannot_sign_in_to_the_web(client, world, session):
    partner = create_user(
        session, email="app@partner.vn", name="App", role=Role.PARTNER, password=None
    )
    partner.password_hash = world.a.coordinator.password_hash
    session.commit()
    assert login(client, "app@partner.vn").status_code == 200
    assert client.get("/dashboard").status_code == 302


def test_passwords_are_stored_hashed(session, world):
    user = create_user(
        session, email="new@example.vn", name="New", role=Role.ADMIN, password="a-long-password"
    )
    assert user.password_hash and "a-long-password" not in user.password_hash
    assert authenticate(session, "NEW@example.vn ", "a-long-password") is user


def test_short_passwords_and_duplicate_emails_are_refused(session, world):
    with pytest.raises(AccountError):
        create_user(session, email="s@example.vn", name="S", role=Role.ADMIN, password="short")
    with pytest.raises(AccountError):
        create_user(
            session, email=world.admin.email, name="Dup", role=Role.ADMIN, password="long enough pw"
        )


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
def test_login_attempts_are_rate_limited(client, world):
    for _ in range(3):
        assert login(client, world.a.coordinator.email, "wrong").status_code == 200
    blocked = login(client, world.a.coordinator.email, "wrong")
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_the_login_form_needs_its_csrf_token(client, world):
    response = login(client, world.a.coordinator.email)
    assert response.status_code == 400


def test_an_api_token_acts_for_its_user(client, world, session):
    issued = create_api_token(session, world.a.coordinator)
    session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == world.a.coordinator.email
    assert body["communes"] == [{"code": world.a.commune.code, "name": world.a.commune.name}]
    assert issued.record.token_hash != issued.token


def test_the_api_says_401_without_a_valid_token(client, world, session):
    assert client.get("/api/v1/me").status_code == 401
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer vh_not-a-real-token"})
    assert bad.status_code == 401
    assert bad.get_json()["status"] == 401
    assert bad.mimetype == "application/problem+json"
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_tokens_stop_working(client, world, session):
    revoked = create_api_token(session, world.a.coordinator)
    expired = create_api_token(session, world.a.coordinator, expires_in=timedelta(seconds=1))
    revoked.record.revoked_at = utcnow()
    expired.record.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    for issued in (revoked, expired):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
        assert response.status_code == 401


def test_security_headers_are_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
