"""Personal links: ``{PUBLIC_BASE_URL}/s/<code>``, the no-login page behind each SMS.

A code is 10 random base62 characters (about 59 bits: guessing one is hopeless under the rate
limits), stored only as its SHA-256, and valid until a few days after its drive. Each message
gets its own link, so a leaked old SMS never opens more than the one visit it was about; a
volunteer's day message carries a day link (``volunteer_day``), which opens that volunteer's
visits of that one drive day in the newest published plan, and nothing else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Drive,
    DriveStatus,
    PersonalLink,
    Plan,
    Visit,
    VisitStatus,
    utcnow,
)
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 10
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9]{8,32}$")

VOLUNTEER_VISIT = "volunteer_visit"
HOUSEHOLD_VISIT = "household_visit"
#: All of one volunteer's visits of one drive day (the link in the day's SMS).
VOLUNTEER_DAY = "volunteer_day"

#: Expired links are deleted this long after they expire (the codes mean nothing by then).
PURGE_AFTER = timedelta(days=30)


def hash_code(code: str) -> str:
    """Return the stored form of a code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def new_code() -> str:
    """Return a fresh random code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def link_url(code: str, settings: SmsSettings | None = None) -> str:
    """Return the address people open."""
    return f"{sms_settings(settings).public_base_url}/s/{code}"


def drive_link_expiry(drive: Drive, settings: SmsSettings | None = None) -> datetime:
    """Return when links of this drive stop working: some days after its last block."""
    settings = sms_settings(settings)
    last = max((b.ends_at for b in drive.blocks), default=None) or utcnow()
    return last + timedelta(days=settings.link_valid_days)


@dataclass(frozen=True)
class IssuedLink:
    """A link just made: the row, and the code (shown once, in the SMS)."""

    link: PersonalLink
    code: str
    url: str


def issue_link(
    session: Session,
    *,
    purpose: str,
    visit: Visit,
    volunteer_id: int | None = None,
    request_id: int | None = None,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> IssuedLink:
    """Make a personal link to one visit, for a volunteer or for the household."""
    settings = sms_settings(settings)
    now = now or utcnow()
    drive = visit.plan.drive
    code = new_code()
    link = PersonalLink(
        code_hash=hash_code(code),
        purpose=purpose,
        visit_id=visit.id,
        volunteer_id=volunteer_id,
        request_id=request_id,
        drive_id=drive.id,
        created_at=now,
        expires_at=max(drive_link_expiry(drive, settings), now + timedelta(days=1)),
    )
    session.add(link)
    session.flush()
    return IssuedLink(link=link, code=code, url=link_url(code, settings))


def day_link_expiry(drive: Drive, day: date, settings: SmsSettings | None = None) -> datetime:
    """Return when a day link stops working: the drive's rule, counted from that day's end."""
    settings = sms_settings(settings)
    ends = [
        b.ends_at for b in drive.blocks if b.starts_at.astimezone(settings.timezone).date() == day
    ]
    last = max(ends, default=None) or datetime.combine(day, time(23, 59), settings.timezone)
    return last + timedelta(days=settings.link_valid_days)


def issue_day_link(
    session: Session,
    *,
    drive: Drive,
    volunteer_id: int,
    day: date,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> IssuedLink:
    """Make a personal link to all of a volunteer's visits of one drive day."""
    settings = sms_settings(settings)
    now = now or utcnow()
    code = new_code()
    link = PersonalLink(
        code_hash=hash_code(code),
        purpose=VOLUNTEER_DAY,
        visit_id=None,
        volunteer_id=volunteer_id,
        drive_id=drive.id,
        day=day,
        created_at=now,
        expires_at=max(day_link_expiry(drive, day, settings), now + timedelta(days=1)),
    )
    session.add(link)
    session.flush()
    return IssuedLink(link=link, code=code, url=link_url(code, settings))


def find_link(session: Session, code: str, *, now: datetime | None = None) -> PersonalLink | None:
    """Return the live link with this code, or None (unknown, expired or revoked alike)."""
    if not _CODE_SHAPE.match(code or ""):
        return None
    link = session.scalar(select(PersonalLink).where(PersonalLink.code_hash == hash_code(code)))
    now = now or utcnow()
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        return None
    return link


def touch(link: PersonalLink, *, now: datetime | None = None) -> None:
    """Count a use of the link."""
    link.uses = (link.uses or 0) + 1
    link.last_used_at = now or utcnow()


@dataclass
class LinkSweep:
    """What the links job did."""

    revoked: int = 0
    deleted: int = 0


