"""Weekend drives: setting one up, choosing its requests, and what the public forms offer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from volunteer_hub.models import (
    Commune,
    Drive,
    DriveRequest,
    DriveService,
    DriveStatus,
    HelpRequest,
    MeetingPoint,
    RequestStatus,
    Service,
    TimeBlock,
    User,
    utcnow,
)
from volunteer_hub.services import access, audit
from volunteer_hub.services.overview import RequestFilters, filter_requests
from volunteer_hub.services.reference.places import VIETNAM_LAT, VIETNAM_LNG
from volunteer_hub.services.validation import (
    FieldErrors,
    Line,
    Text,
    checked_moment,
    is_code,
    parse_model,
)

#: Drives whose time blocks households may choose on the request form.
OPEN_STATUSES = (DriveStatus.DRAFT, DriveStatus.PLANNING, DriveStatus.PUBLISHED)
#: Requests a drive may include.
INCLUDABLE = (RequestStatus.NEW, RequestStatus.TRIAGED)


def upcoming_blocks(
    session: Session, *, now: datetime | None = None, limit: int = 24
) -> list[TimeBlock]:
    """Return the time blocks of open drives that have not started yet, soonest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(TimeBlock)
            .join(Drive)
            .where(TimeBlock.starts_at > now, Drive.status.in_(OPEN_STATUSES))
            .options(selectinload(TimeBlock.drive).selectinload(Drive.communes))
            .order_by(TimeBlock.starts_at, TimeBlock.id)
            .limit(limit)
        )
    )


class BlockIn(BaseModel):
    """A block of a drive day, in local time."""

    model_config = ConfigDict(extra="forbid")

    day: date
    start: time
    end: time


class MeetingPointIn(BaseModel):
    """Where teams gather."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line = Field(min_length=1, max_length=160)
    address: Line | None = Field(default=None, max_length=300)
    lat: float = Field(ge=VIETNAM_LAT[0], le=VIETNAM_LAT[1])
    lng: float = Field(ge=VIETNAM_LNG[0], le=VIETNAM_LNG[1])


class DriveIn(BaseModel):
    """A drive as the coordinator sets it up."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line = Field(min_length=1, max_length=160)
    communes: list[Annotated[str, Field(max_length=8)]] = Field(min_length=1, max_length=20)
    blocks: list[BlockIn] = Field(min_length=1, max_length=8)
    meeting_points: list[MeetingPointIn] = Field(default_factory=list, max_length=6)
    team_size: int = Field(default=2, ge=1, le=2)
    unaccented_sms: bool = True
    service_minutes: dict[
        Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=5, le=240)]
    ] = Field(default_factory=dict, max_length=30)
    notes: Text | None = Field(default=None, max_length=1000)


def parse_drive(payload: object) -> DriveIn:
    """Validate a drive set-up payload or raise FieldErrors."""
    return parse_model(DriveIn, payload)


def _calendar_problem(starts: datetime, ends: datetime, now: datetime) -> str | None:
    """A block beyond ``FAR_AHEAD``, or at an end of the calendar UTC cannot hold (year 1)."""
    try:
        checked_moment(starts, now=now)
        checked_moment(ends, now=now)
    except ValueError as exc:
        return str(exc)
    return None


