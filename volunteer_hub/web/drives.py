"""Coordinators set up a weekend drive: days and places, its requests, volunteers and teams."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.models import Hamlet, InvitationStatus, RequestStatus, Service
from volunteer_hub.models.places import in_natural_order
from volunteer_hub.services import access
from volunteer_hub.services.drives import planning, teams
from volunteer_hub.services.drives.setup import (
    candidate_requests,
    include_requests,
    parse_drive,
    save_drive,
    triage_requests,
)
from volunteer_hub.services.overview import RequestFilters
from volunteer_hub.services.validation import FieldErrors, is_code, parse_id, parse_ids, parse_whole
from volunteer_hub.web.query import page_arg, query_args
from volunteer_hub.web.staff import staff_blueprint, visible_drive

bp = staff_blueprint("drives", __name__)


def drive_payload(form: MultiDict[str, str]) -> dict[str, Any]:
    """Turn the drive form into the DriveIn payload."""
    blocks = []
    for day, start, end in zip(
        form.getlist("block_day"),
        form.getlist("block_start"),
        form.getlist("block_end"),
        strict=False,
    ):
        if day.strip() or start.strip() or end.strip():
            blocks.append({"day": day.strip(), "start": start.strip(), "end": end.strip()})
    points = []
    for name, address, lat, lng in zip(
        form.getlist("point_name"),
        form.getlist("point_address"),
        form.getlist("point_lat"),
        form.getlist("point_lng"),
        strict=False,
    ):
        if name.strip() or lat.strip() or lng.strip():
            points.append(
                {
                    "name": name.strip(),
                    "address": address.strip() or None,
                    "lat": lat.strip().replace(",", ".") or None,
                    "lng": lng.strip().replace(",", ".") or None,
                }
            )
    minutes = {}
    for key, value in form.items():
        if key.startswith("minutes_") and value.strip():
            minutes[key.removeprefix("minutes_")] = value.strip()
    return {
        "name": form.get("name", "").strip(),
        "communes": form.getlist("communes"),
        "blocks": blocks,
        "meeting_points": points,
        "team_size": form.get("team_size", "2"),
        "unaccented_sms": form.get("unaccented_sms") == "yes",
        "service_minutes": minutes,
        "notes": form.get("notes", "").strip() or None,
    }


def _drive_form_context(values: MultiDict[str, str], errors: dict[str, list[str]], drive=None):  # type: ignore[no-untyped-def]
    communes = db.session.scalars(access.communes_for(current_user)).all()
    services = db.session.scalars(
        db.select(Service).where(Service.active.is_(True)).order_by(Service.sort_order)
    ).all()
    return {
        "values": values,
        "errors": errors,
        "communes": communes,
        "services": services,
        "drive": drive,
    }


def _drive_values(drive) -> MultiDict[str, str]:  # type: ignore[no-untyped-def]
    tz = local_zone()
    values: MultiDict[str, str] = MultiDict()
    values["name"] = drive.name
    for c in drive.communes:
        values.add("communes", c.code)
    for b in drive.blocks:
        start, end = b.starts_at.astimezone(tz), b.ends_at.astimezone(tz)
        values.add("block_day", start.date().isoformat())
        values.add("block_start", start.strftime("%H:%M"))
        values.add("block_end", end.strftime("%H:%M"))
    for m in drive.meeting_points:
        values.add("point_name", m.name)
        values.add("point_address", m.address or "")
        values.add("point_lat", str(m.lat))
        values.add("point_lng", str(m.lng))
    values["team_size"] = str(drive.team_size)
    if drive.unaccented_sms:
        values["unaccented_sms"] = "yes"
    for ds in drive.service_minutes:
        values[f"minutes_{ds.service.code}"] = str(ds.minutes)
    values["notes"] = drive.notes or ""
    return values


@bp.route("/drives/new", methods=["GET", "POST"])
def drive_new():  # type: ignore[no-untyped-def]
    """Set up a new drive."""
    if request.method == "GET":
        values = MultiDict({"team_size": "2", "unaccented_sms": "yes"})
        return render_template("planning/drive_form.html", **_drive_form_context(values, {}))
    try:
        drive = save_drive(
            db.session,
            parse_drive(drive_payload(request.form)),
            user=current_user,
            tz=local_zone(),
        )
    except FieldErrors as exc:
        db.session.rollback()
        return render_template(
            "planning/drive_form.html", **_drive_form_context(request.form, exc.errors)
        ), 422
    db.session.commit()
    flash(_("Drive created. Now choose its requests."), "success")
    return redirect(url_for(".drive_requests", drive_id=drive.id))


@bp.route("/drives/<id:drive_id>/edit", methods=["GET", "POST"])
def drive_edit(drive_id: int):  # type: ignore[no-untyped-def]
    """Change a drive that is not published yet."""
    drive = visible_drive(drive_id)
    if request.method == "GET":
        return render_template(
            "planning/drive_form.html", **_drive_form_context(_drive_values(drive), {}, drive)
        )
    try:
        save_drive(
            db.session,
            parse_drive(drive_payload(request.form)),
            user=current_user,
            tz=local_zone(),
            drive=drive,
        )
    except FieldErrors as exc:
        db.session.rollback()
        return render_template(
            "planning/drive_form.html", **_drive_form_context(request.form, exc.errors, drive)
        ), 422
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("coordinator.drive_detail", drive_id=drive.id))


#: The furthest back the "older than" filter goes, in days.
MAX_OLDER_DAYS = 3660
#: The query arguments of the drive's request list.
FILTER_ARGS = ("commune", "hamlet", "service", "priority", "status", "older", "page")


def _request_filters() -> RequestFilters:
    status = request.args.get("status") or None
    service = request.args.get("service") or None
    return RequestFilters(
        commune_id=parse_id(request.args.get("commune")),
        hamlet_id=parse_id(request.args.get("hamlet")),
        service_code=service if is_code(service) else None,
        min_priority=parse_whole(request.args.get("priority"), low=1, high=5),
        status=RequestStatus(status) if status in ("new", "triaged") else None,
        older_than_days=parse_whole(request.args.get("older"), low=0, high=MAX_OLDER_DAYS),
    )


def _filter_args() -> dict[str, str]:
    """Return the list's filters to keep after an update (only those: "drive_id" or "_external"
    in the query string would clash with url_for's own arguments)."""
    return query_args(*FILTER_ARGS)


