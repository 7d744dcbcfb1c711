"""Scoping: a coordinator sees only the records of their communes; an admin sees all."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Commune,
    Drive,
    HelpRequest,
    Plan,
    Role,
    Team,
    User,
    Visit,
    Volunteer,
)
from volunteer_hub.services.validation import is_record_id

T = TypeVar("T")


class NotVisibleError(LookupError):
    """The record does not exist or is outside the account's communes (shown as 404)."""


def _get(session: Session, model: type[T], record_id: int) -> T | None:
    # An id no row can have (0, negative, beyond the 32-bit INTEGER) is not sent to the
    # database, where it would raise instead of finding nothing.
    if not is_record_id(record_id):
        return None
    return session.get(model, record_id)


def commune_clause(user: User, column: Any) -> ColumnElement[bool]:
    """Return a WHERE clause limiting ``column`` (a commune id) to the user's communes."""
    if user.role is Role.ADMIN:
        return true()
    if user.role is not Role.COORDINATOR or not user.commune_ids:
        return false()
    return column.in_(sorted(user.commune_ids))


def drive_clause(user: User) -> ColumnElement[bool]:
    """Return a WHERE clause for drives whose every commune is in the user's scope."""
    if user.role is Role.ADMIN:
        return true()
    if user.role is not Role.COORDINATOR or not user.commune_ids:
        return false()
    ids = sorted(user.commune_ids)
    return Drive.communes.any() & ~Drive.communes.any(~Commune.id.in_(ids))


def communes_for(user: User) -> Select[tuple[Commune]]:
    """Return a query of the communes the user may see, by name."""
    return select(Commune).where(commune_clause(user, Commune.id)).order_by(Commune.name)


def requests_for(user: User) -> Select[tuple[HelpRequest]]:
    """Return a query of the help requests the user may see."""
    return select(HelpRequest).where(commune_clause(user, HelpRequest.commune_id))


def volunteers_for(user: User) -> Select[tuple[Volunteer]]:
    """Return a query of the volunteers living in the user's communes."""
    return select(Volunteer).where(commune_clause(user, Volunteer.home_commune_id))


def drives_for(user: User) -> Select[tuple[Drive]]:
    """Return a query of the drives the user may see."""
    return select(Drive).where(drive_clause(user))


def visible_commune(session: Session, user: User, commune_id: int) -> Commune:
    """Return the commune if the user may see it, else raise NotVisibleError."""
    commune = _get(session, Commune, commune_id)
    if commune is None or not user.can_see_commune(commune.id):
        raise NotVisibleError
    return commune


def visible_request(session: Session, user: User, request_id: int) -> HelpRequest:
    """Return the help request if the user may see it, else raise NotVisibleError."""
    record = _get(session, HelpRequest, request_id)
    if record is None or not user.can_see_commune(record.commune_id):
        raise NotVisibleError
    return record


def visible_volunteer(session: Session, user: User, volunteer_id: int) -> Volunteer:
    """Return the volunteer if the user may see them, else raise NotVisibleError."""
    record = _get(session, Volunteer, volunteer_id)
    if record is None or not user.can_see_commune(record.home_commune_id):
        raise NotVisibleError
    return record


def can_see_drive(user: User, drive: Drive) -> bool:
    """Return True when every commune of the drive is in the user's scope."""
    if user.role is Role.ADMIN:
        return True
    ids = drive.commune_ids
    return user.role is Role.COORDINATOR and bool(ids) and ids <= user.commune_ids


def visible_drive(session: Session, user: User, drive_id: int) -> Drive:
    """Return the drive if the user may see it, else raise NotVisibleError."""
    drive = _get(session, Drive, drive_id)
    if drive is None or not can_see_drive(user, drive):
        raise NotVisibleError
    return drive


def visible_plan(session: Session, user: User, plan_id: int) -> Plan:
    """Return the plan if the user may see its drive, else raise NotVisibleError."""
    plan = _get(session, Plan, plan_id)
    if plan is None or not can_see_drive(user, plan.drive):
        raise NotVisibleError
    return plan


def visible_team(session: Session, user: User, team_id: int) -> Team:
    """Return the team if the user may see its drive, else raise NotVisibleError."""
    team = _get(session, Team, team_id)
    if team is None or not can_see_drive(user, team.drive):
        raise NotVisibleError
    return team


def visible_visit(session: Session, user: User, visit_id: int) -> Visit:
    """Return the visit if the user may see its plan's drive, else raise NotVisibleError."""
    visit = _get(session, Visit, visit_id)
    if visit is None or not can_see_drive(user, visit.plan.drive):
        raise NotVisibleError
    return visit
