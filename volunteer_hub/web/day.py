"""On the day: the live board, held messages, re-planning after a decline, route sheets,
exports and the visits' outcomes."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.labels import volunteer_names
from volunteer_hub.security import client_ip
from volunteer_hub.services import access, audit
from volunteer_hub.services.drives import exports, planning, publishing
from volunteer_hub.web.outcome_forms import outcome_form
from volunteer_hub.web.staff import staff_blueprint, time_limit_arg, visible_drive, visible_plan

bp = staff_blueprint("day", __name__)


@bp.get("/drives/<id:drive_id>/board")
def drive_board(drive_id: int):  # type: ignore[no-untyped-def]
    """The live board of the published plan, with the drive's SMS problems; it refreshes itself."""
    from volunteer_hub.services.messaging import delivery, templates

    drive = visible_drive(drive_id)
    board = publishing.board(db.session, drive)
    went = {m for v in (board.plan.visits if board.plan else []) if v.team for m in v.team.members}
    people = {dv.volunteer_id: dv.volunteer for dv in drive.volunteers}
    for member in went:
        people.setdefault(member.id, member)
    return render_template(
        "planning/board.html",
        drive=drive,
        board=board,
        sms=delivery.drive_sms_problems(db.session, drive.id),
        sms_kinds={kind: spec.label for kind, spec in templates.KINDS.items()},
        volunteers=sorted(went, key=lambda m: (m.full_name, m.id)),
        people=people,
        name_of=volunteer_names(people.values()),
    )


@bp.post("/drives/<id:drive_id>/messages/<id:message_id>/decide")
def drive_message_decide(drive_id: int, message_id: int):  # type: ignore[no-untyped-def]
    """Settle a held message of the drive: it was sent, send it again, or drop it."""
    from volunteer_hub.services.messaging import delivery, outbox, reconcile

    drive = visible_drive(drive_id)
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
    drive = visible_drive(drive_id)
    try:
        plan = publishing.replan_keeping_confirmed(
            db.session, drive, user=current_user, tz=local_zone(), time_limit_s=time_limit_arg()
        )
    except planning.PlanningError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".drive_board", drive_id=drive.id)), 303
    db.session.commit()
    return redirect(url_for("plans.plan_view", plan_id=plan.id))


@bp.get("/plans/<id:plan_id>/sheets")
@bp.get("/plans/<id:plan_id>/sheets/<team_code>")
def route_sheets(plan_id: int, team_code: str | None = None):  # type: ignore[no-untyped-def]
    """Printable route sheets: one page per team (or one team's)."""
    plan = visible_plan(plan_id)
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
    plan = visible_plan(plan_id)
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


@bp.route("/visits/<id:visit_id>/outcome", methods=["GET", "POST"])
def visit_outcome(visit_id: int):  # type: ignore[no-untyped-def]
    """A coordinator records how a visit went (the volunteer usually does, by their link)."""
    visit = access.visible_visit(db.session, current_user, visit_id)
    if visit.team is None or visit.plan.published_at is None:
        abort(404)
    return outcome_form(
        visit, back=url_for(".drive_board", drive_id=visit.plan.drive_id), user=current_user
    )
