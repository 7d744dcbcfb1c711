"""Personal links: ``{PUBLIC_BASE_URL}/s/<code>``, the no-login page behind each SMS.

A code is 10 random base62 characters (about 59 bits: guessing one is hopeless under the rate
limits), stored only as its SHA-256, and valid until a few days after its drive. Each message
gets its own link, so a leaked old SMS never opens more than the one visit it was about.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    """Revoke links of cancelled visits and drives; delete links long expired. Caller commits."""
    now = now or utcnow()
    sweep = LinkSweep()
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
    sweep.revoked = int(result.rowcount or 0)  # type: ignore[attr-defined]
    result = session.execute(
        delete(PersonalLink).where(PersonalLink.expires_at < now - PURGE_AFTER),
        execution_options={"synchronize_session": False},
    )
    sweep.deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return sweep


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
    if link.purpose != VOLUNTEER_VISIT:
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
