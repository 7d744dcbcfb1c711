"""Volunteers for a drive: who is available, invitations, and teams (formed by the planner)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from geopy.distance import great_circle
from sqlalchemy.orm import Session

import scheduling
from volunteer_hub.models import (
    Drive,
    DriveVolunteer,
    InvitationStatus,
    MeetingPoint,
    Team,
    TravelMode,
    User,
    Volunteer,
    VolunteerStatus,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.services.drives.planning import (
    SKILL_LEVEL,
    PlanningError,
    is_available,
    team_mode,
)

#: How far from a drive's communes a volunteer may live to be invited, by travel mode (km).
REACH_KM = {"walk": 3.0, "bicycle": 8.0, "motorbike": 20.0}


def home_point(volunteer: Volunteer) -> tuple[float, float] | None:
    """Return where the volunteer starts from: the pin, the hamlet, or the commune's centre."""
    if volunteer.home_lat is not None and volunteer.home_lng is not None:
        return volunteer.home_lat, volunteer.home_lng
    if volunteer.home_hamlet is not None and volunteer.home_hamlet.lat is not None:
        return volunteer.home_hamlet.lat, volunteer.home_hamlet.lng
    commune = volunteer.home_commune
    if commune.lat is not None and commune.lng is not None:
        return commune.lat, commune.lng
    return None


@dataclass(frozen=True)
class Candidate:
    """A volunteer who could join the drive."""

    volunteer: Volunteer
    distance_km: float | None
    blocks: int
    invited: InvitationStatus | None


def _distance_km(volunteer: Volunteer, drive: Drive) -> float | None:
    home = home_point(volunteer)
    centres = [(c.lat, c.lng) for c in drive.communes if c.lat is not None and c.lng is not None]
    if home is None or not centres:
        return None
    return min(great_circle(home, centre).km for centre in centres)


def candidates(session: Session, drive: Drive, user: User, tz: ZoneInfo) -> list[Candidate]:
    """Return approved, verified volunteers near the drive and free for at least one block."""
    from volunteer_hub.services.access import volunteers_for

    invited = {dv.volunteer_id: dv.status for dv in drive.volunteers}
    found = []
    query = volunteers_for(user).where(
        Volunteer.status == VolunteerStatus.ACTIVE, Volunteer.phone_verified_at.is_not(None)
    )
    for volunteer in session.scalars(query):
        free = sum(1 for block in drive.blocks if is_available(volunteer, block, tz))
        distance = _distance_km(volunteer, drive)
        near = distance is None or distance <= REACH_KM[volunteer.travel_mode.value]
        if (free and near) or volunteer.id in invited:
            found.append(Candidate(volunteer, distance, free, invited.get(volunteer.id)))
    found.sort(
        key=lambda c: (
            c.invited is not None,
            -c.blocks,
            c.distance_km or 0.0,
            c.volunteer.full_name,
        )
    )
    return found


def invite(
    session: Session, drive: Drive, volunteer_ids: list[int], *, user: User, tz: ZoneInfo
) -> int:
    """Invite volunteers to the drive; return how many new invitations."""
    allowed = {c.volunteer.id: c.volunteer for c in candidates(session, drive, user, tz)}
    present = {dv.volunteer_id for dv in drive.volunteers}
    added = 0
    for volunteer_id in volunteer_ids:
        if volunteer_id in allowed and volunteer_id not in present:
            drive.volunteers.append(DriveVolunteer(volunteer=allowed[volunteer_id]))
            added += 1
    if added:
        audit.record(
            session,
            action="update",
            entity="drive",
            entity_id=drive.id,
            user=user,
            detail={"invited": added},
        )
    session.flush()
    return added


def set_answer(
    session: Session,
    drive: Drive,
    volunteer_id: int,
    status: InvitationStatus,
    *,
    user: User,
    reason: str | None = None,
) -> DriveVolunteer:
    """Record a volunteer's answer (accepted, declined) or a drop-out (withdrawn).

    A volunteer who drops out leaves their team; a team left without an adult stops.
    """
    link = next((dv for dv in drive.volunteers if dv.volunteer_id == volunteer_id), None)
    if link is None:
        raise PlanningError(_("This volunteer is not invited to the drive."))
    link.status = status
    link.responded_at = utcnow()
    link.reason = (reason or "")[:300] or None
    if status in (InvitationStatus.DECLINED, InvitationStatus.WITHDRAWN):
        for team in drive.teams:
            if link.volunteer in team.members:
                team.members.remove(link.volunteer)
                if not _team_is_allowed(team, _drive_day(drive, tz=None)):
                    team.active = False
    audit.record(
        session,
        action="update",
        entity="drive_volunteer",
        entity_id=link.id,
        user=user,
        detail={"status": status.value},
    )
    session.flush()
    return link


def _drive_day(drive: Drive, tz: ZoneInfo | None) -> date:
    first = drive.first_day
    if first is None:
        return utcnow().date()
    return first.astimezone(tz).date() if tz else first.date()


def _team_is_allowed(team: Team, day: date) -> bool:
    """A team needs a member, and an adult whenever it has a minor."""
    if not team.members:
        return False
    minors = [m for m in team.members if m.is_minor_on(day)]
    return not minors or len(minors) < len(team.members)


