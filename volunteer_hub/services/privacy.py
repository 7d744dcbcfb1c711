"""Retention: personal details are removed some days after they were last needed.

Households: ``VH_RETENTION_DAYS`` after their last visit. Volunteers (and a minor's guardian):
``VH_VOLUNTEER_RETENTION_DAYS`` after their last drive or their sign-up. Counts survive
(commune, hamlet, services, outcomes, people helped, priority, age group, hours), so reports
keep their figures; names, phones, addresses, exact locations, notes and the texts of messages
go, from every copy the app keeps: the records, the SMS outbox and inbox, visit notes, the
planner problem and result JSON of every plan version (a purged household's point becomes its
hamlet's or commune's centre), and the free-text parts of audit details. The app keeps no export
on disk (downloads are built in memory), so there is no file to remove.
Decree 13/2023 asks that personal data be kept no longer than needed for its purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    AuditEvent,
    DriveRequest,
    DriveVolunteer,
    HelpRequest,
    InboundMessage,
    MeetingPoint,
    Message,
    PersonalLink,
    PhoneVerification,
    Plan,
    RequestStatus,
    Team,
    TimeBlock,
    Visit,
    VisitResponse,
    Volunteer,
    VolunteerStatus,
    team_member,
    utcnow,
)
from volunteer_hub.services import audit

logger = logging.getLogger("volunteer_hub.privacy")

#: What stands in for a removed name (the column cannot be empty).
REMOVED = "—"
ENDED = (
    RequestStatus.DONE,
    RequestStatus.NOT_HOME,
    RequestStatus.REFERRED,
    RequestStatus.CANCELLED,
)


class RetentionError(ValueError):
    """The retention setting is not a usable number of days."""


def retention_days(config: Mapping[str, Any], key: str = "RETENTION_DAYS") -> int:
    """Return ``RETENTION_DAYS`` (or ``key``) from the config; raise RetentionError if wrong."""
    value = config.get(key)
    # From the environment it is whatever JSON made of it: 180, "180", "soon", 1.5, true...
    usable = isinstance(value, int | str) and not isinstance(value, bool)
    text = str(value).strip() if usable else ""
    if not text.isdigit() or int(text) < 1:
        raise RetentionError(
            f"VH_{key} must be a whole number of days, at least 1 (it is {value!r})"
        )
    return int(text)


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or would remove, in a dry run)."""

    requests: int
    messages: int
    inbound: int
    cutoff: datetime
    dry_run: bool
    #: The purged requests' reference codes (not personal: they name no one).
    references: tuple[str, ...] = field(default=(), repr=False)


def due_for_purge(session: Session, cutoff: datetime) -> list[HelpRequest]:
    """Return ended requests whose last visit (or last change) is older than the cutoff."""
    last_visit = (
        select(Visit.request_id, func.max(Visit.ends_at).label("last"))
        .group_by(Visit.request_id)
        .subquery()
    )
    rows = session.execute(
        select(HelpRequest, last_visit.c.last)
        .outerjoin(last_visit, last_visit.c.request_id == HelpRequest.id)
        .where(HelpRequest.contact_purged_at.is_(None), HelpRequest.status.in_(ENDED))
    ).all()
    due = []
    for request, last in rows:
        latest = max(t for t in (last, request.status_changed_at) if t is not None)
        if latest.tzinfo is None:  # SQLite's MAX() hands back the stored UTC text as naive
            latest = latest.replace(tzinfo=cutoff.tzinfo)
        if latest < cutoff:
            due.append(request)
    return due


