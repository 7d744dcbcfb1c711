"""Publishing a plan, the day's board, and re-planning after a decline or a drop-out.

Publishing locks a plan version, moves its visits to ``scheduled`` and queues the messages, in
the same transaction. Households get one SMS per visit; each volunteer gets one SMS per drive
day, listing that day's visits behind one day link. Publishing a later version messages only
those whose visit changed: a visit that stays with the same people at the same time carries
over (its status, its personal links and its unsent messages), a moved one gets its household
a change notice and its volunteers a "your day changed" SMS, a dropped one a cancellation
(volunteers: when no visit is left of their day). The guardian of a minor whose day changed
gets one SMS about that day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from volunteer_hub.labels import label
from volunteer_hub.models import (
    Drive,
    DriveStatus,
    DriveVolunteer,
    InvitationStatus,
    Message,
    MessageStatus,
    PersonalLink,
    Plan,
    PlanStatus,
    RequestStatus,
    User,
    Visit,
    VisitResponse,
    VisitStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.services import audit
from volunteer_hub.services.drives.planning import (
    LEFT_OUT,
    PlanningError,
    start_plan,
    told_references,
)
from volunteer_hub.services.messaging.notifications import (
    notify_cancellation,
    notify_change,
    notify_days,
    notify_guardians,
    notify_household,
    queue_about_visit,
    volunteer_days,
)
from volunteer_hub.services.messaging.outbox import cancel_queued
from volunteer_hub.services.messaging.settings import sms_settings

#: Two start times closer than this are "the same time" for the people concerned.
SAME_TIME = timedelta(minutes=5)
REMINDER_KINDS = (
    "reminder_volunteer_eve",
    "reminder_volunteer_soon",
    "reminder_household_day",
    "reminder_household_morning",
)
#: Visit states a re-plan keeps exactly in place.
KEEP_STATUSES = (VisitStatus.CONFIRMED,)
#: States of a published visit whose household still expects it: dropping it cancels it. A
#: declined visit counts: its volunteer said no, but the household was told and still waits.
EXPECTED_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.DECLINED)


@dataclass
class PublishReport:
    """What publishing did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    cancelled: int = 0
    messages: int = 0
    unassigned: int = 0


def latest_published(session: Session, drive: Drive, *, before: int | None = None) -> Plan | None:
    """Return the drive's newest published plan (older than version ``before`` if given)."""
    query = select(Plan).where(Plan.drive_id == drive.id, Plan.published_at.is_not(None))
    if before is not None:
        query = query.where(Plan.version < before)
    return session.scalar(query.order_by(Plan.version.desc()).limit(1))


def _same(a: Visit, b: Visit) -> bool:
    if a.team is None or b.team is None or a.starts_at is None or b.starts_at is None:
        return False
    same_people = {m.id for m in a.team.members} == {m.id for m in b.team.members}
    return same_people and abs(a.starts_at - b.starts_at) <= SAME_TIME


def _carry_over(session: Session, old: Visit, new: Visit) -> None:
    """The new version's visit takes over the old one: status, answers, links, unsent SMS."""
    new.status = (
        old.status
        if old.status in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
        else VisitStatus.SCHEDULED
    )
    new.volunteer_accepted_at = old.volunteer_accepted_at
    new.household_confirmed_at = old.household_confirmed_at
    session.execute(
        update(PersonalLink).where(PersonalLink.visit_id == old.id).values(visit_id=new.id)
    )
    # Reminders are planned afresh for the new version by the worker; what else waits moves.
    cancel_queued(session, visit_id=old.id, kinds=REMINDER_KINDS, reason="replaced")
    session.execute(
        update(Message)
        .where(Message.visit_id == old.id, Message.status == MessageStatus.QUEUED)
        .values(visit_id=new.id)
    )


