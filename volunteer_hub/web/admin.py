"""The admins' area: accounts and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from volunteer_hub.extensions import db
from volunteer_hub.models import ApiToken, AuditEvent, Commune, Role, User
from volunteer_hub.phones import national_format
from volunteer_hub.security import admin_required
from volunteer_hub.services.reference.accounts import (
    AccountError,
    create_user,
    list_api_tokens,
    reset_password,
    revoke_api_token,
    set_active,
    update_user,
)
from volunteer_hub.web.query import page_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def _admins_only() -> None:
    """Every page here needs a signed-in admin, and is private."""
    g.private_page = True


@bp.get("/users")
def users():  # type: ignore[no-untyped-def]
    """List every account."""
    accounts = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("admin/users.html", accounts=accounts)


def _commune_choices() -> list[SelectChoice]:
    return [
        SelectChoice(c.code, f"{c.name} ({c.code})")
        for c in db.session.scalars(select(Commune).order_by(Commune.name))
    ]


def _user_form():  # type: ignore[no-untyped-def]
    from volunteer_hub.web.forms import UserForm

    form = UserForm()
    form.communes.choices = _commune_choices()
    return form


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):  # type: ignore[no-untyped-def]
    """Change an account's name, role and communes; deactivate, reset, revoke tokens."""
    from volunteer_hub.web.forms import UserEditForm

    user = _account(user_id)
    form = UserEditForm(obj=None if request.method == "POST" else user)
    form.communes.choices = _commune_choices()
    if request.method == "GET":
        form.role.data = user.role.value
        form.communes.data = [c.code for c in user.communes]
        form.phone.data = national_format(user.phone)
    if form.validate_on_submit():
        try:
            update_user(
                db.session,
                user,
                name=form.name.data or "",
                role=Role(form.role.data),
                commune_codes=form.communes.data or [],
                actor=current_user,
                phone=form.phone.data or "",
            )
        except AccountError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".users"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/user_edit.html",
        user=user,
        form=form,
        tokens=list_api_tokens(db.session, user),
    ), status


@bp.post("/users/<id:user_id>/deactivate")
def user_deactivate(user_id: int):  # type: ignore[no-untyped-def]
    """Deactivate an account: its sessions and tokens stop on their next request."""
    return _set_active(_account(user_id), False)


@bp.post("/users/<id:user_id>/activate")
def user_activate(user_id: int):  # type: ignore[no-untyped-def]
    """Let a deactivated account sign in again."""
    return _set_active(_account(user_id), True)


def _set_active(user: User, active: bool):  # type: ignore[no-untyped-def]
    try:
        set_active(db.session, user, active, actor=current_user)
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("%(email)s can sign in again.", email=user.email)
            if active
            else _("%(email)s is deactivated and signed out everywhere.", email=user.email),
            "success",
        )
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<id:user_id>/reset-password")
def user_reset_password(user_id: int):  # type: ignore[no-untyped-def]
    """Give an account a one-time password, shown on this page only."""
    user = _account(user_id)
    try:
        password = reset_password(db.session, user, actor=current_user)
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".user_edit", user_id=user.id))
    db.session.commit()
    # Rendered, never flashed: a flash would travel in the (signed, readable) cookie.
    return render_template("admin/user_password.html", user=user, password=password)


@bp.post("/tokens/<id:token_id>/revoke")
def token_revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke an API token: its next call is refused."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        abort(404)
    revoke_api_token(db.session, token, actor=current_user)
    db.session.commit()
    flash(_("The token is revoked: it stops working now."), "success")
    return redirect(url_for(".user_edit", user_id=token.user_id))


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():  # type: ignore[no-untyped-def]
    """Create an account."""
    form = _user_form()
    if form.validate_on_submit():
        try:
            user = create_user(
                db.session,
                email=form.email.data or "",
                name=form.name.data or "",
                role=Role(form.role.data),
                password=form.password.data or None,
                commune_codes=form.communes.data or [],
                actor=current_user,
                phone=form.phone.data or None,
            )
            # The admin knows this password: the person replaces it at their first sign-in.
            user.must_change_password = user.password_hash is not None
        except AccountError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".users"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form), status


@bp.get("/audit")
def audit_log():  # type: ignore[no-untyped-def]
    """Show the newest audit events."""
    page = db.paginate(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
        page=page_arg(),
        per_page=50,
        max_per_page=200,
    )
    return render_template("admin/audit.html", page=page)