def purge_contacts(
    session: Session,
    *,
    days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str = "system",
) -> PurgeReport:
    """Remove contact details of households last visited more than ``days`` ago.

    The caller commits.
    """
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    requests = due_for_purge(session, cutoff)
    ids = [r.id for r in requests]
    phones = {r.phone for r in requests if r.phone}
    messages = (
        session.scalar(select(func.count()).select_from(Message).where(Message.request_id.in_(ids)))
        or 0
    )
    inbound = (
        session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.from_phone.in_(phones), InboundMessage.received_at < cutoff)
        )
        or 0
    )
    if not dry_run and ids:
        for request in requests:
            request.beneficiary_name = REMOVED
            for name in (
                "contact_name",
                "contact_relation",
                "phone",
                "reach_note",
                "hamlet_name",
                "house",
                "landmark",
                "lat",
                "lng",
                "notes",
                "follow_up_reason",
            ):
                setattr(request, name, None)
            request.phone_is_mobile = False
            request.contact_purged_at = now
        session.execute(
            update(Message)
            .where(Message.request_id.in_(ids))
            .values(body="", to_phone="", sealed_body=None)
            .execution_options(synchronize_session=False)
        )
        visit_ids = select(Visit.id).where(Visit.request_id.in_(ids))
        session.execute(
            update(Visit)
            .where(Visit.request_id.in_(ids))
            .values(report_note=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(VisitResponse)
            .where(VisitResponse.visit_id.in_(visit_ids))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PersonalLink)
            .where(PersonalLink.request_id.in_(ids), PersonalLink.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        if phones:
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.from_phone.in_(phones), InboundMessage.received_at < cutoff)
                .values(body="", from_phone="")
                .execution_options(synchronize_session=False)
            )
        session.flush()
        plans = scrub_plans(session, request_ids=ids)
        audits = scrub_audit(session, "help_request", ids)
        audit.record(
            session,
            action="purge",
            entity="help_request",
            actor=actor,
            detail={
                "requests": len(ids),
                "messages": messages,
                "inbound": inbound,
                "plans": plans,
                "audit_events": audits,
                "days": days,
            },
        )
        session.flush()
        logger.info(
            "purge by %s: contact details of %d request(s) removed, %d SMS and %d inbound "
            "text(s) blanked (last visit before %s, %d days)",
            actor,
            len(ids),
            messages,
            inbound,
            cutoff.isoformat(timespec="seconds"),
            days,
        )
    references = tuple(sorted(r.reference for r in requests))
    return PurgeReport(len(ids), messages, inbound, cutoff, dry_run, references)


#: Keys of a plan JSON object that hold a place.
PLACE_KEYS = ("location", "lat", "lng", "start", "end", "point", "pin")
#: Keys of an audit event's detail that may hold free text about a person.
PERSONAL_DETAIL_KEYS = frozenset(
    {
        "name",
        "full_name",
        "beneficiary_name",
        "contact_name",
        "phone",
        "guardian_name",
        "guardian_phone",
        "note",
        "notes",
        "reason",
        "address",
        "house",
        "landmark",
        "lat",
        "lng",
        "text",
        "body",
        "before",
        "after",
    }
)


def _point(lat: float | None, lng: float | None) -> dict[str, float] | None:
    return {"lat": lat, "lng": lng} if lat is not None and lng is not None else None


def _area_point(record: HelpRequest) -> dict[str, float] | None:
    """The centre of a purged household's hamlet (else its commune): an area, not a door."""
    if record.hamlet is not None and record.hamlet.lat is not None:
        return _point(record.hamlet.lat, record.hamlet.lng)
    return _point(record.commune.lat, record.commune.lng)


def _volunteer_area(volunteer: Volunteer) -> dict[str, float] | None:
    if volunteer.home_hamlet is not None and volunteer.home_hamlet.lat is not None:
        return _point(volunteer.home_hamlet.lat, volunteer.home_hamlet.lng)
    return _point(volunteer.home_commune.lat, volunteer.home_commune.lng)


