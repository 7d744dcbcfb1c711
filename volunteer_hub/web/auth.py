"""Signing in and out."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from volunteer_hub.extensions import db, limiter
from volunteer_hub.models import Role, utcnow
from volunteer_hub.security import SESSION_KEY, client_ip
from volunteer_hub.services import audit
from volunteer_hub.services.reference.accounts import (
    authenticate,
    end_session,
    failed_login_actor,
    start_session,
)
from volunteer_hub.web.forms import LoginForm
from volunteer_hub.web.public import safe_next

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _landing() -> str:
    return url_for("coordinator.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the sign-in form and sign the account in."""
    if current_user.is_authenticated:
        return redirect(_landing())
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None or user.role is Role.PARTNER:
            audit.record(
                db.session,
                action="login_failed",
                entity="user",
                actor=failed_login_actor(db.session, form.email.data or ""),
                ip=client_ip(),
            )
            db.session.commit()
            form.password.errors.append(_("Wrong email or password."))
        else:
            # A fresh cookie for a fresh session: nothing from before sign-in carries over.
            session.clear()
            session[SESSION_KEY] = start_session(db.session, user)
            login_user(user)
            user.last_login_at = utcnow()
            audit.record(
                db.session,
                action="login",
                entity="user",
                entity_id=user.id,
                user=user,
                ip=client_ip(),
            )
            db.session.commit()
            if user.must_change_password:
                return redirect(url_for("account.password"))
            return redirect(
                safe_next(request.args.get("next")) if request.args.get("next") else _landing()
            )
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """Sign out, ending the session on the server too."""
    end_session(db.session, session.get(SESSION_KEY))
    audit.record(
        db.session,
        action="logout",
        entity="user",
        entity_id=current_user.id,
        user=current_user,
        ip=client_ip(),
    )
    db.session.commit()
    logout_user()
    session.pop(SESSION_KEY, None)
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.home"))
