"""Read-only views of the data for coordinators: lists with filters, and headline counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Drive,
    DriveStatus,
    HelpRequest,
    RequestService,
    RequestStatus,
    Service,
    TimeBlock,
    User,
    Volunteer,
    VolunteerStatus,
    utcnow,
)
from volunteer_hub.models.search import contains
from volunteer_hub.services import access


@dataclass(frozen=True)
class RequestFilters:
    """What a coordinator narrows a list of requests by (the request list, a drive's choice)."""

    commune_id: int | None = None
    hamlet_id: int | None = None
    service_code: str | None = None
    status: RequestStatus | None = None
    min_priority: int | None = None
    older_than_days: int | None = None
    text: str | None = None


def filter_requests(
    query: Select[tuple[HelpRequest]], filters: RequestFilters, *, now: datetime | None = None
) -> Select[tuple[HelpRequest]]:
    """Narrow a query of requests by the filters; most urgent and oldest first."""
    if filters.commune_id:
        query = query.where(HelpRequest.commune_id == filters.commune_id)
    if filters.hamlet_id:
        query = query.where(HelpRequest.hamlet_id == filters.hamlet_id)
    if filters.service_code:
        query = query.where(
            HelpRequest.id.in_(
                select(RequestService.request_id)
                .join(Service)
                .where(Service.code == filters.service_code)
            )
        )
    if filters.status:
        query = query.where(HelpRequest.status == filters.status)
    if filters.min_priority:
        query = query.where(HelpRequest.priority >= filters.min_priority)
    if filters.older_than_days:
        cutoff = (now or utcnow()) - timedelta(days=filters.older_than_days)
        query = query.where(HelpRequest.created_at <= cutoff)
    if filters.text and filters.text.strip():
        query = query.where(contains(HelpRequest.search_text, filters.text))
    return query.order_by(HelpRequest.priority.desc(), HelpRequest.created_at, HelpRequest.id)


def requests_query(user: User, filters: RequestFilters) -> Select[tuple[HelpRequest]]:
    """Return the user's visible requests matching the filters, most urgent and oldest first."""
    return filter_requests(access.requests_for(user), filters)


@dataclass(frozen=True)
class VolunteerFilters:
    """What a coordinator narrows the volunteer list by."""

    commune_id: int | None = None
    status: VolunteerStatus | None = None
    text: str | None = None


def volunteers_query(user: User, filters: VolunteerFilters) -> Select[tuple[Volunteer]]:
    """Return the user's visible volunteers matching the filters, by name."""
    query = access.volunteers_for(user)
    if filters.commune_id:
        query = query.where(Volunteer.home_commune_id == filters.commune_id)
    if filters.status:
        query = query.where(Volunteer.status == filters.status)
    if filters.text and filters.text.strip():
        query = query.where(contains(Volunteer.search_text, filters.text))
    return query.order_by(Volunteer.full_name, Volunteer.id)


def first_day_column():  # type: ignore[no-untyped-def]
    """The drive's first time block start, as a correlated subquery to order by."""
    return (
        select(func.min(TimeBlock.starts_at))
        .where(TimeBlock.drive_id == Drive.id)
        .correlate(Drive)
        .scalar_subquery()
    )


def drives_query(user: User) -> Select[tuple[Drive]]:
    """Return the user's visible drives by date, the latest first (undated drafts last)."""
    first_day = first_day_column()
    return access.drives_for(user).order_by(first_day.is_(None), first_day.desc(), Drive.id.desc())


@dataclass
class Overview:
    """Headline counts for a coordinator's home page."""

    requests_by_status: dict[str, int] = field(default_factory=dict)
    urgent_waiting: int = 0
    volunteers_active: int = 0
    volunteers_pending: int = 0
    drives_open: list[Drive] = field(default_factory=list)


def overview(session: Session, user: User) -> Overview:
    """Return the counts a coordinator sees first, for their communes."""
    result = Overview()
    visible = access.requests_for(user).subquery()
    for status, count in session.execute(
        select(visible.c.status, func.count()).group_by(visible.c.status)
    ):
        result.requests_by_status[str(status)] = count
    result.urgent_waiting = (
        session.scalar(
            select(func.count())
            .select_from(visible)
            .where(
                visible.c.priority >= 4,
                visible.c.status.in_([RequestStatus.NEW.value, RequestStatus.TRIAGED.value]),
            )
        )
        or 0
    )
    vols = access.volunteers_for(user).subquery()
    for status, count in session.execute(
        select(vols.c.status, func.count()).group_by(vols.c.status)
    ):
        if status == VolunteerStatus.ACTIVE.value:
            result.volunteers_active = count
        elif status == VolunteerStatus.PENDING.value:
            result.volunteers_pending = count
    result.drives_open = list(
        session.scalars(
            access.drives_for(user)
            .where(
                Drive.status.in_([DriveStatus.DRAFT, DriveStatus.PLANNING, DriveStatus.PUBLISHED])
            )
            .order_by(Drive.created_at.desc())
            .limit(5)
        )
    )
    return result
