"""Reminders, planned by the worker for visits of published plans.

Volunteers: one message a day each time, with the day link to all that day's visits: the
evening before, about two hours before the first visit of the day, and thanks once the last
visit of the day is over (the day link is where they report each visit's outcome).
Households, per visit: the day before and that morning, and thanks with a feedback link. A
reminder is queued only shortly before it is due, so it carries the latest plan; it is
skipped when the plan was published after its time (the publish message said it all) or when
the visit is too close to be useful.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Drive,
    DriveStatus,
    Message,
    MessageStatus,
    Plan,
    Visit,
    VisitStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.notifications import (
    notify_day_thanks,
    notify_thanks,
    queue_about_visit,
    thanks_key,
)
from volunteer_hub.services.messaging.outbox import message_exists
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings

VOLUNTEER_EVENING = time(19, 0)
VOLUNTEER_BEFORE = timedelta(hours=2)
HOUSEHOLD_DAY_BEFORE = time(17, 0)
HOUSEHOLD_MORNING = time(7, 0)
#: Reminders are queued this long before they are due.
LOOKAHEAD = timedelta(hours=1)
#: A reminder later than this before the visit is not worth sending.
TOO_LATE = timedelta(minutes=30)
#: Thanks, with the outcome link (volunteers) or a feedback link (households), go this long
#: after a visit's planned end, unless the visit ended longer ago than THANKS_WITHIN.
THANKS_AFTER = timedelta(minutes=30)
THANKS_WITHIN = timedelta(hours=12)


@dataclass
class ReminderReport:
    """How many reminders one planning run queued."""

    volunteers: int = 0
    households: int = 0
    thanks: int = 0
    visits_seen: int = 0


def _at(day: datetime, clock: time, settings: SmsSettings) -> datetime:
    """Return ``clock`` on the local day of ``day``, as an aware datetime."""
    local = day.astimezone(settings.timezone)
    return datetime.combine(local.date(), clock, settings.timezone)


def _due(send_at: datetime, visit_at: datetime, plan: Plan, now: datetime) -> bool:
    if send_at > now + LOOKAHEAD:
        return False
    if plan.published_at is not None and plan.published_at > send_at:
        return False
    return now < visit_at - TOO_LATE


def _newest_published_visits(session: Session, *conditions: Any) -> list[Visit]:
    newest = (
        select(Plan.drive_id, func.max(Plan.version).label("version"))
        .where(Plan.published_at.is_not(None))
        .group_by(Plan.drive_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(Visit)
            .join(Plan, Plan.id == Visit.plan_id)
            .join(newest, (newest.c.drive_id == Plan.drive_id) & (newest.c.version == Plan.version))
            .join(Drive, Drive.id == Plan.drive_id)
            .where(Drive.status != DriveStatus.CANCELLED, Visit.team_id.is_not(None), *conditions)
            .order_by(Visit.starts_at, Visit.id)
        )
    )


def upcoming_visits(session: Session, *, now: datetime, horizon: timedelta) -> list[Visit]:
    """Return scheduled or confirmed visits of each drive's newest published plan, soonest first."""
    return _newest_published_visits(
        session,
        Visit.status.in_([VisitStatus.SCHEDULED, VisitStatus.CONFIRMED]),
        Visit.starts_at > now,
        Visit.starts_at <= now + horizon,
    )


def ended_visits(session: Session, *, now: datetime) -> list[Visit]:
    """Return visits that ended a little while ago and were not cancelled or declined."""
    return _newest_published_visits(
        session,
        Visit.status.in_(
            [
                VisitStatus.SCHEDULED,
                VisitStatus.CONFIRMED,
                VisitStatus.IN_PROGRESS,
                VisitStatus.DONE,
            ]
        ),
        Visit.ends_at <= now - THANKS_AFTER,
        Visit.ends_at > now - THANKS_AFTER - THANKS_WITHIN,
    )


#: The visits of a volunteer's day that she goes (or went) to: reminded of, thanked for.
_HERS = frozenset(
    {
        VisitStatus.SCHEDULED,
        VisitStatus.CONFIRMED,
        VisitStatus.IN_PROGRESS,
        VisitStatus.DONE,
        VisitStatus.NOT_HOME,
    }
)


def _her_day(plan: Plan, volunteer_id: int, day: date, settings: SmsSettings) -> list[Visit]:
    """Her visits of one local day in ``plan`` that were not cancelled or declined, in order."""
    found = [
        visit
        for visit in plan.visits
        if visit.status in _HERS
        and visit.team is not None
        and visit.starts_at is not None
        and visit.starts_at.astimezone(settings.timezone).date() == day
        and any(m.id == volunteer_id for m in visit.team.members)
    ]
    return sorted(found, key=lambda v: (v.starts_at, v.id))


def _soon_key(
    session: Session, first: Visit, volunteer_id: int, day: date, day_visits: list[Visit]
) -> str | None:
    """The key of her reminder before the first visit of the day, None when she had one.

    One a day, whatever the plan version: a reminder queued or sent counts. When the first
    visit was cancelled before its reminder went out (the reminder with it), the new first
    visit gets one.
    """
    prefix = f"drive:{first.plan.drive_id}:vol{volunteer_id}:{day.isoformat()}:reminder-soon:"
    earlier = session.scalars(
        select(Message.idempotency_key).where(
            Message.drive_id == first.plan.drive_id,
            Message.volunteer_id == volunteer_id,
            Message.kind == "reminder_volunteer_soon",
            Message.status != MessageStatus.CANCELLED,
            # Before one reminder a day, each shift's first visit had its own.
            Message.idempotency_key.startswith(prefix, autoescape=True)
            | Message.visit_id.in_([v.id for v in day_visits]),
        )
    ).first()
    if earlier is not None:
        return None
    for key in (f"{prefix}v{first.plan.version}", f"{prefix}v{first.plan.version}:visit{first.id}"):
        if not message_exists(session, key):
            return key
    return None


