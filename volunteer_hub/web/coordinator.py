"""The coordinators' area: their communes' requests, volunteers, drives and places."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from volunteer_hub.extensions import db
from volunteer_hub.models import HamletKind, RequestStatus, Skill, VolunteerStatus
from volunteer_hub.security import client_ip
from volunteer_hub.services import access, audit, overview
from volunteer_hub.services.intake import help_requests
from volunteer_hub.services.reference.places import PlaceError, add_hamlet, find_commune
from volunteer_hub.services.validation import FieldErrors, is_code, parse_whole, search_text
from volunteer_hub.web.forms import HamletForm
from volunteer_hub.web.query import id_arg, page_arg
from volunteer_hub.web.staff import staff_blueprint

bp = staff_blueprint("coordinator", __name__)

PER_PAGE = 25


def _enum_arg(name: str, enum_cls):  # type: ignore[no-untyped-def]
    value = request.args.get(name) or None
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


@bp.get("/dashboard")
def dashboard():  # type: ignore[no-untyped-def]
    """Show the headline counts of the coordinator's communes."""
    data = overview.overview(db.session, current_user)
    return render_template("coordinator/dashboard.html", data=data)


@bp.get("/requests")
def requests_list():  # type: ignore[no-untyped-def]
    """List help requests with filters."""
    filters = overview.RequestFilters(
        commune_id=id_arg("commune"),
        status=_enum_arg("status", RequestStatus),
        min_priority=parse_whole(request.args.get("priority"), low=1, high=5),
        text=search_text(request.args.get("q")),
    )
    page = db.paginate(
        overview.requests_query(current_user, filters),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=100,
    )
    communes = db.session.scalars(access.communes_for(current_user)).all()
    return render_template(
        "coordinator/requests.html",
        page=page,
        filters=filters,
        communes=communes,
        statuses=list(RequestStatus),
    )


@bp.get("/requests/<id:request_id>")
def request_detail(request_id: int):  # type: ignore[no-untyped-def]
    """Show one help request; the view is written to the audit log."""
    record = access.visible_request(db.session, current_user, request_id)
    audit.record(
        db.session,
        action="view",
        entity="help_request",
        entity_id=record.id,
        user=current_user,
        commune_id=record.commune_id,
        ip=client_ip(),
    )
    db.session.commit()
    return render_template("coordinator/request_detail.html", record=record)


@bp.post("/requests/<id:request_id>/not-duplicate")
def request_not_duplicate(request_id: int):  # type: ignore[no-untyped-def]
    """Say a request flagged as a possible duplicate is another household (or take it back)."""
    record = access.visible_request(db.session, current_user, request_id)
    try:
        help_requests.mark_not_duplicate(
            db.session,
            record,
            user=current_user,
            not_duplicate=request.form.get("value", "yes") != "no",
            ip=client_ip(),
        )
    except FieldErrors as exc:
        db.session.rollback()
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for(".request_detail", request_id=record.id)), 303
    db.session.commit()
    if record.not_duplicate:
        flash(_("Marked as not a duplicate: both requests will be planned."), "success")
    else:
        flash(_("Marked again as a possible duplicate."), "success")
    return redirect(url_for(".request_detail", request_id=record.id)), 303


@bp.get("/volunteers")
def volunteers_list():  # type: ignore[no-untyped-def]
    """List volunteers with filters."""
    filters = overview.VolunteerFilters(
        commune_id=id_arg("commune"),
        status=_enum_arg("status", VolunteerStatus),
        text=search_text(request.args.get("q")),
    )
    page = db.paginate(
        overview.volunteers_query(current_user, filters),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=100,
    )
    communes = db.session.scalars(access.communes_for(current_user)).all()
    return render_template(
        "coordinator/volunteers.html",
        page=page,
        filters=filters,
        communes=communes,
        statuses=list(VolunteerStatus),
    )


@bp.get("/volunteers/<id:volunteer_id>")
def volunteer_detail(volunteer_id: int):  # type: ignore[no-untyped-def]
    """Show one volunteer; the view is written to the audit log."""
    volunteer = access.visible_volunteer(db.session, current_user, volunteer_id)
    audit.record(
        db.session,
        action="view",
        entity="volunteer",
        entity_id=volunteer.id,
        user=current_user,
        commune_id=volunteer.home_commune_id,
        ip=client_ip(),
    )
    db.session.commit()
    skills = db.session.scalars(db.select(Skill).order_by(Skill.id)).all()
    return render_template(
        "coordinator/volunteer_detail.html", volunteer=volunteer, all_skills=skills
    )


@bp.get("/drives")
def drives_list():  # type: ignore[no-untyped-def]
    """List the drives of the coordinator's communes."""
    page = db.paginate(
        overview.drives_query(current_user), page=page_arg(), per_page=PER_PAGE, max_per_page=100
    )
    return render_template("coordinator/drives.html", page=page)


@bp.get("/drives/<id:drive_id>")
def drive_detail(drive_id: int):  # type: ignore[no-untyped-def]
    """Show one drive."""
    drive = access.visible_drive(db.session, current_user, drive_id)
    return render_template("coordinator/drive_detail.html", drive=drive)


@bp.get("/communes")
def communes_list():  # type: ignore[no-untyped-def]
    """List the communes in the account's scope."""
    communes = db.session.scalars(access.communes_for(current_user)).all()
    return render_template("coordinator/communes.html", communes=communes)


def _visible_commune_by_code(code: str):  # type: ignore[no-untyped-def]
    commune = find_commune(db.session, code) if is_code(code, max_length=8) else None
    if commune is None or not current_user.can_see_commune(commune.id):
        abort(404)
    return commune


@bp.get("/communes/<code>")
def commune_detail(code: str):  # type: ignore[no-untyped-def]
    """Show a commune and its hamlets."""
    commune = _visible_commune_by_code(code)
    return render_template("coordinator/commune_detail.html", commune=commune, form=HamletForm())


@bp.post("/communes/<code>/hamlets")
def commune_add_hamlet(code: str):  # type: ignore[no-untyped-def]
    """Add a hamlet or residential group to a commune."""
    commune = _visible_commune_by_code(code)
    form = HamletForm()
    if form.validate_on_submit():
        try:
            hamlet = add_hamlet(
                db.session, commune, form.name.data or "", HamletKind(form.kind.data)
            )
        except PlaceError:
            form.name.errors.append(_("Enter a name."))
        else:
            audit.record(
                db.session,
                action="create",
                entity="hamlet",
                entity_id=hamlet.id,
                user=current_user,
                commune_id=commune.id,
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".commune_detail", code=commune.code))
    return render_template("coordinator/commune_detail.html", commune=commune, form=form), 422
