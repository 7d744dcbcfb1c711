"""Access that can be taken away: admin account pages, /account, sessions ended on the server."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.models import AuditEvent, Role, User, UserSession
from volunteer_hub.services.reference.accounts import (
    AccountError,
    authenticate,
    create_api_token,
    set_active,
)


@pytest.fixture
def other_client(app):  # type: ignore[no-untyped-def]
    """A second browser (same app, its own cookies)."""
    return app.test_client()


def actions(session, entity_id=None) -> list[str]:  # type: ignore[no-untyped-def]
    statement = select(AuditEvent.action).order_by(AuditEvent.id)
    if entity_id is not None:
        statement = statement.where(AuditEvent.entity_id == str(entity_id))
    return list(session.scalars(statement))


def test_a_cookie_replayed_after_sign_out_is_signed_out(client, world, session):
    login(client, world.a.coordinator.email)
    copied = client.get_cookie("session").value
    assert client.get("/dashboard").status_code == 200
    client.post("/logout")
    client.set_cookie("session", copied)
    replayed = client.get("/dashboard")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]
    assert session.scalars(select(UserSession)).one().ended_at is not None
    assert "logout" in actions(session, world.a.coordinator.id)


def test_signing_out_one_browser_keeps_the_other(client, other_client, world):
    login(client, world.a.coordinator.email)
    login(other_client, world.a.coordinator.email)
    client.post("/logout")
    assert other_client.get("/dashboard").status_code == 200


def test_deactivation_stops_sessions_and_tokens_on_the_next_request(
    client, other_client, world, session
):
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    login(other_client, world.a.coordinator.email)
    assert other_client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/me", headers=bearer).status_code == 200

    login(client, world.admin.email)
    done = client.post(f"/admin/users/{world.a.coordinator.id}/deactivate")
    assert done.status_code == 302
    assert other_client.get("/dashboard").status_code == 302
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert login(other_client, world.a.coordinator.email).status_code == 200  # refused

    client.post(f"/admin/users/{world.a.coordinator.id}/activate")
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert login(other_client, world.a.coordinator.email).status_code == 302
    assert actions(session, world.a.coordinator.id)[-2:] == ["activate", "login"]
    assert "deactivate" in actions(session, world.a.coordinator.id)


def test_an_admin_cannot_lock_themselves_or_everyone_out(client, world, session):
    login(client, world.admin.email)
    client.post(f"/admin/users/{world.admin.id}/deactivate")
    session.refresh(world.admin)
    assert world.admin.active
    with pytest.raises(AccountError):
        set_active(session, world.admin, False)  # the last active admin, even from the CLI
    page = client.post(
        f"/admin/users/{world.admin.id}",
        data={"name": "Me", "role": "coordinator", "communes": [world.a.commune.code]},
    )
    assert page.status_code == 422
    session.refresh(world.admin)
    assert world.admin.role is Role.ADMIN


def test_an_admin_changes_role_and_communes_and_it_holds_at_once(
    client, other_client, world, session
):
    coordinator = world.a.coordinator
    login(other_client, coordinator.email)
    assert world.a.commune.name in other_client.get("/dashboard").get_data(as_text=True)
    login(client, world.admin.email)
    page = client.get(f"/admin/users/{coordinator.id}")
    assert page.status_code == 200 and coordinator.email in page.get_data(as_text=True)
    saved = client.post(
        f"/admin/users/{coordinator.id}",
        data={"name": "Lan", "role": "coordinator", "communes": [world.b.commune.code]},
    )
    assert saved.status_code == 302
    session.refresh(coordinator)
    assert [c.code for c in coordinator.communes] == [world.b.commune.code]
    # The narrower scope holds from the next request: the old session is signed out.
    assert other_client.get("/dashboard").status_code == 302
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.entity == "user")
    ).one()
    assert event.detail["before"]["communes"] == [world.a.commune.code]
    assert event.detail["after"]["communes"] == [world.b.commune.code]
    refused = client.post(
        f"/admin/users/{coordinator.id}", data={"name": "Lan", "role": "coordinator"}
    )
    assert refused.status_code == 422  # a coordinator needs a commune


def test_a_reset_shows_a_one_time_password_that_must_be_replaced(
    client, other_client, world, session
):
    coordinator = world.a.coordinator
    login(other_client, coordinator.email)
    login(client, world.admin.email)
    page = client.post(f"/admin/users/{coordinator.id}/reset-password")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    otp = re.search(r"<code>([0-9a-f-]{20,})</code>", page.get_data(as_text=True)).group(1)
    assert other_client.get("/dashboard").status_code == 302  # signed out everywhere
    assert authenticate(session, coordinator.email, PASSWORD) is None
    # The password is in no flash (the cookie) and not in the audit log.
    assert otp not in str(client.get_cookie("session").value)
    assert otp not in str([e.detail for e in session.scalars(select(AuditEvent))])

    signed_in = login(other_client, coordinator.email, otp)
    assert signed_in.headers["Location"].endswith("/account/password")
    assert other_client.get("/requests").headers["Location"].endswith("/account/password")
    changed = other_client.post(
        "/account/password",
        data={"current": otp, "new": "my own long password", "confirm": "my own long password"},
    )
    assert changed.status_code == 302
    assert other_client.get("/requests").status_code == 200
    session.refresh(coordinator)
    assert not coordinator.must_change_password
    assert "password_reset" in actions(session, coordinator.id)


def test_changing_my_password_needs_the_current_one_and_ends_other_sessions(
    client, other_client, world, session
):
    email = world.a.coordinator.email
    login(client, email)
    login(other_client, email)
    assert client.get("/account/password").status_code == 200
    wrong = client.post(
        "/account/password",
        data={
            "current": "not it at all",
            "new": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert wrong.status_code == 422
    assert "Mật khẩu hiện tại không đúng." in wrong.get_data(as_text=True)
    mismatch = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "a new long password", "confirm": "another one entirely"},
    )
    assert mismatch.status_code == 422
    ok = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "a new long password", "confirm": "a new long password"},
    )
    assert ok.status_code == 302
    assert client.get("/dashboard").status_code == 200  # this browser goes on
    assert other_client.get("/dashboard").status_code == 302  # the other is signed out
    assert authenticate(session, email, "a new long password") is not None
    assert "password_change" in actions(session, world.a.coordinator.id)


def test_my_account_lists_my_tokens_only_and_i_can_revoke_them(client, world, session):
    mine = create_api_token(session, world.a.coordinator, name="bảng tính")
    theirs = create_api_token(session, world.b.coordinator, name="của người khác")
    session.commit()
    login(client, world.a.coordinator.email)
    page = client.get("/account").get_data(as_text=True)
    assert "bảng tính" in page and mine.record.prefix in page
    assert "của người khác" not in page and mine.token not in page
    assert client.post(f"/account/tokens/{theirs.record.id}/revoke").status_code == 404
    assert client.post(f"/account/tokens/{mine.record.id}/revoke").status_code == 302
    bearer = {"Authorization": f"Bearer {mine.token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    session.refresh(theirs.record)
    assert theirs.record.revoked_at is None


def test_an_admin_revokes_a_token_and_its_next_call_fails(client, world, session):
    issued = create_api_token(session, world.a.coordinator)
    session.commit()
    bearer = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    login(client, world.admin.email)
    page = client.get(f"/admin/users/{world.a.coordinator.id}").get_data(as_text=True)
    assert issued.record.prefix in page
    assert client.post(f"/admin/tokens/{issued.record.id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert "revoke" in actions(session, issued.record.id)


def test_the_failed_sign_in_audit_keeps_no_typed_secret(client, world, session):
    login(client, "my secret password", "whatever")
    login(client, "someone@unknown.vn", "whatever")
    login(client, world.a.coordinator.email, "wrong password")
    actors = list(
        session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "login_failed"))
    )
    assert "my secret password" not in str(actors) and "someone" not in str(actors)
    assert actors[1] == "?@unknown.vn" and actors[2] == world.a.coordinator.email


def test_the_account_pages_need_a_sign_in(client, world):
    for path in ("/account", "/account/password"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_admin_creates_an_account_whose_password_is_replaced_at_first_sign_in(
    client, other_client, world, session
):
    login(client, world.admin.email)
    assert client.get("/admin/users/new").status_code == 200
    created = client.post(
        "/admin/users/new",
        data={
            "email": "Minh@Hue.vn",
            "name": "Trần Minh",
            "role": "coordinator",
            "password": "typed by the admin",
            "communes": [world.a.commune.code],
        },
    )
    assert created.status_code == 302
    listed = client.get("/admin/users").get_data(as_text=True)
    assert "minh@hue.vn" in listed and "Trần Minh" in listed
    user = session.scalars(select(User).where(User.email == "minh@hue.vn")).one()
    assert [c.code for c in user.communes] == [world.a.commune.code] and user.must_change_password
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "create", AuditEvent.entity == "user")
    ).one()
    assert event.user_id == world.admin.id and event.entity_id == str(user.id)
    assert "typed by the admin" not in str(event.detail)

    # The admin knows the password: the person must choose their own before anything else.
    signed_in = login(other_client, "minh@hue.vn", "typed by the admin")
    assert signed_in.headers["Location"].endswith("/account/password")
    assert other_client.get("/dashboard").headers["Location"].endswith("/account/password")

    again = client.post(
        "/admin/users/new",
        data={"email": "minh@hue.vn", "name": "X", "role": "admin", "password": "long enough pw"},
    )
    assert again.status_code == 422
    no_commune = client.post(
        "/admin/users/new",
        data={"email": "b@hue.vn", "name": "B", "role": "coordinator", "password": "long enough"},
    )
    assert no_commune.status_code == 422
    partner = client.post(
        "/admin/users/new", data={"email": "app@hue.vn", "name": "Hue-S", "role": "partner"}
    )
    assert partner.status_code == 302
    assert not session.scalars(select(User).where(User.email == "app@hue.vn")).one().password_hash