def publish_plan(
    session: Session, plan: Plan, *, user: User, now: datetime | None = None
) -> PublishReport:
    """Lock the plan version, schedule its visits and queue the messages. The caller commits."""
    now = now or utcnow()
    if plan.status is not PlanStatus.DONE:
        raise PlanningError(_("Only a finished plan can be published."))
    if plan.is_locked:
        raise PlanningError(_("This plan version is already published."))
    drive = plan.drive
    previous = latest_published(session, drive, before=plan.version)
    if previous is not None and previous.version > plan.version:
        raise PlanningError(_("A newer version is already published."))
    old = {v.request_id: v for v in previous.visits} if previous is not None else {}
    settings = sms_settings()
    report = PublishReport()
    counted = Counter[str]()
    # Visits assigned, moved or called off: their minors' guardians hear of the day after.
    touched: list[Visit] = []
    # The (volunteer, day) whose day changed: each gets one SMS about that day, at the end.
    days: dict[tuple[int, date], Volunteer] = {}

    def day_changed(visit: Visit, *, skip_decliners: bool = False) -> None:
        skip = (
            {(visit.id, volunteer_id) for volunteer_id in _decliners(session, visit)}
            if skip_decliners
            else set()
        )
        for key, volunteer in volunteer_days([visit], settings, skip=skip).items():
            days.setdefault(key, volunteer)

    for visit in sorted(plan.visits, key=lambda v: (v.starts_at is None, v.starts_at or now, v.id)):
        before = old.pop(visit.request_id, None)
        request = visit.request
        if visit.team is None:
            report.unassigned += 1
            if (
                before is not None
                and before.team is not None
                and before.status in EXPECTED_STATUSES
            ):
                counted["cancel"] += len(
                    notify_cancellation(
                        session, before, version=plan.version, volunteers=False, now=now
                    )
                )
                day_changed(before, skip_decliners=True)
                before.status = VisitStatus.CANCELLED
                report.cancelled += 1
                touched.append(before)
            if request.status in (
                RequestStatus.SCHEDULED,
                RequestStatus.CONFIRMED,
                RequestStatus.NEW,
            ):
                request.status = RequestStatus.TRIAGED
                request.status_changed_at = now
            continue
        if before is not None and before.team is not None and _same(before, visit):
            _carry_over(session, before, visit)
            report.unchanged += 1
        elif before is not None and before.team is not None:
            visit.status = VisitStatus.SCHEDULED
            before_members = {m.id for m in before.team.members}
            now_members = {m.id for m in visit.team.members}
            if before_members != now_members:
                # The old team's day loses the visit, the new team's day gains it, and the
                # household hears of the new time and team.
                cancel_queued(session, visit_id=before.id, reason="visit_cancelled")
                message = queue_about_visit(
                    session,
                    visit,
                    kind="change_household",
                    key=f"visit:{visit.id}:change:v{plan.version}",
                    urgent=_soon(visit, now) or _soon(before, now),
                    now=now,
                )
                counted["change"] += 1 if message is not None else 0
            else:
                counted["change"] += len(
                    notify_change(
                        session,
                        visit,
                        version=plan.version,
                        replaces=before,
                        volunteers=False,
                        now=now,
                    )
                )
            day_changed(before, skip_decliners=True)
            day_changed(visit)
            before.status = VisitStatus.CANCELLED
            report.changed += 1
            touched += [before, visit]
        else:
            visit.status = VisitStatus.SCHEDULED
            day_changed(visit)
            counted["household"] += (
                1 if notify_household(session, visit, version=plan.version, now=now) else 0
            )
            report.new += 1
            touched.append(visit)
        if request.status in (RequestStatus.NEW, RequestStatus.TRIAGED):
            request.status = RequestStatus.SCHEDULED
            request.status_changed_at = now
    # Households dropped from the drive altogether since the last version.
    for before in old.values():
        if before.team is not None and before.status in EXPECTED_STATUSES:
            counted["cancel"] += len(
                notify_cancellation(
                    session, before, version=plan.version, volunteers=False, now=now
                )
            )
            day_changed(before, skip_decliners=True)
            before.status = VisitStatus.CANCELLED
            report.cancelled += 1
            touched.append(before)
    # One SMS per volunteer and drive day whose visits changed, with one link to them all.
    counted["day"] += len(notify_days(session, plan, days, now=now))
    counted["guardian"] += len(notify_guardians(session, plan, touched, now=now))
    report.messages = sum(counted.values())
    plan.published_at = now
    drive.status = DriveStatus.PUBLISHED
    drive.published_at = now
    # The answers that asked for this re-plan are dealt with.
    session.execute(
        update(VisitResponse)
        .where(
            VisitResponse.resolved_at.is_(None),
            VisitResponse.visit_id.in_(
                select(Visit.id)
                .join(Plan)
                .where(Plan.drive_id == drive.id, Plan.version < plan.version)
            ),
        )
        .values(resolved_at=now, resolved_by_id=user.id)
    )
    audit.record(
        session,
        action="publish",
        entity="plan",
        entity_id=plan.id,
        user=user,
        detail={
            "version": plan.version,
            "new": report.new,
            "changed": report.changed,
            "unchanged": report.unchanged,
            "cancelled": report.cancelled,
            "messages": report.messages,
        },
    )
    session.flush()
    return report


