"""What a partner app may read back of a request it submitted (GET /api/v1/requests/{ref}).

Only what the household's own status page would say: where the request is, the day and block
of its visit in the drive's newest published plan, and what came of each service. No team, no
volunteer, no other household, and nothing of a plan that is not published.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Drive,
    DriveStatus,
    HelpRequest,
    Plan,
    RequestStatus,
    Role,
    TimeBlock,
    User,
    Visit,
)
from volunteer_hub.services.access import commune_clause
from volunteer_hub.services.intake.help_requests import lookup_reference


def readable_request(session: Session, user: User, reference: str) -> HelpRequest | None:
    """Return the request if this account submitted it (or staff may see it), else None."""
    record = lookup_reference(session, reference)
    if record is None:
        return None
    if record.submitted_by_id == user.id:
        return record
    if user.role is not Role.PARTNER and session.scalar(
        select(HelpRequest.id).where(
            HelpRequest.id == record.id, commune_clause(user, HelpRequest.commune_id)
        )
    ):
        return record
    return None


def published_visit(session: Session, record: HelpRequest) -> Visit | None:
    """Return the request's visit in the newest published plan of a live drive, if any."""
    newest = (
        select(Plan.drive_id, func.max(Plan.version).label("version"))
        .where(Plan.published_at.is_not(None))
        .group_by(Plan.drive_id)
        .subquery()
    )
    return session.scalar(
        select(Visit)
        .join(Plan, Plan.id == Visit.plan_id)
        .join(newest, (newest.c.drive_id == Plan.drive_id) & (newest.c.version == Plan.version))
        .join(Drive, Drive.id == Plan.drive_id)
        .where(Visit.request_id == record.id, Drive.status != DriveStatus.CANCELLED)
        .order_by(Plan.published_at.desc(), Visit.id.desc())
        .limit(1)
    )


def partner_view(session: Session, record: HelpRequest, *, tz: tzinfo) -> dict[str, Any]:
    """Return the request as a partner may see it (the API's RequestStatus)."""
    visit = published_visit(session, record)
    planned: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    if visit is not None and visit.starts_at is not None and visit.team_id is not None:
        block = session.scalar(
            select(TimeBlock)
            .join(Plan, Plan.drive_id == TimeBlock.drive_id)
            .where(
                Plan.id == visit.plan_id,
                TimeBlock.starts_at <= visit.starts_at,
                TimeBlock.ends_at > visit.starts_at,
            )
            .order_by(TimeBlock.starts_at)
            .limit(1)
        )
        planned = {
            "day": visit.starts_at.astimezone(tz).date().isoformat(),
            "block": {
                "starts_at": block.starts_at.astimezone(tz).isoformat(),
                "ends_at": block.ends_at.astimezone(tz).isoformat(),
            }
            if block is not None
            else None,
            "status": visit.status.value,
        }
    if visit is not None and (visit.reported_at is not None or visit.outcomes):
        outcome = {
            "reported_at": visit.reported_at.isoformat() if visit.reported_at else None,
            "people_helped": visit.people_helped,
            "services": [
                {"service": o.service.code if o.service else None, "outcome": o.outcome.value}
                for o in sorted(visit.outcomes, key=lambda o: o.service_id)
            ],
        }
    return {
        "reference": record.reference,
        "status": record.status.value,
        "priority": record.priority,
        "created_at": record.created_at.isoformat(),
        "commune": record.commune.code,
        "services": [s.code for s in record.services],
        "planned": planned,
        "outcome": outcome,
    }


@dataclass(frozen=True)
class HouseholdStatus:
    """Where a request stands, as its household may read it without an account."""

    reference: str
    #: received, planned, done, not_home or cancelled
    state: str
    day: date | None = None
    afternoon: bool = False


def household_status(
    session: Session, reference: str, phone_last4: str, *, tz: tzinfo
) -> HouseholdStatus | None:
    """Return the status of the request with this reference and phone ending, else None.

    A wrong reference, a wrong ending and a request without a phone all give None, so the
    page cannot tell which half was wrong (nothing to enumerate).
    """
    digits = "".join(phone_last4.split())
    record = lookup_reference(session, reference)
    if (
        record is None
        or len(digits) != 4
        or not digits.isdigit()
        or not record.phone
        or not hmac.compare_digest(record.phone[-4:], digits)
    ):
        return None
    status = record.status
    if status is RequestStatus.CANCELLED:
        return HouseholdStatus(record.reference, "cancelled")
    if status in (RequestStatus.DONE, RequestStatus.REFERRED):
        return HouseholdStatus(record.reference, "done")
    if status is RequestStatus.NOT_HOME:
        return HouseholdStatus(record.reference, "not_home")
    if status in (RequestStatus.SCHEDULED, RequestStatus.CONFIRMED):
        visit = published_visit(session, record)
        if visit is not None and visit.starts_at is not None and visit.team_id is not None:
            local = visit.starts_at.astimezone(tz)
            return HouseholdStatus(record.reference, "planned", local.date(), local.hour >= 12)
    return HouseholdStatus(record.reference, "received")
