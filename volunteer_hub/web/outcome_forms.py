"""The visit report form, shared by the volunteer's personal link and the coordinator's pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.models import User, Visit, Volunteer
from volunteer_hub.services.results import outcomes
from volunteer_hub.services.validation import FieldErrors


def outcome_payload(form: MultiDict[str, str], visit: Visit) -> dict[str, Any]:
    """Turn the report form into the OutcomeIn payload."""
    services: dict[str, Any] = {}
    for service in visit.request.services:
        outcome = (form.get(f"outcome_{service.code}") or "").strip()
        if outcome:
            reason = (form.get(f"reason_{service.code}") or "").strip() or None
            services[service.code] = {"outcome": outcome, "reason": reason}
    payload: dict[str, Any] = {"services": services}
    for name in ("people_helped", "minutes_spent"):
        value = (form.get(name) or "").strip()
        if value:
            payload[name] = value
    note = (form.get("note") or "").strip()
    if note:
        payload["note"] = note
    checked_in = (form.get("checked_in_at") or "").strip()
    if checked_in:
        payload["checked_in_at"] = checked_in
    return payload


def outcome_values(visit: Visit) -> MultiDict[str, str]:
    """What the form shows for a visit already reported (or sensible defaults)."""
    values: MultiDict[str, str] = MultiDict()
    for outcome in visit.outcomes:
        values[f"outcome_{outcome.service.code}"] = outcome.outcome.value
        values[f"reason_{outcome.service.code}"] = outcome.reason or ""
    values["people_helped"] = str(
        visit.people_helped if visit.people_helped is not None else visit.request.people_count
    )
    if visit.minutes_spent is not None:
        values["minutes_spent"] = str(visit.minutes_spent)
    if visit.report_note:
        values["note"] = visit.report_note
    return values


def outcome_form(
    visit: Visit,
    *,
    back: str,
    user: User | None = None,
    volunteer: Volunteer | None = None,
    before_commit: Callable[[], None] | None = None,
) -> Any:
    """Show the report form for a visit, or save what it sent (422 with the errors if wrong).

    Who reports is ``user`` (a coordinator) or ``volunteer`` (from their link); the caller has
    checked that they may. ``before_commit`` runs in the same transaction as the report.
    """

    def page(values: MultiDict[str, str], errors: dict[str, list[str]]) -> str:
        return render_template(
            "outcomes/report.html",
            visit=visit,
            values=values,
            errors=errors,
            back=back,
            saved=False,
        )

    # Like the volunteer's link: nothing is reported (least of all "done") before the visit's
    # time has come. The link checks this before it gets here; the coordinator's pages do here.
    not_yet = {"_form": [_("This visit has not started yet: report it once its time has come.")]}
    if request.method == "GET":
        return page(outcome_values(visit), {} if outcomes.has_started(visit) else not_yet)
    if not outcomes.has_started(visit):
        return page(request.form, not_yet), 422
    try:
        reported = outcomes.record_outcome(
            db.session,
            visit,
            outcomes.parse_outcome(outcome_payload(request.form, visit)),
            tz=local_zone(),
            user=user,
            volunteer=volunteer,
        )
    except FieldErrors as exc:
        db.session.rollback()
        return page(request.form, exc.errors), 422
    if before_commit is not None:
        before_commit()
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