def _decliners(session: Session, visit: Visit) -> set[int]:
    """Return the volunteers who declined the visit: they need no SMS that it is off."""
    return set(
        session.scalars(
            select(VisitResponse.volunteer_id).where(
                VisitResponse.visit_id == visit.id,
                VisitResponse.action == "decline",
                VisitResponse.volunteer_id.is_not(None),
            )
        )
    )


def _soon(visit: Visit, now: datetime) -> bool:
    """Within a day: the message goes out even in quiet hours."""
    return visit.starts_at is not None and visit.starts_at - now < timedelta(hours=24)


# --- on the day -----------------------------------------------------------------------------


@dataclass
class Board:
    """The visits of the published plan, by status, and what waits for the coordinator."""

    plan: Plan | None
    by_status: dict[str, list[Visit]] = field(default_factory=dict)
    pending: list[tuple[VisitResponse, Visit]] = field(default_factory=list)
    withdrawn: list[DriveVolunteer] = field(default_factory=list)

    @property
    def needs_replan(self) -> bool:
        return bool(self.pending or self.withdrawn)


BOARD_ORDER = ("scheduled", "confirmed", "declined", "in_progress", "done", "not_home", "cancelled")


def board(session: Session, drive: Drive) -> Board:
    """Return the live board of a drive's published plan."""
    plan = latest_published(session, drive)
    result = Board(plan, {status: [] for status in BOARD_ORDER})
    if plan is None:
        return result
    for visit in sorted(
        plan.visits, key=lambda v: (v.starts_at is None, v.starts_at or utcnow(), v.id)
    ):
        if visit.team is None:
            continue
        result.by_status.setdefault(visit.status.value, []).append(visit)
    visits = {v.id: v for v in plan.visits}
    result.pending = [
        (response, visits[response.visit_id])
        for response in session.scalars(
            select(VisitResponse)
            .where(
                VisitResponse.visit_id.in_(list(visits)),
                VisitResponse.resolved_at.is_(None),
                VisitResponse.action.in_(["decline", "reschedule", "cancel"]),
            )
            .order_by(VisitResponse.created_at)
        )
    ]
    # Who the published plan counts on: a drop-out has already left their team, so the
    # plan's own problem says who was in the teams that have visits.
    busy = {v.team.code for v in plan.visits if v.team}
    counted_on = {
        member
        for team in (plan.problem or {}).get("teams", [])
        if team.get("id") in busy
        for member in team.get("members", [])
    }
    result.withdrawn = [
        dv
        for dv in drive.volunteers
        if dv.status is InvitationStatus.WITHDRAWN
        and (
            str(dv.volunteer_id) in counted_on
            or any(dv.volunteer in v.team.members for v in plan.visits if v.team)
        )
    ]
    return result


def replan_keeping_confirmed(
    session: Session, drive: Drive, *, user: User, tz: ZoneInfo, time_limit_s: float
) -> Plan:
    """Queue a re-plan of the published plan that keeps every confirmed visit in place."""
    published = latest_published(session, drive)
    if published is None:
        raise PlanningError(_("Nothing is published yet: plan the drive first."))
    keep = [
        v.request.reference
        for v in published.visits
        if v.team is not None and v.status in KEEP_STATUSES and v.team.active
    ]
    return start_plan(
        session,
        drive,
        user=user,
        tz=tz,
        time_limit_s=time_limit_s,
        based_on=published,
        keep_fixed=keep,
    )


# --- before publishing: what will go out ----------------------------------------------------


