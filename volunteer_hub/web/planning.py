"""Coordinators plan a weekend drive: set-up, requests, volunteers and teams, plans, publish."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.models import (
    Hamlet,
    InvitationStatus,
    Plan,
    PlanStatus,
    RequestStatus,
    Service,
)
from volunteer_hub.security import client_ip, coordinator_required
from volunteer_hub.services import access, audit
from volunteer_hub.services.drives import exports, plan_review, planning, publishing, teams
from volunteer_hub.services.drives.setup import (
    RequestFilters,
    candidate_requests,
    include_requests,
    parse_drive,
    save_drive,
    triage_requests,
)
from volunteer_hub.services.results import outcomes
from volunteer_hub.services.validation import (
    MAX_ID,
    FieldErrors,
    is_code,
    parse_id,
    parse_ids,
    parse_whole,
)
from volunteer_hub.web.outcome_forms import outcome_payload, outcome_values
from volunteer_hub.web.query import page_arg, query_args

bp = Blueprint("planning", __name__)


@bp.before_request
@coordinator_required
def _signed_in_staff_only() -> None:
    """Every page here needs a signed-in admin or coordinator, and is private."""
    g.private_page = True


@bp.errorhandler(plan_review.ConflictError)
@bp.errorhandler(StaleDataError)
def _conflict(exc: Exception):  # type: ignore[no-untyped-def]
    db.session.rollback()
    from volunteer_hub.web.errors import render_error

    return render_error(409)


def _drive(drive_id: int):  # type: ignore[no-untyped-def]
    return access.visible_drive(db.session, current_user, drive_id)


def _plan(plan_id: int) -> Plan:
    return access.visible_plan(db.session, current_user, plan_id)


def _version_arg() -> int | None:
    return parse_whole(request.form.get("row_version"), low=0, high=MAX_ID)


# --- drive set-up ---------------------------------------------------------------------------


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
            db.session, parse_drive(drive_payload(request.form)), user=current_user, tz=local_zone()
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
    drive = _drive(drive_id)
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


# --- requests of the drive ------------------------------------------------------------------


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
    drive = _drive(drive_id)
    filters = _request_filters()
    page = db.paginate(
        candidate_requests(drive, current_user, filters),
        page=page_arg(),
        per_page=50,
        max_per_page=200,
    )
    included = {dr.request_id for dr in drive.requests}
    hamlets = db.session.scalars(
        db.select(Hamlet)
        .where(Hamlet.commune_id.in_(sorted(drive.commune_ids)))
        .order_by(Hamlet.name)
    ).all()
    services = db.session.scalars(db.select(Service).order_by(Service.sort_order)).all()
    return render_template(
        "planning/drive_requests.html",
        drive=drive,
        page=page,
        filters=filters,
        included=included,
        filter_args=FILTER_ARGS,
        hamlets=hamlets,
        services=services,
    )


@bp.post("/drives/<id:drive_id>/requests")
def drive_requests_update(drive_id: int):  # type: ignore[no-untyped-def]
    """Include, exclude or triage the chosen requests."""
    drive = _drive(drive_id)
    ids = parse_ids(request.form.getlist("request_ids"))
    action = request.form.get("action", "")
    if not ids:
        flash(_("Tick at least one request."), "warning")
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
    flash(_("%(n)d requests updated.", n=count), "success")
    return redirect(url_for(".drive_requests", drive_id=drive.id, **_filter_args()))


# --- volunteers and teams -------------------------------------------------------------------


@bp.get("/drives/<id:drive_id>/volunteers")
def drive_volunteers(drive_id: int):  # type: ignore[no-untyped-def]
    """Invite available volunteers, record their answers, and form teams."""
    drive = _drive(drive_id)
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
    drive = _drive(drive_id)
    tz = local_zone()
    action = request.form.get("action", "")
    try:
        if action == "invite":
            ids = parse_ids(request.form.getlist("volunteer_ids"))
            flash(
                _(
                    "%(n)d volunteers invited.",
                    n=teams.invite(db.session, drive, ids, user=current_user, tz=tz),
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
            flash(_("%(n)d teams formed.", n=report.teams), "success")
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


# --- plans ----------------------------------------------------------------------------------


def _time_limit() -> float:
    asked = request.form.get("time_limit_s", type=float)
    if asked is not None and not math.isfinite(asked):  # "nan" passes float() and min/max
        asked = None
    default = float(current_app.config["PLAN_TIME_LIMIT_S"])
    return min(max(asked or default, 3.0), 600.0)


@bp.post("/drives/<id:drive_id>/plans")
def plan_start(drive_id: int):  # type: ignore[no-untyped-def]
    """Queue a new plan version; the worker solves it."""
    drive = _drive(drive_id)
    try:
        plan = planning.start_plan(
            db.session, drive, user=current_user, tz=local_zone(), time_limit_s=_time_limit()
        )
    except planning.PlanningError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("coordinator.drive_detail", drive_id=drive.id)), 303
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


def progress_json(plan: Plan) -> dict[str, Any]:
    """Return the plan's status and progress as the progress bar reads them."""
    limit = float(plan.params.get("time_limit_s", 30))
    progress = plan.progress or {}
    return {
        "id": plan.id,
        "version": plan.version,
        "status": plan.status.value,
        "elapsed_s": progress.get("elapsed_s", 0.0),
        "time_limit_s": limit,
        "served": progress.get("served"),
        "served_priority": progress.get("served_priority"),
        "travel_min": progress.get("travel_min"),
        "visits": len((plan.problem or {}).get("visits", [])),
        "stop_requested": plan.stop_requested,
        "error": plan.error,
    }


