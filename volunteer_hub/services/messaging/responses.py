"""What volunteers and households answer about a visit, by personal link or SMS reply.

Each answer is recorded as a :class:`VisitResponse` and moves the visit: a volunteer accepts or
declines (with a reason; the visit becomes ``declined`` so the coordinator is offered a
re-plan), a household confirms, cancels or asks for another time. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    REQUEST_TRANSITIONS,
    HelpRequest,
    RequestStatus,
    Visit,
    VisitResponse,
    VisitStatus,
    Volunteer,
    VolunteerAbsence,
    utcnow,
)
from volunteer_hub.models.drives import drive_days
from volunteer_hub.services.messaging.outbox import MessagingError, cancel_queued
from volunteer_hub.services.messaging.settings import sms_settings

#: Visits people may still answer about.
OPEN_STATUSES = frozenset({VisitStatus.SCHEDULED, VisitStatus.CONFIRMED})
MAX_NOTE = 500

VOLUNTEER = "volunteer"
HOUSEHOLD = "household"


class ResponseError(MessagingError):
    """The answer cannot be taken (the visit is over, a reason is missing...)."""


@dataclass(frozen=True)
class Answer:
    """An answer just recorded."""

    response: VisitResponse
    visit: Visit


def _note(text: str | None, *, required: bool) -> str | None:
    value = " ".join((text or "").split())
    if required and not value:
        raise ResponseError(str(_l("Please say why, in a few words.")))
    if len(value) > MAX_NOTE:
        raise ResponseError(str(_l("Please keep it under %(n)d characters.", n=MAX_NOTE)))
    return value or None


def _require_open(visit: Visit, now: datetime) -> None:
    if visit.status not in OPEN_STATUSES:
        raise ResponseError(str(_l("This visit can no longer be changed here.")))
    if visit.ends_at is not None and visit.ends_at < now - timedelta(hours=12):
        raise ResponseError(str(_l("This visit is over.")))


def is_member(visit: Visit, volunteer_id: int | None) -> bool:
    """Return True when the volunteer is in the visit's team."""
    return bool(visit.team and any(m.id == volunteer_id for m in visit.team.members))


def _record(
    session: Session,
    visit: Visit,
    *,
    role: str,
    action: str,
    channel: str,
    now: datetime,
    volunteer_id: int | None = None,
    note: str | None = None,
) -> Answer:
    response = VisitResponse(
        visit_id=visit.id,
        role=role,
        volunteer_id=volunteer_id,
        action=action,
        note=note,
        channel=channel,
        created_at=now,
    )
    session.add(response)
    session.flush()
    return Answer(response=response, visit=visit)


def _move_request(request: HelpRequest, target: RequestStatus, now: datetime) -> None:
    if request.status == target:
        return
    if target in REQUEST_TRANSITIONS.get(RequestStatus(request.status), frozenset()):
        request.status = target
        request.status_changed_at = now


def volunteer_accept(
    session: Session,
    visit: Visit,
    volunteer: Volunteer,
    *,
    channel: str = "link",
    now: datetime | None = None,
) -> Answer:
    """A volunteer says they will go."""
    now = now or utcnow()
    if not is_member(visit, volunteer.id):
        raise ResponseError(str(_l("This visit is not assigned to you.")))
    _require_open(visit, now)
    if visit.volunteer_accepted_at is None:
        visit.volunteer_accepted_at = now
    return _record(
        session,
        visit,
        role=VOLUNTEER,
        action="accept",
        channel=channel,
        now=now,
        volunteer_id=volunteer.id,
    )


#: What a decline can mean: only this visit, or the volunteer cannot come that day / at all.
DECLINE_SCOPES = ("visit", "day", "drive")


def volunteer_decline(
    session: Session,
    visit: Visit,
    volunteer: Volunteer,
    reason: str | None,
    *,
    scope: str = "visit",
    channel: str = "link",
    tz: ZoneInfo | None = None,
    now: datetime | None = None,
) -> Answer:
    """A volunteer cannot go: the visit is ``declined`` until the coordinator re-plans.

    With ``scope`` "day" (or "drive") the volunteer cannot come that day (or any day of the
    drive): their other open visits then are declined too, and the days are recorded as
    dates away, so the re-plan gives their team nothing new on them.
    """
    now = now or utcnow()
    if scope not in DECLINE_SCOPES:
        raise ResponseError(str(_l("Please choose what you cannot do.")))
    if not is_member(visit, volunteer.id):
        raise ResponseError(str(_l("This visit is not assigned to you.")))
    note = _note(reason, required=channel == "link")
    _require_open(visit, now)
    tz = tz or sms_settings().timezone
    drive = visit.plan.drive
    days = drive_days(drive, tz)
    if scope == "day" and visit.starts_at is not None:
        days = [visit.starts_at.astimezone(tz).date()]
    answer = _decline_one(session, visit, volunteer, note, scope, channel, now)
    if scope == "visit":
        return answer
    for other in visit.plan.visits:
        if (
            other.id != visit.id
            and other.status in OPEN_STATUSES
            and is_member(other, volunteer.id)
            and other.starts_at is not None
            and other.starts_at.astimezone(tz).date() in days
        ):
            _decline_one(session, other, volunteer, note, scope, channel, now)
    for day in days:
        if not volunteer.is_away_on(day):
            volunteer.absences.append(
                VolunteerAbsence(first_day=day, last_day=day, note=(note or "")[:200] or None)
            )
    session.flush()
    return answer


