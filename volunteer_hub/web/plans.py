"""Coordinators plan a drive: start the planner, review and change a version, compare, publish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.labels import volunteer_names
from volunteer_hub.models import Plan, PlanStatus
from volunteer_hub.services.drives import exports, plan_review, planning, publishing, teams
from volunteer_hub.services.messaging import templates
from volunteer_hub.services.validation import parse_id
from volunteer_hub.web.staff import (
    staff_blueprint,
    time_limit_arg,
    version_arg,
    visible_drive,
    visible_plan,
)

bp = staff_blueprint("plans", __name__)


@bp.post("/drives/<id:drive_id>/plans")
def plan_start(drive_id: int):  # type: ignore[no-untyped-def]
    """Queue a new plan version; the worker solves it."""
    drive = visible_drive(drive_id)
    try:
        plan = planning.start_plan(
            db.session, drive, user=current_user, tz=local_zone(), time_limit_s=time_limit_arg()
        )
    except planning.PlanningError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("coordinator.drive_detail", drive_id=drive.id)), 303
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


@bp.get("/plans/<id:plan_id>")
def plan_view(plan_id: int):  # type: ignore[no-untyped-def]
    """Show a plan: its progress while the planner runs, then the review (map and teams)."""
    plan = visible_plan(plan_id)
    if plan.status in (PlanStatus.QUEUED, PlanStatus.RUNNING):
        return render_template(
            "planning/plan_progress.html", plan=plan, progress=planning.progress_of(plan)
        )
    return render_template("planning/plan_review.html", **_review_context(plan))


def _review_context(
    plan: Plan, errors: list[str] | None = None, room: list[str] | None = None
) -> dict[str, Any]:
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
    requests_by_ref = {dr.request.reference: dr.request for dr in plan.drive.requests}
    duplicates = [
        {"request": requests_by_ref[ref], "original": original}
        for ref, original in sorted((plan.params or {}).get("duplicates", {}).items())
        if ref in requests_by_ref
    ]
    return {
        "days": [(d.isoformat(), format_date(d, "EEEE dd/MM")) for d in days],
        "duplicates": duplicates,
        "plan": plan,
        "drive": plan.drive,
        "routes": routes,
        "team_rows": team_rows,
        "name_of": volunteer_names(m for t in team_rows for m in t.members),
        "left_out": sorted(left_out, key=lambda v: -v.request.priority),
        "stats": (plan.result or {}).get("stats", {}),
        "others": others,
        "errors": errors or [],
        "room": room,
        "editable": plan.status is PlanStatus.DONE and not plan.is_locked,
        "published": publishing.latest_published(db.session, plan.drive),
    }


@bp.get("/plans/<id:plan_id>/progress.json")
def plan_progress(plan_id: int):  # type: ignore[no-untyped-def]
    """Report the planner's progress (polled by the progress bar)."""
    return jsonify(planning.progress_of(visible_plan(plan_id)))


@bp.post("/plans/<id:plan_id>/stop")
def plan_stop(plan_id: int):  # type: ignore[no-untyped-def]
    """Stop the search early and keep the best plan found so far."""
    plan = visible_plan(plan_id)
    planning.request_stop(db.session, plan)
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=plan.id))


TEAM_COLOURS = 12


@bp.get("/plans/<id:plan_id>/map.json")
def plan_map(plan_id: int):  # type: ignore[no-untyped-def]
    """Return the plan as map data: each team's stops and route, and what was left out."""
    plan = visible_plan(plan_id)
    return jsonify(exports.map_data(plan, TEAM_COLOURS, lambda d: format_datetime(d, "HH:mm")))


def _refused(plan: Plan, reasons: list[str], room: list[str] | None = None):  # type: ignore[no-untyped-def]
    db.session.rollback()
    context = _review_context(plan, reasons, room)
    return render_template("planning/plan_review.html", **context), 422