def _as_planner_volunteer(volunteer: Volunteer, day: date) -> scheduling.Volunteer:
    home = home_point(volunteer)
    return scheduling.Volunteer(
        id=str(volunteer.id),
        skills=frozenset(vs.skill.code for vs in volunteer.skills if vs.level >= SKILL_LEVEL),
        languages=frozenset(volunteer.languages),
        is_minor=volunteer.is_minor_on(day),
        home=scheduling.Location(*home) if home else None,
        mode=volunteer.travel_mode.value,
    )


@dataclass
class FormingReport:
    """What automatic team forming did."""

    teams: int
    unplaced: list[tuple[Volunteer, str]]


def _nearest_point(drive: Drive, start: scheduling.Location | None) -> MeetingPoint | None:
    if not drive.meeting_points:
        return None
    if start is None:
        return drive.meeting_points[0]
    return min(
        drive.meeting_points, key=lambda m: great_circle((m.lat, m.lng), (start.lat, start.lng)).km
    )


def form_teams(session: Session, drive: Drive, *, user: User, tz: ZoneInfo) -> FormingReport:
    """Replace the drive's teams by the planner's pairing of the accepted volunteers."""
    if drive.published_at is not None:
        raise PlanningError(_("The drive is published: change teams by hand."))
    day = _drive_day(drive, tz)
    accepted = [dv.volunteer for dv in drive.volunteers if dv.status is InvitationStatus.ACCEPTED]
    if not accepted:
        raise PlanningError(_("No volunteer has accepted yet."))
    by_id = {str(v.id): v for v in accepted}
    forming = scheduling.form_teams(
        [_as_planner_volunteer(v, day) for v in accepted],
        team_size=drive.team_size,
    )
    for team in list(drive.teams):
        if not any(visit.team_id == team.id for plan in drive.plans for visit in plan.visits):
            drive.teams.remove(team)
        else:
            team.active = False
            team.code = f"{team.code}-old{team.id}"
    session.flush()
    for index, draft in enumerate(forming.teams, start=1):
        members = [by_id[m] for m in draft.members]
        point = _nearest_point(drive, draft.start)
        drive.teams.append(
            Team(
                code=f"T{index}",
                mode=TravelMode(team_mode(members)),
                members=members,
                meeting_point=point,
                max_visits=min(m.max_visits_per_day for m in members)
                * max(1, len({b.starts_at.astimezone(tz).date() for b in drive.blocks})),
            )
        )
    unplaced = [(by_id[u.volunteer], u.detail) for u in forming.unplaced]
    audit.record(
        session,
        action="update",
        entity="drive",
        entity_id=drive.id,
        user=user,
        detail={"teams_formed": len(forming.teams), "unplaced": len(unplaced)},
    )
    session.flush()
    return FormingReport(len(forming.teams), unplaced)


def move_member(
    session: Session,
    drive: Drive,
    volunteer_id: int,
    team_code: str | None,
    *,
    user: User,
    tz: ZoneInfo,
) -> Team:
    """Move a volunteer to another team of the drive (a new team when ``team_code`` is None)."""
    day = _drive_day(drive, tz)
    volunteer = next(
        (
            dv.volunteer
            for dv in drive.volunteers
            if dv.volunteer_id == volunteer_id and dv.status is InvitationStatus.ACCEPTED
        ),
        None,
    )
    if volunteer is None:
        raise PlanningError(_("Only volunteers who accepted can be in a team."))
    active = [t for t in drive.teams if t.active]
    if team_code is None:
        used = {t.code for t in drive.teams}
        number = 1
        while f"T{number}" in used:
            number += 1
        target = Team(
            code=f"T{number}",
            mode=volunteer.travel_mode,
            members=[],
            meeting_point=drive.meeting_points[0] if drive.meeting_points else None,
        )
        drive.teams.append(target)
    else:
        target = next((t for t in active if t.code == team_code), None)
        if target is None:
            raise PlanningError(_("No such team in this drive."))
    if len(target.members) >= drive.team_size and volunteer not in target.members:
        raise PlanningError(_("This team is full."))
    source = next((t for t in active if volunteer in t.members), None)
    trial_source = [m for m in source.members if m is not volunteer] if source else []
    trial_target = [*target.members, volunteer]
    for members in (trial_source, trial_target):
        minors = [m for m in members if m.is_minor_on(day)]
        if minors and len(minors) == len(members):
            raise PlanningError(_("A volunteer under 18 always goes with an adult."))
    if source is not None:
        source.members.remove(volunteer)
        if not source.members:
            source.active = False
    target.members.append(volunteer)
    target.mode = TravelMode(team_mode(target.members))
    target.active = True
    audit.record(
        session,
        action="update",
        entity="team",
        entity_id=target.code,
        user=user,
        detail={"volunteer": volunteer_id, "drive": drive.id},
    )
    session.flush()
    return target


def active_teams(drive: Drive) -> list[Team]:
    """Return the teams that take part in planning, by code."""
    return sorted(
        (t for t in drive.teams if t.active and t.members), key=lambda t: (len(t.code), t.code)
    )


def accepted_without_team(drive: Drive) -> list[Volunteer]:
    """Return the volunteers who accepted but are in no active team."""
    placed = {m.id for t in drive.teams if t.active for m in t.members}
    return [
        dv.volunteer
        for dv in drive.volunteers
        if dv.status is InvitationStatus.ACCEPTED and dv.volunteer_id not in placed
    ]