def save_drive(
    session: Session,
    data: DriveIn,
    *,
    user: User,
    tz: ZoneInfo,
    drive: Drive | None = None,
    now: datetime | None = None,
) -> Drive:
    """Create a drive, or update one not yet published; raise FieldErrors on bad input."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    codes = [code for code in data.communes if is_code(code)]
    communes = list(session.scalars(select(Commune).where(Commune.code.in_(codes))))
    if len(communes) != len(set(data.communes)):
        errors["communes"] = [_("Choose communes from the list.")]
    elif any(not user.can_see_commune(c.id) for c in communes):
        errors["communes"] = [_("This commune is not one of yours.")]
    blocks = []
    for index, block in enumerate(data.blocks):
        starts = datetime.combine(block.day, block.start, tz)
        ends = datetime.combine(block.day, block.end, tz)
        if ends <= starts:
            errors[f"blocks.{index}"] = [_("A block must end after it starts.")]
        elif ends - starts > timedelta(hours=10):
            errors[f"blocks.{index}"] = [_("A block lasts at most 10 hours.")]
        elif (problem := _calendar_problem(starts, ends, now)) is not None:
            errors[f"blocks.{index}"] = [problem]
        elif drive is None and starts < now - timedelta(days=1):
            errors[f"blocks.{index}"] = [_("This block is in the past.")]
        blocks.append((starts, ends))
    ordered = sorted(blocks)
    for (_s1, e1), (s2, _e2) in zip(ordered, ordered[1:], strict=False):
        if s2 < e1:
            errors["blocks"] = [_("Two blocks overlap.")]
    service_codes = [code for code in data.service_minutes if is_code(code)]
    services = {
        s.code: s for s in session.scalars(select(Service).where(Service.code.in_(service_codes)))
    }
    if len(services) != len(data.service_minutes):
        errors["service_minutes"] = [_("Choose services from the catalogue.")]
    if drive is not None and drive.status not in (DriveStatus.DRAFT, DriveStatus.PLANNING):
        errors["_form"] = [_("A published drive can no longer be changed here.")]
    if errors:
        raise FieldErrors(errors)

    creating = drive is None
    drive = drive or Drive(created_by_id=user.id, status=DriveStatus.DRAFT)
    drive.name = data.name
    drive.communes = communes
    drive.team_size = data.team_size
    drive.unaccented_sms = data.unaccented_sms
    drive.notes = data.notes
    wanted = {(s, e) for s, e in blocks}
    drive.blocks = [b for b in drive.blocks if (b.starts_at, b.ends_at) in wanted] + [
        TimeBlock(starts_at=s, ends_at=e)
        for s, e in sorted(wanted)
        if (s, e) not in {(b.starts_at, b.ends_at) for b in drive.blocks}
    ]
    kept = {m.name: m for m in drive.meeting_points}
    points = []
    for point in data.meeting_points:
        existing = kept.get(point.name) or MeetingPoint()
        existing.name, existing.address, existing.lat, existing.lng = (
            point.name,
            point.address,
            point.lat,
            point.lng,
        )
        points.append(existing)
    drive.meeting_points = points
    drive.service_minutes = [
        DriveService(service=services[code], minutes=minutes)
        for code, minutes in data.service_minutes.items()
        if services[code].usual_min != minutes
    ]
    session.add(drive)
    session.flush()
    audit.record(
        session,
        action="create" if creating else "update",
        entity="drive",
        entity_id=drive.id,
        user=user,
        detail={"communes": [c.code for c in communes]},
    )
    return drive


def candidate_requests(
    drive: Drive, user: User, filters: RequestFilters, *, now: datetime | None = None
) -> Select[tuple[HelpRequest]]:
    """Return open requests of the drive's communes (within the user's scope), filtered."""
    now = now or utcnow()
    query = access.requests_for(user).where(
        HelpRequest.commune_id.in_(sorted(drive.commune_ids)),
        HelpRequest.status.in_(INCLUDABLE),
    )
    return filter_requests(query, filters, now=now)


def include_requests(
    session: Session, drive: Drive, request_ids: list[int], *, user: User, include: bool = True
) -> int:
    """Add requests to the drive (or take them out); return how many changed."""
    allowed = {
        r.id: r
        for r in session.scalars(
            candidate_requests(drive, user, RequestFilters()).where(HelpRequest.id.in_(request_ids))
        )
    }
    current = {dr.request_id: dr for dr in drive.requests}
    changed = 0
    for request_id in request_ids:
        if include and request_id in allowed and request_id not in current:
            drive.requests.append(DriveRequest(request=allowed[request_id]))
            changed += 1
        elif not include and request_id in current:
            drive.requests.remove(current[request_id])
            changed += 1
    if changed:
        audit.record(
            session,
            action="update",
            entity="drive",
            entity_id=drive.id,
            user=user,
            detail={"include" if include else "exclude": sorted(request_ids)[:200]},
        )
    session.flush()
    return changed


def triage_requests(
    session: Session,
    request_ids: list[int],
    *,
    user: User,
    priority: int | None = None,
    status: RequestStatus | None = None,
    now: datetime | None = None,
) -> int:
    """Bulk triage: mark requests triaged (or cancelled) and/or set their priority."""
    now = now or utcnow()
    if priority is not None and not 1 <= priority <= 5:
        raise FieldErrors({"priority": [_("Choose a priority from 1 to 5.")]})
    if status not in (None, RequestStatus.TRIAGED, RequestStatus.CANCELLED, RequestStatus.NEW):
        raise FieldErrors({"status": [_("Choose one of the options.")]})
    changed = 0
    for record in session.scalars(access.requests_for(user).where(HelpRequest.id.in_(request_ids))):
        if record.status not in INCLUDABLE:
            continue
        if priority is not None:
            record.priority = priority
        if status is not None and record.status != status:
            record.status = status
            record.status_changed_at = now
        changed += 1
        audit.record(
            session,
            action="update",
            entity="help_request",
            entity_id=record.id,
            user=user,
            commune_id=record.commune_id,
            detail={"priority": priority, "status": status.value if status else None},
        )
    session.flush()
    return changed