def _decline_one(
    session: Session,
    visit: Visit,
    volunteer: Volunteer,
    note: str | None,
    scope: str,
    channel: str,
    now: datetime,
) -> Answer:
    visit.status = VisitStatus.DECLINED
    # Their reminders for this visit would only confuse them now.
    cancel_queued(session, visit_id=visit.id, volunteer_id=volunteer.id, reason="declined")
    answer = _record(
        session,
        visit,
        role=VOLUNTEER,
        action="decline",
        channel=channel,
        now=now,
        volunteer_id=volunteer.id,
        note=note,
    )
    answer.response.scope = scope
    return answer


def volunteer_done(
    session: Session,
    visit: Visit,
    volunteer: Volunteer,
    *,
    channel: str = "sms",
    now: datetime | None = None,
) -> Answer:
    """A volunteer says the visit is done (the quick "XONG" reply; outcomes come later)."""
    now = now or utcnow()
    if not is_member(visit, volunteer.id):
        raise ResponseError(str(_l("This visit is not assigned to you.")))
    if visit.status not in OPEN_STATUSES | {VisitStatus.IN_PROGRESS}:
        raise ResponseError(str(_l("This visit can no longer be changed here.")))
    visit.status = VisitStatus.DONE
    return _record(
        session,
        visit,
        role=VOLUNTEER,
        action="done",
        channel=channel,
        now=now,
        volunteer_id=volunteer.id,
    )


def household_confirm(
    session: Session, visit: Visit, *, channel: str = "link", now: datetime | None = None
) -> Answer:
    """The household will be home."""
    now = now or utcnow()
    _require_open(visit, now)
    visit.status = VisitStatus.CONFIRMED
    if visit.household_confirmed_at is None:
        visit.household_confirmed_at = now
    _move_request(visit.request, RequestStatus.CONFIRMED, now)
    return _record(session, visit, role=HOUSEHOLD, action="confirm", channel=channel, now=now)


def household_cancel(
    session: Session,
    visit: Visit,
    reason: str | None,
    *,
    channel: str = "link",
    now: datetime | None = None,
) -> Answer:
    """The household no longer wants the visit: it is cancelled and the team (and the
    guardian of a minor in it) told."""
    from volunteer_hub.services.messaging.notifications import (
        notify_cancellation,
        notify_guardians,
    )

    now = now or utcnow()
    note = _note(reason, required=False)
    _require_open(visit, now)
    visit.status = VisitStatus.CANCELLED
    _move_request(visit.request, RequestStatus.CANCELLED, now)
    answer = _record(
        session, visit, role=HOUSEHOLD, action="cancel", channel=channel, now=now, note=note
    )
    notify_cancellation(session, visit, version=visit.plan.version, household=False, now=now)
    notify_guardians(session, visit.plan, [visit], now=now)
    return answer


def household_reschedule(
    session: Session,
    visit: Visit,
    note: str | None,
    *,
    channel: str = "link",
    now: datetime | None = None,
) -> Answer:
    """The household cannot be home then: the visit waits for a re-plan, the team is told."""
    from volunteer_hub.services.messaging.notifications import (
        notify_cancellation,
        notify_guardians,
    )

    now = now or utcnow()
    text = _note(note, required=channel == "link")
    _require_open(visit, now)
    visit.status = VisitStatus.DECLINED
    answer = _record(
        session, visit, role=HOUSEHOLD, action="reschedule", channel=channel, now=now, note=text
    )
    notify_cancellation(session, visit, version=visit.plan.version, household=False, now=now)
    notify_guardians(session, visit.plan, [visit], now=now)
    return answer


def household_feedback(
    session: Session, visit: Visit, text: str | None, *, now: datetime | None = None
) -> Answer:
    """The household tells us how the visit went."""
    now = now or utcnow()
    note = _note(text, required=True)
    return _record(
        session, visit, role=HOUSEHOLD, action="feedback", channel="link", now=now, note=note
    )


def responses_for(session: Session, visit_id: int) -> list[VisitResponse]:
    """Return the answers about a visit, oldest first."""
    return list(
        session.scalars(
            select(VisitResponse)
            .where(VisitResponse.visit_id == visit_id)
            .order_by(VisitResponse.created_at, VisitResponse.id)
        )
    )


def declined_by(session: Session, visit_ids: list[int], volunteer_id: int) -> set[int]:
    """Return which of these visits the volunteer declined."""
    if not visit_ids:
        return set()
    return set(
        session.scalars(
            select(VisitResponse.visit_id).where(
                VisitResponse.visit_id.in_(visit_ids),
                VisitResponse.volunteer_id == volunteer_id,
                VisitResponse.action == "decline",
            )
        )
    )


def asked_another_time(session: Session, visit_ids: list[int]) -> set[int]:
    """Return which of these visits their household asked to have at another time."""
    if not visit_ids:
        return set()
    return set(
        session.scalars(
            select(VisitResponse.visit_id).where(
                VisitResponse.visit_id.in_(visit_ids),
                VisitResponse.role == HOUSEHOLD,
                VisitResponse.action == "reschedule",
            )
        )
    )


def pending_replans(session: Session, drive_id: int) -> list[VisitResponse]:
    """Return declines and requests for another time a coordinator has not handled yet."""
    from volunteer_hub.models import Plan

    return list(
        session.scalars(
            select(VisitResponse)
            .join(Visit, Visit.id == VisitResponse.visit_id)
            .join(Plan, Plan.id == Visit.plan_id)
            .where(
                Plan.drive_id == drive_id,
                VisitResponse.action.in_(["decline", "reschedule"]),
                VisitResponse.resolved_at.is_(None),
            )
            .order_by(VisitResponse.created_at)
        )
    )


def resolve_response(
    response: VisitResponse, *, user_id: int | None, now: datetime | None = None
) -> None:
    """Mark a decline as handled (the coordinator re-planned or decided otherwise)."""
    response.resolved_at = now or utcnow()
    response.resolved_by_id = user_id