def _replace_places(node: Any, places: Mapping[str, dict[str, float] | None]) -> Any:
    """Return the JSON with every place of an object whose visit id is in ``places`` replaced.

    Walks the whole document, so a map pin or any later extension naming the visit (``id``
    or ``visit``) loses its exact point too.
    """
    if isinstance(node, list):
        return [_replace_places(item, places) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("visit") if isinstance(node.get("visit"), str) else node.get("id")
    out = {}
    for key, value in node.items():
        if isinstance(ref, str) and ref in places and key in ("location", "point", "pin"):
            out[key] = places[ref]
        elif isinstance(ref, str) and ref in places and key in ("lat", "lng"):
            area = places[ref]
            out[key] = area[key] if area else None
        else:
            out[key] = _replace_places(value, places)
    return out


def _replace_team_starts(
    problem: dict[str, Any],
    members: Mapping[str, dict[str, float] | None],
    meeting_points: list[dict[str, float]],
) -> dict[str, Any]:
    """Return the problem with a team start or end at a purged member's home made an area."""
    teams = []
    for team in problem.get("teams", []) or []:
        if not isinstance(team, dict):
            teams.append(team)
            continue
        purged = [str(m) for m in team.get("members", []) or [] if str(m) in members]
        if purged:
            team = dict(team)
            for key in ("start", "end"):
                place = team.get(key)
                if isinstance(place, dict) and place not in meeting_points:
                    team[key] = members[purged[0]]
        teams.append(team)
    return {**problem, "teams": teams} if "teams" in problem else problem


def scrub_plans(
    session: Session,
    *,
    request_ids: list[int] | None = None,
    volunteers: list[Volunteer] | None = None,
) -> int:
    """Remove the exact places of purged households and volunteers from every plan's JSON.

    Every plan of a drive that included one of them is looked at (its problem and its
    result); households purged before, whose plans were not scrubbed then, are taken along.
    Returns how many plans changed. The caller commits.
    """
    request_ids = list(request_ids or [])
    volunteers = list(volunteers or [])
    purged_requests = list(
        session.scalars(
            select(HelpRequest).where(
                or_(HelpRequest.id.in_(request_ids), HelpRequest.contact_purged_at.is_not(None))
            )
        )
    )
    places = {r.reference: _area_point(r) for r in purged_requests}
    purged_volunteers = volunteers + list(
        session.scalars(
            select(Volunteer).where(
                Volunteer.contact_purged_at.is_not(None),
                Volunteer.id.not_in([v.id for v in volunteers]),
            )
        )
    )
    members = {str(v.id): _volunteer_area(v) for v in purged_volunteers}
    drive_ids: set[int] = set()
    if purged_requests:
        drive_ids.update(
            session.scalars(
                select(DriveRequest.drive_id).where(
                    DriveRequest.request_id.in_([r.id for r in purged_requests])
                )
            )
        )
    if purged_volunteers:
        ids = [v.id for v in purged_volunteers]
        drive_ids.update(
            session.scalars(
                select(DriveVolunteer.drive_id).where(DriveVolunteer.volunteer_id.in_(ids))
            )
        )
        drive_ids.update(
            session.scalars(
                select(Team.drive_id)
                .join(team_member, team_member.c.team_id == Team.id)
                .where(team_member.c.volunteer_id.in_(ids))
            )
        )
    if not drive_ids:
        return 0
    meeting: dict[int, list[dict[str, float]]] = {}
    for point in session.scalars(select(MeetingPoint).where(MeetingPoint.drive_id.in_(drive_ids))):
        meeting.setdefault(point.drive_id, []).append({"lat": point.lat, "lng": point.lng})
    changed = 0
    for plan in session.scalars(select(Plan).where(Plan.drive_id.in_(drive_ids))):
        problem, result = plan.problem, plan.result
        if problem:
            problem = _replace_places(problem, places)
            if members:
                problem = _replace_team_starts(problem, members, meeting.get(plan.drive_id, []))
        if result:
            result = _replace_places(result, places)
        if problem != plan.problem or result != plan.result:
            plan.problem, plan.result = problem, result
            changed += 1
    session.flush()
    return changed


def scrub_audit(session: Session, entity: str, ids: list[int]) -> int:
    """Drop the free-text parts of the audit details about these records; return how many."""
    if not ids:
        return 0
    changed = 0
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == entity, AuditEvent.entity_id.in_([str(i) for i in ids])
        )
    )
    for event in events:
        detail = dict(event.detail or {})
        kept = {k: v for k, v in detail.items() if k not in PERSONAL_DETAIL_KEYS}
        if kept != detail:
            event.detail = kept
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True)
class VolunteerPurgeReport:
    """What a volunteer purge removed (or would remove, in a dry run)."""

    volunteers: int
    guardians: int
    messages: int
    cutoff: datetime
    dry_run: bool
    #: The purged volunteers' ids (not personal: they name no one).
    ids: tuple[int, ...] = field(default=(), repr=False)


def _aware(moment: datetime | None, tz: Any) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC text
        return moment.replace(tzinfo=tz)
    return moment


