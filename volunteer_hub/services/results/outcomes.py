"""What a visit achieved: outcomes per service, people helped, time spent, and follow-ups.

A volunteer reports from their personal link, or a coordinator from the plan. "Not at home",
"partly done" and "referred" create a follow-up request for the next drive, linked to the
original and carrying the reason, so no household is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    HelpRequest,
    Outcome,
    RequestSource,
    RequestStatus,
    User,
    Visit,
    VisitOutcome,
    VisitStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.services.intake.help_requests import new_reference
from volunteer_hub.services.messaging.links import is_latest_published
from volunteer_hub.services.messaging.responses import is_member
from volunteer_hub.services.validation import FieldErrors, Line, Text, parse_model

#: Visits whose outcome can be reported: published, and not called off.
REPORTABLE = (
    VisitStatus.SCHEDULED,
    VisitStatus.CONFIRMED,
    VisitStatus.IN_PROGRESS,
    VisitStatus.DONE,
    VisitStatus.NOT_HOME,
)
#: Outcomes that leave something to do on a later drive.
FOLLOW_UP = (Outcome.NOT_HOME, Outcome.PARTLY_DONE, Outcome.REFERRED)
NEEDS_REASON = (Outcome.REFERRED, Outcome.NOT_POSSIBLE)


class ServiceOutcomeIn(BaseModel):
    """The outcome of one service asked for."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome
    reason: Line | None = Field(default=None, max_length=300)


class OutcomeIn(BaseModel):
    """A visit report."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    services: dict[Annotated[str, Field(max_length=40)], ServiceOutcomeIn] = Field(
        min_length=1, max_length=20
    )
    people_helped: int = Field(default=0, ge=0, le=20)
    minutes_spent: int | None = Field(default=None, ge=0, le=600)
    note: Text | None = Field(default=None, max_length=1000)
    checked_in_at: time | None = None


@dataclass(frozen=True)
class Reported:
    """What a report did."""

    visit: Visit
    follow_up: HelpRequest | None


def parse_outcome(payload: object) -> OutcomeIn:
    """Validate a visit report or raise FieldErrors."""
    return parse_model(OutcomeIn, payload)


def _follow_up(
    session: Session, visit: Visit, pending: dict[str, tuple[Outcome, str | None]], now: datetime
) -> HelpRequest:
    """Create (or update) the request that carries what is left to the next drive."""
    original = visit.request
    by_code = {s.code: s for s in original.services}
    reasons = []
    for code, (outcome, reason) in pending.items():
        text = f"{by_code[code].name_vi}: {outcome.value}"
        reasons.append(f"{text} ({reason})" if reason else text)
    summary = "; ".join(reasons)[:300]
    existing = session.scalar(
        select(HelpRequest).where(
            HelpRequest.follow_up_of_id == original.id,
            HelpRequest.status.in_([RequestStatus.NEW, RequestStatus.TRIAGED]),
        )
    )
    follow = existing or HelpRequest(
        reference=new_reference(session),
        source=RequestSource.FOLLOW_UP,
        status=RequestStatus.TRIAGED,
        follow_up_of=original,
        created_at=now,
        status_changed_at=now,
    )
    for name in (
        "beneficiary_name",
        "age_group",
        "people_count",
        "contact_is_beneficiary",
        "contact_name",
        "contact_relation",
        "phone",
        "phone_is_mobile",
        "reach_note",
        "commune_id",
        "hamlet_id",
        "hamlet_name",
        "house",
        "landmark",
        "lat",
        "lng",
        "location_source",
        "notes",
        "consent_at",
        "consent_version",
    ):
        setattr(follow, name, getattr(original, name))
    follow.situations = list(original.situations)
    follow.languages = list(original.languages)
    # Those not reached are the most at risk of being left behind: one step up, at most 5.
    follow.priority = min(5, original.priority + 1)
    follow.follow_up_reason = summary
    follow.services = [by_code[code] for code in pending]
    session.add(follow)
    session.flush()
    return follow


def has_started(visit: Visit, now: datetime | None = None) -> bool:
    """Return True once the visit's planned start has come."""
    return visit.starts_at is not None and visit.starts_at <= (now or utcnow())


def can_volunteer_report(
    session: Session, visit: Visit, volunteer: Volunteer, *, now: datetime | None = None
) -> bool:
    """Return True when this volunteer may report the visit from their personal link.

    The visit has started, belongs to the drive's newest published plan, the volunteer is in
    its team, and it was not called off.
    """
    return (
        has_started(visit, now)
        and is_latest_published(session, visit)
        and is_member(visit, volunteer.id)
        and visit.status in REPORTABLE
    )


def record_outcome(
    session: Session,
    visit: Visit,
    data: OutcomeIn,
    *,
    tz: ZoneInfo,
    volunteer: Volunteer | None = None,
    user: User | None = None,
    now: datetime | None = None,
) -> Reported:
    """Store a visit report; raise FieldErrors when it does not fit the visit.

    The caller commits.
    """
    now = now or utcnow()
    if visit.status not in REPORTABLE or visit.team is None:
        raise FieldErrors({"_form": [_("This visit cannot be reported.")]})
    asked = {s.code for s in visit.request.services}
    errors: dict[str, list[str]] = {}
    if set(data.services) != asked:
        errors["services"] = [_("Give an outcome for each service asked for.")]
    for code, item in data.services.items():
        if item.outcome in NEEDS_REASON and not item.reason:
            errors[f"services.{code}.reason"] = [
                _("Say where it was referred, or why it was not possible.")
            ]
    all_away = bool(data.services) and all(
        i.outcome is Outcome.NOT_HOME for i in data.services.values()
    )
    if not all_away and data.people_helped < 1:
        errors["people_helped"] = [_("How many people in the house were helped?")]
    if errors:
        raise FieldErrors(errors)

    by_code = {s.code: s for s in visit.request.services}
    existing = {o.service_id: o for o in visit.outcomes}
    for code, item in data.services.items():
        service = by_code[code]
        row = existing.pop(service.id, None) or VisitOutcome(visit=visit, service=service)
        row.outcome = item.outcome
        row.reason = item.reason
        row.recorded_at = now
        session.add(row)
    for stale in existing.values():
        session.delete(stale)
    visit.people_helped = 0 if all_away else data.people_helped
    visit.minutes_spent = data.minutes_spent
    visit.report_note = data.note
    if data.checked_in_at is not None and visit.starts_at is not None:
        day = visit.starts_at.astimezone(tz).date()
        visit.checked_in_at = datetime.combine(day, data.checked_in_at, tz)
    visit.reported_at = now
    visit.status = VisitStatus.NOT_HOME if all_away else VisitStatus.DONE

    outcomes = {item.outcome for item in data.services.values()}
    request = visit.request
    if all_away:
        target = RequestStatus.NOT_HOME
    elif Outcome.REFERRED in outcomes:
        target = RequestStatus.REFERRED
    else:
        target = RequestStatus.DONE
    request.status = target
    request.status_changed_at = now

    pending = {
        code: (i.outcome, i.reason) for code, i in data.services.items() if i.outcome in FOLLOW_UP
    }
    follow = _follow_up(session, visit, pending, now) if pending else None
    audit.record(
        session,
        action="report",
        entity="visit",
        entity_id=visit.id,
        user=user,
        actor=None if user else (f"volunteer:{volunteer.id}" if volunteer else "system"),
        commune_id=request.commune_id,
        detail={
            "outcomes": {c: i.outcome.value for c, i in data.services.items()},
            "follow_up": follow.reference if follow else None,
        },
    )
    session.flush()
    return Reported(visit, follow)