@bp.post("/plans/<id:plan_id>/visits/<reference>/move")
def visit_move(plan_id: int, reference: str):  # type: ignore[no-untyped-def]
    """Move a visit to another team or time, or unassign it; refused when a rule breaks."""
    plan = visible_plan(plan_id)
    team_code = request.form.get("team_code") or None
    try:
        start = plan_review.requested_start(
            plan, reference, request.form.get("start"), request.form.get("day"), local_zone()
        )
    except plan_review.EditRefused as exc:
        return _refused(plan, exc.reasons)
    try:
        plan_review.move_visit(
            db.session,
            plan,
            reference,
            team_code=team_code,
            user=current_user,
            expected_version=version_arg(),
            start=start,
        )
    except plan_review.EditRefused as exc:
        room = None
        if team_code is not None:
            # Where the visit does fit (at that time): every other team tried, checker judging.
            room = plan_review.teams_with_room(plan, reference, start=start, skip=team_code)
        return _refused(plan, exc.reasons, room)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(".plan_view", plan_id=plan.id))


@bp.post("/plans/<id:plan_id>/visits/<reference>/pin")
def visit_pin(plan_id: int, reference: str):  # type: ignore[no-untyped-def]
    """Pin a visit to its team, or release it."""
    plan = visible_plan(plan_id)
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
            expected_version=version_arg(),
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
    plan = visible_plan(plan_id)
    try:
        new = planning.start_plan(
            db.session,
            plan.drive,
            user=current_user,
            tz=local_zone(),
            time_limit_s=time_limit_arg(),
            based_on=plan,
        )
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=new.id))


@bp.post("/plans/<id:plan_id>/revise")
def plan_revise(plan_id: int):  # type: ignore[no-untyped-def]
    """Start a new, editable version from a published one (to change it by hand)."""
    plan = visible_plan(plan_id)
    if plan.status is not PlanStatus.DONE:
        abort(409)
    try:
        new = planning.copy_plan(db.session, plan, user=current_user)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    return redirect(url_for(".plan_view", plan_id=new.id))


@bp.get("/plans/<id:plan_id>/publish")
def plan_publish_preview(plan_id: int):  # type: ignore[no-untyped-def]
    """Ask first: what publishing would send, and which told visits it moves or drops."""
    plan = visible_plan(plan_id)
    try:
        preview = publishing.preview_publish(db.session, plan, user=current_user)
    except planning.PlanningError as exc:
        # Nothing to ask about (already published, no visits, …): say why on the plan itself.
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".plan_view", plan_id=plan.id))
    finally:
        # The preview published for real to count the messages: keep none of it.
        db.session.rollback()
    return render_template(
        "planning/publish_preview.html",
        plan=plan,
        preview=preview,
        sms_kinds={kind: spec.label for kind, spec in templates.KINDS.items()},
    )


@bp.post("/plans/<id:plan_id>/publish")
def plan_publish(plan_id: int):  # type: ignore[no-untyped-def]
    """Publish the plan: lock it, schedule its visits and queue the messages."""
    plan = visible_plan(plan_id)
    expected = version_arg()
    if expected is not None and expected != plan.row_version:
        raise plan_review.ConflictError
    try:
        report = publishing.publish_plan(db.session, plan, user=current_user)
    except planning.PlanningError as exc:
        return _refused(plan, [str(exc)])
    db.session.commit()
    flash(
        _(
            "Published: %(new)s new, %(changed)s changed, %(same)s unchanged, "
            "%(cancelled)s cancelled visits; %(messages)s messages queued.",
            new=format_decimal(report.new),
            changed=format_decimal(report.changed),
            same=format_decimal(report.unchanged),
            cancelled=format_decimal(report.cancelled),
            messages=format_decimal(report.messages),
        ),
        "success",
    )
    return redirect(url_for("day.drive_board", drive_id=plan.drive_id))


@bp.get("/plans/<id:plan_id>/compare")
def plan_compare(plan_id: int):  # type: ignore[no-untyped-def]
    """Compare two versions of a drive's plan."""
    plan = visible_plan(plan_id)
    other_id = parse_id(request.args.get("with"))
    other = visible_plan(other_id) if other_id else plan_review.default_comparison(plan)
    if other is None:
        flash(_("There is no other version to compare with."), "info")
        return redirect(url_for(".plan_view", plan_id=plan.id))
    if other.drive_id != plan.drive_id:
        abort(404)
    comparison = plan_review.compare_plans(other, plan, lambda d: format_datetime(d, "EEE HH:mm"))
    return render_template("planning/plan_compare.html", comparison=comparison, plan=plan)