def plan_reminders(
    session: Session, *, now: datetime | None = None, settings: SmsSettings | None = None
) -> ReminderReport:
    """Queue the reminders that fall due within the lookahead. The caller commits."""
    settings = sms_settings(settings)
    now = now or utcnow()
    report = ReminderReport()
    visits = upcoming_visits(session, now=now, horizon=timedelta(days=2))
    report.visits_seen = len(visits)

    # Households: one reminder the day before, one that morning, per visit.
    for visit in visits:
        assert visit.starts_at is not None
        version = visit.plan.version
        day_before = _at(visit.starts_at - timedelta(days=1), HOUSEHOLD_DAY_BEFORE, settings)
        morning = _at(visit.starts_at, HOUSEHOLD_MORNING, settings)
        for kind, label, send_at in (
            ("reminder_household_day", "reminder-day", day_before),
            ("reminder_household_morning", "reminder-morning", morning),
        ):
            key = f"visit:{visit.id}:{label}:v{version}"
            if not _due(send_at, visit.starts_at, visit.plan, now) or message_exists(session, key):
                continue
            message = queue_about_visit(
                session,
                visit,
                kind=kind,
                key=key,
                send_after=max(send_at, now),
                now=now,
                settings=settings,
            )
            report.households += message is not None

    # Volunteers: the first visit of each local day and of each shift.
    first_of_day: dict[tuple[int, date], Visit] = {}
    per_day: dict[tuple[int, date], int] = defaultdict(int)
    members: dict[int, Volunteer] = {}
    for visit in visits:
        assert visit.starts_at is not None and visit.team is not None
        day = visit.starts_at.astimezone(settings.timezone).date()
        for volunteer in visit.team.members:
            members[volunteer.id] = volunteer
            per_day[(volunteer.id, day)] += 1
            first_of_day.setdefault((volunteer.id, day), visit)

    for (volunteer_id, day), visit in first_of_day.items():
        assert visit.starts_at is not None
        send_at = _at(visit.starts_at - timedelta(days=1), VOLUNTEER_EVENING, settings)
        key = (
            f"drive:{visit.plan.drive_id}:vol{volunteer_id}:{day.isoformat()}"
            f":reminder-eve:v{visit.plan.version}"
        )
        if not _due(send_at, visit.starts_at, visit.plan, now) or message_exists(session, key):
            continue
        # The day's reminder carries the day link: all the visits of that day, as its SMS.
        day_link = links.issue_day_link(
            session,
            drive=visit.plan.drive,
            volunteer_id=volunteer_id,
            day=day,
            now=now,
            settings=settings,
        )
        queue_about_visit(
            session,
            visit,
            members[volunteer_id],
            kind="reminder_volunteer_eve",
            key=key,
            send_after=max(send_at, now),
            with_link=False,
            extra={"count": str(per_day[(volunteer_id, day)]), "link": day_link.url},
            now=now,
            settings=settings,
        )
        report.volunteers += 1

    # About two hours before the first visit of her day: one reminder, with the day link.
    for (volunteer_id, day), upcoming in first_of_day.items():
        hers = _her_day(upcoming.plan, volunteer_id, day, settings)
        visit = hers[0] if hers else upcoming
        assert visit.starts_at is not None
        send_at = visit.starts_at - VOLUNTEER_BEFORE
        if not _due(send_at, visit.starts_at, visit.plan, now):
            continue
        key = _soon_key(session, visit, volunteer_id, day, hers)
        if key is None:
            continue
        day_link = links.issue_day_link(
            session,
            drive=visit.plan.drive,
            volunteer_id=volunteer_id,
            day=day,
            now=now,
            settings=settings,
        )
        queue_about_visit(
            session,
            visit,
            members[volunteer_id],
            kind="reminder_volunteer_soon",
            key=key,
            send_after=max(send_at, now),
            with_link=False,
            extra={"link": day_link.url},
            now=now,
            settings=settings,
        )
        report.volunteers += 1

    # Thanks after the visits: the household's per visit, with its feedback link; each
    # volunteer's once for the day, after her last visit, with the day link to report them.
    ended = ended_visits(session, now=now)
    for visit in ended:
        if message_exists(session, f"visit:{visit.id}:thanks"):
            continue
        report.thanks += notify_thanks(session, visit, now=now, settings=settings) is not None
    days_done: dict[tuple[int, int, date], Visit] = {}
    for visit in ended:
        day = visit.starts_at.astimezone(settings.timezone).date() if visit.starts_at else None
        if day is None or visit.team is None:
            continue
        for member in visit.team.members:
            days_done.setdefault((visit.plan.drive_id, member.id, day), visit)
    for (drive_id, volunteer_id, day), visit in days_done.items():
        key = thanks_key(drive_id, volunteer_id, day)
        if message_exists(session, key):
            continue
        hers = _her_day(visit.plan, volunteer_id, day, settings)
        last_end = max((v.ends_at for v in hers if v.ends_at is not None), default=None)
        if last_end is None or last_end > now - THANKS_AFTER:
            continue  # she has a visit still to go, or it has not ended long enough
        volunteer = next(m for m in visit.team.members if m.id == volunteer_id)  # type: ignore[union-attr]
        message = notify_day_thanks(
            session, volunteer, day, hers, drive=visit.plan.drive, now=now, settings=settings
        )
        report.thanks += message is not None
    return report
