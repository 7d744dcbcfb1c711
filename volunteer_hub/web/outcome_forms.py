"""The visit report form, shared by the volunteer's personal link and the coordinator's pages."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from volunteer_hub.models import Visit


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