@bp.get("/drives/<id:drive_id>/requests")
def drive_requests(drive_id: int):  # type: ignore[no-untyped-def]
    """Choose the requests of a drive: filters, bulk include and triage."""
    drive = visible_drive(drive_id)
    filters = _request_filters()
    page = db.paginate(
        candidate_requests(drive, current_user, filters),
        page=page_arg(),
        per_page=50,
        max_per_page=200,
    )
    included = {dr.request_id for dr in drive.requests}
    held = planning.duplicate_holds(drive)
    requests_by_id = {dr.request_id: dr.request for dr in drive.requests}
    held_list = [
        {"request": requests_by_id[request_id], "original": original}
        for request_id, original in sorted(
            held.items(), key=lambda item: requests_by_id[item[0]].reference
        )
    ]
    hamlets = in_natural_order(
        db.session.scalars(
            db.select(Hamlet).where(Hamlet.commune_id.in_(sorted(drive.commune_ids)))
        )
    )
    services = db.session.scalars(db.select(Service).order_by(Service.sort_order)).all()
    return render_template(
        "planning/drive_requests.html",
        drive=drive,
        page=page,
        filters=filters,
        included=included,
        held=held,
        held_list=held_list,
        filter_args=FILTER_ARGS,
        hamlets=hamlets,
        services=services,
    )


