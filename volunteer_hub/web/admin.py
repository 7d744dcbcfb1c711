"""The admins' area: accounts and the audit log."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from volunteer_hub.extensions import db
from volunteer_hub.models import AuditEvent, Commune, Role, User
from volunteer_hub.security import admin_required
from volunteer_hub.services.reference.accounts import AccountError, create_user
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


def _user_form():  # type: ignore[no-untyped-def]
    from volunteer_hub.web.forms import UserForm

    form = UserForm()
    form.communes.choices = [
        SelectChoice(c.code, f"{c.name} ({c.code})")
        for c in db.session.scalars(select(Commune).order_by(Commune.name))
    ]
    return form


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():  # type: ignore[no-untyped-def]
    """Create an account."""
    form = _user_form()
    if form.validate_on_submit():
        try:
            create_user(
                db.session,
                email=form.email.data or "",
                name=form.name.data or "",
                role=Role(form.role.data),
                password=form.password.data or None,
                commune_codes=form.communes.data or [],
                actor=current_user,
            )
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