def expire_links(session: Session, *, now: datetime | None = None) -> LinkSweep:
    """Revoke links of cancelled visits and drives, and day links whose volunteer has no visit
    left that day; delete links long expired. Caller commits."""
    now = now or utcnow()
    sweep = LinkSweep()
    sweep.revoked += _revoke_empty_days(session, now=now)
    cancelled_visits = select(Visit.id).where(Visit.status == VisitStatus.CANCELLED)
    cancelled_drives = select(Drive.id).where(Drive.status == DriveStatus.CANCELLED)
    result = session.execute(
        update(PersonalLink)
        .where(
            PersonalLink.revoked_at.is_(None),
            (PersonalLink.visit_id.in_(cancelled_visits))
            | (PersonalLink.drive_id.in_(cancelled_drives)),
        )
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    sweep.revoked += int(result.rowcount or 0)  # type: ignore[attr-defined]
    result = session.execute(
        delete(PersonalLink).where(PersonalLink.expires_at < now - PURGE_AFTER),
        execution_options={"synchronize_session": False},
    )
    sweep.deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return sweep


def _revoke_empty_days(session: Session, *, now: datetime) -> int:
    """Revoke the day links whose volunteer has no visit left that day (none but cancelled
    ones in the drive's newest published plan)."""
    day_links = list(
        session.scalars(
            select(PersonalLink).where(
                PersonalLink.purpose == VOLUNTEER_DAY,
                PersonalLink.revoked_at.is_(None),
                PersonalLink.expires_at > now,
            )
        )
    )
    live: dict[int, set[tuple[int, date]]] = {}
    revoked = 0
    for link in day_links:
        if link.drive_id is None or link.volunteer_id is None or link.day is None:
            continue
        if link.drive_id not in live:
            live[link.drive_id] = _live_days(session, link.drive_id)
        if (link.volunteer_id, link.day) not in live[link.drive_id]:
            link.revoked_at = now
            revoked += 1
    session.flush()
    return revoked


def _live_days(session: Session, drive_id: int) -> set[tuple[int, date]]:
    """(volunteer, local day) of every visit not cancelled in the newest published plan."""
    plan = newest_published_plan(session, drive_id)
    if plan is None:
        return set()
    tz = sms_settings().timezone
    found = set()
    for visit in plan.visits:
        when = visit.starts_at or visit.arrival_at
        if visit.team is None or when is None or visit.status is VisitStatus.CANCELLED:
            continue
        for member in visit.team.members:
            found.add((member.id, when.astimezone(tz).date()))
    return found


def newest_published_plan(session: Session, drive_id: int) -> Plan | None:
    """Return the drive's newest published plan."""
    return session.scalar(
        select(Plan)
        .where(Plan.drive_id == drive_id, Plan.published_at.is_not(None))
        .order_by(Plan.version.desc())
        .limit(1)
    )


def day_visits(
    session: Session, link: PersonalLink, *, settings: SmsSettings | None = None
) -> list[Visit]:
    """Return the visits a day link opens: its volunteer's in the newest published plan, on its
    day, cancelled ones left out, in order of time."""
    if link.purpose != VOLUNTEER_DAY or link.drive_id is None or link.day is None:
        return []
    plan = newest_published_plan(session, link.drive_id)
    if plan is None:
        return []
    tz = sms_settings(settings).timezone
    found = []
    for visit in plan.visits:
        when = visit.starts_at or visit.arrival_at
        if (
            visit.team is None
            or when is None
            or visit.status is VisitStatus.CANCELLED
            or when.astimezone(tz).date() != link.day
            or all(m.id != link.volunteer_id for m in visit.team.members)
        ):
            continue
        found.append(visit)
    return sorted(found, key=lambda v: (v.starts_at or v.arrival_at, v.id))


def visit_of(session: Session, link: PersonalLink) -> Visit | None:
    """Return the visit a link is about (None when it was deleted)."""
    if link.visit_id is None:
        return None
    return session.get(Visit, link.visit_id)


#: Visit states in which its team still holds it: their links show the household's details.
HELD_BY_TEAM = frozenset(
    {
        VisitStatus.SCHEDULED,
        VisitStatus.CONFIRMED,
        VisitStatus.IN_PROGRESS,
        VisitStatus.DONE,
        VisitStatus.NOT_HOME,
    }
)


def holder_reason(session: Session, link: PersonalLink, visit: Visit) -> str | None:
    """Return why a volunteer's link may no longer show the household, or None if it may.

    Decided on every request, not by a job: once the volunteer declined, the visit was
    re-planned to another team or another version, or it was cancelled, the old link shows no
    phone, address or notes. The reasons: "changed", "cancelled", "declined", "not_yours".
    """
    if link.purpose not in (VOLUNTEER_VISIT, VOLUNTEER_DAY):
        return None
    if not is_latest_published(session, visit):
        return "changed"
    if visit.status is VisitStatus.CANCELLED:
        return "cancelled"
    if visit.status is VisitStatus.DECLINED:
        return "declined"
    members = {m.id for m in visit.team.members} if visit.team is not None else set()
    if link.volunteer_id not in members or visit.status not in HELD_BY_TEAM:
        return "not_yours"
    return None


def is_latest_published(session: Session, visit: Visit) -> bool:
    """Return True when the visit belongs to its drive's newest published plan."""
    newest = session.scalar(
        select(Plan.id)
        .where(Plan.drive_id == visit.plan.drive_id, Plan.published_at.is_not(None))
        .order_by(Plan.version.desc())
        .limit(1)
    )
    return newest == visit.plan_id