@bp.post("/drives/<id:drive_id>/requests")
def drive_requests_update(drive_id: int):  # type: ignore[no-untyped-def]
    """Include, exclude or triage the chosen requests."""
    drive = visible_drive(drive_id)
    if request.form.get("scope") == "all":
        # Every request the filter matches, on every page (the filter rides in the query string).
        matching = candidate_requests(drive, current_user, _request_filters()).subquery()
        ids = list(db.session.scalars(db.select(matching.c.id).order_by(matching.c.id)))
    else:
        ids = parse_ids(request.form.getlist("request_ids"))
    action = request.form.get("action", "")
    if not ids:
        flash(
            _("Tick at least one request, or choose every request the filter matches."), "warning"
        )
        return redirect(url_for(".drive_requests", drive_id=drive.id, **_filter_args()))
    try:
        if action == "include":
            count = include_requests(db.session, drive, ids, user=current_user)
        elif action == "exclude":
            count = include_requests(db.session, drive, ids, user=current_user, include=False)
        elif action == "triage":
            count = triage_requests(
                db.session, ids, user=current_user, status=RequestStatus.TRIAGED
            )
        elif action == "cancel":
            count = triage_requests(
                db.session, ids, user=current_user, status=RequestStatus.CANCELLED
            )
        elif action.startswith("priority-") and action[-1] in "0123456789":  # not "²"
            count = triage_requests(db.session, ids, user=current_user, priority=int(action[-1]))
        else:
            abort(400)
    except FieldErrors as exc:
        db.session.rollback()
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for(".drive_requests", drive_id=drive.id)), 303
    db.session.commit()
    flash(_("%(n)s requests updated.", n=format_decimal(count)), "success")
    return redirect(url_for(".drive_requests", drive_id=drive.id, **_filter_args()))


@bp.get("/drives/<id:drive_id>/volunteers")
def drive_volunteers(drive_id: int):  # type: ignore[no-untyped-def]
    """Invite available volunteers, record their answers, and form teams."""
    drive = visible_drive(drive_id)
    tz = local_zone()
    return render_template(
        "planning/drive_volunteers.html",
        drive=drive,
        candidates=teams.candidates(db.session, drive, current_user, tz),
        teams=teams.active_teams(drive),
        loose=teams.accepted_without_team(drive),
        shifts={t.id: len(planning.team_blocks(t, tz)) for t in drive.teams},
        statuses=list(InvitationStatus),
    )


@bp.post("/drives/<id:drive_id>/volunteers")
def drive_volunteers_update(drive_id: int):  # type: ignore[no-untyped-def]
    """Invite, record an answer, form teams or move a member."""
    drive = visible_drive(drive_id)
    tz = local_zone()
    action = request.form.get("action", "")
    try:
        if action == "invite":
            ids = parse_ids(request.form.getlist("volunteer_ids"))
            flash(
                _(
                    "%(n)s volunteers invited.",
                    n=format_decimal(
                        teams.invite(db.session, drive, ids, user=current_user, tz=tz)
                    ),
                ),
                "success",
            )
        elif action == "answer":
            status = InvitationStatus(request.form.get("status", ""))
            teams.set_answer(
                db.session,
                drive,
                parse_id(request.form.get("volunteer_id")) or 0,
                status,
                user=current_user,
                reason=request.form.get("reason"),
            )
            flash(_("Saved."), "success")
        elif action == "form":
            report = teams.form_teams(db.session, drive, user=current_user, tz=tz)
            flash(_("%(n)s teams formed.", n=format_decimal(report.teams)), "success")
            for volunteer, detail in report.unplaced:
                flash(
                    _("%(name)s has no team: %(why)s", name=volunteer.full_name, why=detail),
                    "warning",
                )
        elif action == "move":
            teams.move_member(
                db.session,
                drive,
                parse_id(request.form.get("volunteer_id")) or 0,
                request.form.get("team_code") or None,
                user=current_user,
                tz=tz,
            )
            flash(_("Saved."), "success")
        else:
            abort(400)
    except ValueError as exc:  # PlanningError, or an unknown status
        db.session.rollback()
        flash(
            str(exc)
            if isinstance(exc, planning.PlanningError)
            else _("Choose one of the options."),
            "error",
        )
        return redirect(url_for(".drive_volunteers", drive_id=drive.id)), 303
    db.session.commit()
    return redirect(url_for(".drive_volunteers", drive_id=drive.id))