def volunteers_due(session: Session, cutoff: datetime) -> list[Volunteer]:
    """Return volunteers whose last drive (or sign-up, when later) ended before the cutoff."""
    invited = (
        select(DriveVolunteer.volunteer_id.label("volunteer_id"), DriveVolunteer.drive_id)
        .union(
            select(team_member.c.volunteer_id.label("volunteer_id"), Team.drive_id).join(
                Team, Team.id == team_member.c.team_id
            )
        )
        .subquery()
    )
    last_drive = (
        select(invited.c.volunteer_id, func.max(TimeBlock.ends_at).label("last"))
        .join(TimeBlock, TimeBlock.drive_id == invited.c.drive_id)
        .group_by(invited.c.volunteer_id)
        .subquery()
    )
    rows = session.execute(
        select(Volunteer, last_drive.c.last)
        .outerjoin(last_drive, last_drive.c.volunteer_id == Volunteer.id)
        .where(Volunteer.contact_purged_at.is_(None), Volunteer.created_at < cutoff)
    ).all()
    due = []
    for volunteer, last in rows:
        moments = [_aware(volunteer.created_at, cutoff.tzinfo), _aware(last, cutoff.tzinfo)]
        if max(m for m in moments if m is not None) < cutoff:
            due.append(volunteer)
    return due


def purge_volunteers(
    session: Session,
    *,
    days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str = "system",
) -> VolunteerPurgeReport:
    """Remove the personal details of volunteers (and guardians) inactive for ``days``.

    Hours, drives and team places stay (certificates and reports count them); the name,
    phone, school, birth day (the year stays, for age groups), home, notes, guardian, the
    texts of their SMS and their notes on visits go. The caller commits.
    """
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    volunteers = volunteers_due(session, cutoff)
    ids = [v.id for v in volunteers]
    guardians = sum(1 for v in volunteers if v.guardian_name or v.guardian_phone)
    phones = {p for v in volunteers for p in (v.phone, v.guardian_phone) if p}
    messages = (
        session.scalar(
            select(func.count()).select_from(Message).where(Message.volunteer_id.in_(ids))
        )
        or 0
    )
    if not dry_run and ids:
        # Places first: the plans' team starts become the area while the home is still known.
        plans = scrub_plans(session, volunteers=volunteers)
        for volunteer in volunteers:
            volunteer.full_name = REMOVED
            # Unique and required: a placeholder that no phone number can ever equal.
            volunteer.phone = f"purged:{volunteer.id}"
            volunteer.phone_verified_at = None
            volunteer.school_or_unit = None
            volunteer.date_of_birth = volunteer.date_of_birth.replace(month=1, day=1)
            volunteer.guardian_name = None
            volunteer.guardian_phone = None
            volunteer.home_lat = None
            volunteer.home_lng = None
            volunteer.notes = None
            volunteer.status = VolunteerStatus.INACTIVE
            volunteer.contact_purged_at = now
        session.execute(
            update(Message)
            .where(Message.volunteer_id.in_(ids))
            .values(body="", to_phone="", sealed_body=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(VisitResponse)
            .where(VisitResponse.volunteer_id.in_(ids))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PersonalLink)
            .where(PersonalLink.volunteer_id.in_(ids), PersonalLink.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(PhoneVerification)
            .where(PhoneVerification.volunteer_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        if phones:
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.from_phone.in_(phones), InboundMessage.received_at < cutoff)
                .values(body="", from_phone="")
                .execution_options(synchronize_session=False)
            )
        audits = scrub_audit(session, "volunteer", ids)
        audit.record(
            session,
            action="purge",
            entity="volunteer",
            actor=actor,
            detail={
                "volunteers": len(ids),
                "guardians": guardians,
                "messages": messages,
                "plans": plans,
                "audit_events": audits,
                "days": days,
            },
        )
        session.flush()
        logger.info(
            "volunteer purge by %s: personal details of %d volunteer(s) removed (%d guardian(s)), "
            "%d SMS blanked (last drive or sign-up before %s, %d days)",
            actor,
            len(ids),
            guardians,
            messages,
            cutoff.isoformat(timespec="seconds"),
            days,
        )
    return VolunteerPurgeReport(len(ids), guardians, messages, cutoff, dry_run, tuple(ids))