@bp.get("/plans/<id:plan_id>")
def plan_view(plan_id: int):  # type: ignore[no-untyped-def]
    """Show a plan: its progress while the planner runs, then the review (map and teams)."""
    plan = _plan(plan_id)
    if plan.status in (PlanStatus.QUEUED, PlanStatus.RUNNING):
        return render_template(
            "planning/plan_progress.html", plan=plan, progress=progress_json(plan)
        )
    return render_template("planning/plan_review.html", **_review_context(plan))


def _review_context(plan: Plan, errors: list[str] | None = None) -> dict[str, Any]:
    routes: dict[str, list[Any]] = {}
    left_out = []
    for visit in sorted(
        plan.visits,
        key=lambda v: (
            v.starts_at is None,
            v.starts_at or datetime.max.replace(tzinfo=local_zone()),
            v.seq or 0,
        ),
    ):
        if visit.team is None:
            left_out.append(visit)
        else:
            routes.setdefault(visit.team.code, []).append(visit)
    team_rows = sorted(
        {v.team for v in plan.visits if v.team} | set(teams.active_teams(plan.drive)),
        key=lambda t: (len(t.code), t.code),
    )
    others = [p for p in plan.drive.plans if p.id != plan.id and p.status is PlanStatus.DONE]
    tz = local_zone()
    days = sorted({b.starts_at.astimezone(tz).date() for b in plan.drive.blocks})
    return {
        "days": [(d.isoformat(), format_date(d, "EEEE dd/MM")) for d in days],
        "plan": plan,
        "drive": plan.drive,
        "routes": routes,
        "team_rows": team_rows,
        "left_out": sorted(left_out, key=lambda v: -v.request.priority),
        "stats": (plan.result or {}).get("stats", {}),
        "others": others,
        "errors": errors or [],
        "editable": plan.status is PlanStatus.DONE and not plan.is_locked,
        "published": publishing.latest_published(db.session, plan.drive),
    }


@bp.get("/plans/<id:plan_id>/progress.json")
def plan_progress(plan_id: int):  # type: ignore[no-untyped-def]
    """Report the planner's progress (polled by the progress bar)."""
    return jsonify(progress_json(_plan(plan_id)))


@bp.post("/plans/<id:plan_id>/stop")
def plan_stop(plan_id: int):  # type: ignore[no-untyped-def]
    """Stop the search early and keep the best plan found so far."""
    plan = _plan(plan_id)
    planning.request_stop(db.session, plan)
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


TEAM_COLOURS = 12


@bp.get("/plans/<id:plan_id>/map.json")
def plan_map(plan_id: int):  # type: ignore[no-untyped-def]
    """Return the plan as map data: each team's stops and route, and what was left out."""
    plan = _plan(plan_id)
    return jsonify(exports.map_data(plan, TEAM_COLOURS, lambda d: format_datetime(d, "HH:mm")))


def _refused(plan: Plan, reasons: list[str]):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return render_template("planning/plan_review.html", **_review_context(plan, reasons)), 422