@dataclass(frozen=True)
class ToldChange:
    """A visit whose people were told, and that this version moves or drops."""

    reference: str
    name: str
    before: Visit
    after: Visit | None
    why: str


@dataclass
class PublishPreview:
    """What publishing a version would do, measured by doing it and rolling it back."""

    report: PublishReport
    messages: int = 0
    people: int = 0
    segments: int = 0
    cost: float = 0.0
    price_unit: str = ""
    kinds: dict[str, int] = field(default_factory=dict)
    told_changes: list[ToldChange] = field(default_factory=list)


def _why(session: Session, before: Visit, after: Visit | None, plan: Plan) -> str:
    """Why a told visit moved or was dropped, as the coordinator reads it."""
    team = before.team
    problem = plan.problem or {}
    team_codes = {t["id"] for t in problem.get("teams", [])}
    forbidden = next(
        (
            set(v.get("forbidden_teams", []))
            for v in problem.get("visits", [])
            if v["id"] == before.request.reference
        ),
        set(),
    )
    day_off = session.scalars(
        select(VisitResponse).where(
            VisitResponse.visit_id == before.id,
            VisitResponse.action == "decline",
            VisitResponse.scope.in_(["day", "drive"]),
        )
    ).first()
    if day_off is not None and team is not None:
        who = next((m.full_name for m in team.members if m.id == day_off.volunteer_id), "")
        return _("%(name)s cannot come that day.", name=who)
    if team is not None and team.code in forbidden:
        return _("A member of team %(team)s declined it.", team=team.code)
    if team is not None and team.code not in team_codes:
        return _("Team %(team)s no longer takes part.", team=team.code)
    if team is not None and after is not None and after.team not in (None, team):
        return _("Team %(team)s can no longer make it at that time.", team=team.code)
    if after is None or after.team is None:
        reason = after.unassigned_reason if after is not None else None
        if reason == LEFT_OUT:
            return _("You took it out of the plan.")
        return str(label("reason", reason)) if reason else _("It is no longer in the drive.")
    return _("Its team's day changed around it.")


def told_changes(session: Session, plan: Plan) -> list[ToldChange]:
    """Return the told visits of the published plan that ``plan`` would move or drop.

    Moved means another team's people or a start more than :data:`SAME_TIME` away.
    """
    published = latest_published(session, plan.drive)
    if published is None or published.id == plan.id:
        return []
    told = told_references(session, plan.drive)
    after = {v.request_id: v for v in plan.visits}
    out = []
    for before in sorted(
        published.visits, key=lambda v: (v.starts_at is None, v.starts_at or utcnow(), v.id)
    ):
        if before.team is None or before.request.reference not in told:
            continue
        if before.status not in (
            VisitStatus.SCHEDULED,
            VisitStatus.CONFIRMED,
            VisitStatus.DECLINED,
        ):
            continue
        new = after.get(before.request_id)
        if new is not None and new.team is not None and _same(before, new):
            continue
        out.append(
            ToldChange(
                before.request.reference,
                before.request.beneficiary_name,
                before,
                new,
                _why(session, before, new, plan),
            )
        )
    return out


def preview_publish(
    session: Session, plan: Plan, *, user: User, now: datetime | None = None
) -> PublishPreview:
    """Return what publishing ``plan`` would queue, without keeping anything.

    The plan is published inside the caller's transaction and the messages it queued are
    counted; **the caller must roll back** afterwards (the view does, before rendering).
    Counting the real messages keeps the preview exact: the same recipients, opt-outs,
    personal links and segments as the publish that follows.
    """
    changes = told_changes(session, plan)
    last = session.scalar(select(func.max(Message.id))) or 0
    report = publish_plan(session, plan, user=user, now=now)
    queued = session.scalars(
        select(Message).where(Message.id > last, Message.status == MessageStatus.QUEUED)
    ).all()
    settings = sms_settings()
    segments = sum(m.segments for m in queued)
    kinds = Counter(m.kind for m in queued)
    return PublishPreview(
        report=report,
        messages=len(queued),
        people=len({m.to_phone for m in queued}),
        segments=segments,
        cost=round(segments * settings.price_per_segment, 2),
        price_unit=settings.price_unit,
        kinds=dict(sorted(kinds.items())),
        told_changes=changes,
    )
