"""What every coordinator's blueprint shares: signed-in staff only, private pages, a 409 for a
stale edit, the drive or plan a URL names, and the numbers a planning form sends."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, g, request
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from volunteer_hub.extensions import db
from volunteer_hub.models import Drive, Plan
from volunteer_hub.security import coordinator_required
from volunteer_hub.services import access
from volunteer_hub.services.drives.plan_review import ConflictError
from volunteer_hub.services.validation import MAX_ID, parse_whole

#: The planner's time limits a coordinator may choose, in seconds.
TIME_LIMIT_RANGE_S = (3.0, 600.0)


def staff_blueprint(name: str, import_name: str) -> Blueprint:
    """Return a blueprint whose every page needs a signed-in admin or coordinator."""
    bp = Blueprint(name, import_name)

    @bp.before_request
    @coordinator_required
    def _signed_in_staff_only() -> None:
        g.private_page = True

    @bp.errorhandler(ConflictError)
    @bp.errorhandler(StaleDataError)
    def _conflict(exc: Exception):  # type: ignore[no-untyped-def]
        from volunteer_hub.web.errors import render_error

        db.session.rollback()
        return render_error(409)

    return bp


def visible_drive(drive_id: int) -> Drive:
    """The drive of the URL, if the signed-in person may see it (else 404)."""
    return access.visible_drive(db.session, current_user, drive_id)


def visible_plan(plan_id: int) -> Plan:
    """The plan of the URL, if the signed-in person may see its drive (else 404)."""
    return access.visible_plan(db.session, current_user, plan_id)


def version_arg() -> int | None:
    """The ``row_version`` the edit form was loaded with (None when it sent none)."""
    return parse_whole(request.form.get("row_version"), low=0, high=MAX_ID)


def time_limit_arg() -> float:
    """The planner's time limit the form asks for, within TIME_LIMIT_RANGE_S (else the default)."""
    asked = request.form.get("time_limit_s", type=float)
    if asked is not None and not math.isfinite(asked):  # "nan" passes float() and min/max
        asked = None
    low, high = TIME_LIMIT_RANGE_S
    return min(max(asked or float(current_app.config["PLAN_TIME_LIMIT_S"]), low), high)