@bp.post("/plans/<id:plan_id>/visits/<reference>/move")
def visit_move(plan_id: int, reference: str):  # type: ignore[no-untyped-def]
    """Move a visit to another team or time, or unassign it; refused when a rule breaks."""
    plan = _plan(plan_id)
    team_code = request.form.get("team_code") or None
    start = None
    raw_time = (request.form.get("start") or "").strip()
    try:
        if raw_time:
            hour, minute = (int(x) for x in raw_time.split(":"))
            current = next((v for v in plan.visits if v.request.reference == reference), None)
            day_source = (
                current.starts_at if current and current.starts_at else plan.drive.first_day
            )
            if day_source is None:
                raise ValueError
            local = day_source.astimezone(local_zone())
            start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
            day = request.form.get("day", "")
            if day:
                start = start.replace(
                    **{
                        k: int(v)
                        for k, v in zip(("year", "month", "day"), day.split("-"), strict=True)
                    }
                )
    except (ValueError, OverflowError):  # "25:00", "²:00", a year of twenty digits
        return _refused(plan, [_("Enter a time as HH:MM.")])
    try:
        plan_review.move_visit(
            db.session,
            plan,
            reference,
            team_code=team_code,
            user=current_user,
            expected_version=_version_arg(),
            start=start,
        )
    except plan_review.EditRefused as exc:
        return _refused(plan, exc.reasons)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(".plan_view", plan_id=plan.id))


@bp.post("/plans/<id:plan_id>/visits/<reference>/pin")
def visit_pin(plan_id: int, reference: str):  # type: ignore[no-untyped-def]
    """Pin a visit to its team, or release it."""
    plan = _plan(plan_id)
    visit = next((v for v in plan.visits if v.request.reference == reference), None)
    if visit is None:
        abort(404)
    try:
        plan_review.set_pinned(
            db.session,
            plan,
            visit,
            request.form.get("pinned") == "yes",
            user=current_user,
            expected_version=_version_arg(),
        )
    except plan_review.EditRefused as exc:
        return _refused(plan, exc.reasons)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


@bp.post("/plans/<id:plan_id>/replan")
def plan_replan(plan_id: int):  # type: ignore[no-untyped-def]
    """Re-plan the rest: a new version that keeps the pinned visits with their teams."""
    plan = _plan(plan_id)
    try:
        new = planning.start_plan(
            db.session,
            plan.drive,
            user=current_user,
            tz=local_zone(),
            time_limit_s=_time_limit(),
            based_on=plan,
        )
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=new.id))


@bp.post("/plans/<id:plan_id>/revise")
def plan_revise(plan_id: int):  # type: ignore[no-untyped-def]
    """Start a new, editable version from a published one (to change it by hand)."""
    plan = _plan(plan_id)
    if plan.status is not PlanStatus.DONE:
        abort(409)
    try:
        new = planning.copy_plan(db.session, plan, user=current_user)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=new.id))


@bp.post("/plans/<id:plan_id>/publish")
def plan_publish(plan_id: int):  # type: ignore[no-untyped-def]
    """Publish the plan: lock it, schedule its visits and queue the messages."""
    plan = _plan(plan_id)
    expected = _version_arg()
    if expected is not None and expected != plan.row_version:
        raise plan_review.ConflictError
    try:
        report = publishing.publish_plan(db.session, plan, user=current_user)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    flash(
        _(
            "Published: %(new)d new, %(changed)d changed, %(same)d unchanged, "
            "%(cancelled)d cancelled visits; %(messages)d messages queued.",
            new=report.new,
            changed=report.changed,
            same=report.unchanged,
            cancelled=report.cancelled,
            messages=report.messages,
        ),
        "success",
    )
    return redirect(url_for(".drive_board", drive_id=plan.drive_id))


@bp.get("/plans/<id:plan_id>/compare")
def plan_compare(plan_id: int):  # type: ignore[no-untyped-def]
    """Compare two versions of a drive's plan."""
    plan = _plan(plan_id)
    other_id = parse_id(request.args.get("with"))
    if other_id:
        other = _plan(other_id)
    else:
        # Without a choice, compare with the version it came from, or the one before it.
        earlier = [
            p for p in plan.drive.plans if p.version < plan.version and p.status is PlanStatus.DONE
        ]
        other = plan.based_on or (earlier[-1] if earlier else None)
    if other is None:
        flash(_("There is no other version to compare with."), "info")
        return redirect(url_for(".plan_view", plan_id=plan.id))
    if other.drive_id != plan.drive_id:
        abort(404)
    comparison = plan_review.compare_plans(other, plan, lambda d: format_datetime(d, "EEE HH:mm"))
    return render_template("planning/plan_compare.html", comparison=comparison, plan=plan)


# --- on the day -----------------------------------------------------------------------------


@bp.get("/drives/<id:drive_id>/board")
def drive_board(drive_id: int):  # type: ignore[no-untyped-def]
    """The live board of the published plan, with the drive's SMS problems; it refreshes itself."""
    from volunteer_hub.services.messaging import delivery, templates
    from volunteer_hub.web.sms_labels import sms_label

    drive = _drive(drive_id)
    board = publishing.board(db.session, drive)
    went = {m for v in (board.plan.visits if board.plan else []) if v.team for m in v.team.members}
    return render_template(
        "planning/board.html",
        drive=drive,
        board=board,
        sms=delivery.drive_sms_problems(db.session, drive.id),
        sms_label=sms_label,
        sms_kinds={kind: spec.label for kind, spec in templates.KINDS.items()},
        volunteers=sorted(went, key=lambda m: (m.full_name, m.id)),
    )


