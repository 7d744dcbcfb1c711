"""Every signed-in person's own account: their password and their API tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from volunteer_hub.extensions import db
from volunteer_hub.models import ApiToken, Role
from volunteer_hub.security import SESSION_KEY, client_ip, roles_required
from volunteer_hub.services.reference.accounts import (
    AccountError,
    change_own_password,
    list_api_tokens,
    revoke_api_token,
    start_session,
)
from volunteer_hub.web.forms import PasswordChangeForm

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.before_request
@roles_required(Role.ADMIN, Role.COORDINATOR)
def _signed_in_only() -> None:
    """Every page here needs a signed-in account, and is private."""
    g.private_page = True


@bp.get("")
def overview():  # type: ignore[no-untyped-def]
    """Show the account, its API tokens and the way to change the password."""
    return render_template(
        "account/overview.html", tokens=list_api_tokens(db.session, current_user)
    )


@bp.route("/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    """Change one's own password (the current one is required)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_own_password(
                db.session, user, form.current.data or "", form.new.data or "", ip=client_ip()
            )
        except AccountError as exc:
            db.session.rollback()
            form.current.errors.append(str(exc))
        else:
            # Every other session ended with the change; this browser gets a new one.
            session[SESSION_KEY] = start_session(db.session, user)
            login_user(user)
            db.session.commit()
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect(url_for(".overview"))
    status = 422 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status


@bp.post("/tokens/<id:token_id>/revoke")
def token_revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of one's own API tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    revoke_api_token(db.session, token, actor=current_user)
    db.session.commit()
    flash(_("The token is revoked: it stops working now."), "success")
    return redirect(url_for(".overview"))
