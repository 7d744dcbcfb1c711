"""Reminders, planned by the worker for visits of published plans.

Volunteers: the evening before (one message a day, with the day link to all its visits) and
about two hours before the first visit of each of their shifts. Households: the day before and that
morning. After the visit, thanks: with the outcome link for volunteers, a feedback link for
the household. A reminder is queued only shortly before it is due, so it carries the latest plan; it
is skipped when the plan was published after its time (the publish message said it all) or
when the visit is too close to be useful.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from volunteer_hub.models import Drive, DriveStatus, Plan, Visit, VisitStatus, Volunteer, utcnow
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.notifications import (
    notify_thanks,
    queue_about_visit,
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
    first_of_shift: dict[tuple[int, object, int | None], Visit] = {}
    per_day: dict[tuple[int, date], int] = defaultdict(int)
    members: dict[int, Volunteer] = {}
    for visit in visits:
        assert visit.starts_at is not None and visit.team is not None
        day = visit.starts_at.astimezone(settings.timezone).date()
        for volunteer in visit.team.members:
            members[volunteer.id] = volunteer
            per_day[(volunteer.id, day)] += 1
            first_of_day.setdefault((volunteer.id, day), visit)
            first_of_shift.setdefault((volunteer.id, day, visit.shift_index), visit)

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

    for (volunteer_id, _day, _shift), visit in first_of_shift.items():
        assert visit.starts_at is not None
        send_at = visit.starts_at - VOLUNTEER_BEFORE
        key = f"visit:{visit.id}:vol{volunteer_id}:reminder-soon:v{visit.plan.version}"
        if not _due(send_at, visit.starts_at, visit.plan, now) or message_exists(session, key):
            continue
        queue_about_visit(
            session,
            visit,
            members[volunteer_id],
            kind="reminder_volunteer_soon",
            key=key,
            send_after=max(send_at, now),
            now=now,
            settings=settings,
        )
        report.volunteers += 1

    # Thanks after the visit: the volunteers' carries the link where they report the outcome.
    for visit in ended_visits(session, now=now):
        if message_exists(session, f"visit:{visit.id}:thanks") or any(
            message_exists(session, f"visit:{visit.id}:thanks:vol{m.id}")
            for m in visit.team.members  # type: ignore[union-attr]
        ):
            continue
        report.thanks += len(notify_thanks(session, visit, now=now, settings=settings))
    return report