@bp.post("/drives/<id:drive_id>/messages/<id:message_id>/decide")
def drive_message_decide(drive_id: int, message_id: int):  # type: ignore[no-untyped-def]
    """Settle a held message of the drive: it was sent, send it again, or drop it."""
    from volunteer_hub.services.messaging import delivery, outbox, reconcile

    drive = _drive(drive_id)
    message = delivery.drive_message(db.session, drive.id, message_id)
    if message is None:
        abort(404)
    decision = request.form.get("decision", "")
    try:
        reconcile.resolve_held(db.session, message, decision, user=current_user, ip=client_ip())
    except outbox.MessagingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".drive_board", drive_id=drive.id, _anchor="sms")), 303
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(".drive_board", drive_id=drive.id, _anchor="sms")), 303


@bp.post("/drives/<id:drive_id>/replan-confirmed")
def drive_replan_confirmed(drive_id: int):  # type: ignore[no-untyped-def]
    """One click after a decline or a drop-out: re-plan, keeping every confirmed visit."""
    drive = _drive(drive_id)
    try:
        plan = publishing.replan_keeping_confirmed(
            db.session, drive, user=current_user, tz=local_zone(), time_limit_s=_time_limit()
        )
    except planning.PlanningError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".drive_board", drive_id=drive.id)), 303
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


# --- route sheets and exports ---------------------------------------------------------------


@bp.get("/plans/<id:plan_id>/sheets")
@bp.get("/plans/<id:plan_id>/sheets/<team_code>")
def route_sheets(plan_id: int, team_code: str | None = None):  # type: ignore[no-untyped-def]
    """Printable route sheets: one page per team (or one team's)."""
    plan = _plan(plan_id)
    sheets = exports.route_sheets(plan)
    if team_code is not None:
        sheets = [s for s in sheets if s.team.code == team_code]
        if not sheets:
            abort(404)
    audit.record(
        db.session,
        action="view",
        entity="route_sheet",
        entity_id=plan.id,
        user=current_user,
        ip=client_ip(),
        detail={"team": team_code},
    )
    db.session.commit()
    return render_template("planning/route_sheets.html", plan=plan, sheets=sheets)


@bp.get("/plans/<id:plan_id>/export.<any(csv, xlsx):fmt>")
def plan_export(plan_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """Export a plan's visits to CSV or Excel."""
    plan = _plan(plan_id)
    audit.record(
        db.session,
        action="export",
        entity="plan",
        entity_id=plan.id,
        user=current_user,
        ip=client_ip(),
        detail={"format": fmt},
    )
    db.session.commit()
    name = f"ke-hoach-{plan.drive_id}-v{plan.version}.{fmt}"
    if fmt == "csv":
        body, mimetype = exports.plan_csv(plan), "text/csv; charset=utf-8"
    else:
        body, mimetype = (
            exports.plan_xlsx(plan),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- outcomes -------------------------------------------------------------------------------


@bp.route("/visits/<id:visit_id>/outcome", methods=["GET", "POST"])
def visit_outcome(visit_id: int):  # type: ignore[no-untyped-def]
    """A coordinator records how a visit went (the volunteer usually does, by their link)."""
    visit = access.visible_visit(db.session, current_user, visit_id)
    back = url_for(".drive_board", drive_id=visit.plan.drive_id)
    if visit.team is None or visit.plan.published_at is None:
        abort(404)
    if request.method == "GET":
        return render_template(
            "outcomes/report.html",
            visit=visit,
            values=outcome_values(visit),
            errors={},
            back=back,
            saved=False,
        )
    try:
        reported = outcomes.record_outcome(
            db.session,
            visit,
            outcomes.parse_outcome(outcome_payload(request.form, visit)),
            tz=local_zone(),
            user=current_user,
        )
    except FieldErrors as exc:
        db.session.rollback()
        return render_template(
            "outcomes/report.html",
            visit=visit,
            values=request.form,
            errors=exc.errors,
            back=back,
            saved=False,
        ), 422
    db.session.commit()
    flash(_("The report is saved."), "success")
    if reported.follow_up is not None:
        flash(
            _(
                "A follow-up request %(code)s is waiting for the next drive.",
                code=reported.follow_up.reference,
            ),
            "info",
        )
    return redirect(back)
