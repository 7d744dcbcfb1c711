"""Planning a drive: the database turned into a planner problem, and the planner's plan back.

The only place that translates between rows and :mod:`scheduling`'s plain data. Planning never
runs inside a web request: ``start_plan`` stores the problem and a queued ``Plan``; the worker
(``run_next_plan``) claims it, solves it with progress written to the row, and stores the
result as ``Visit`` rows. A restart re-queues plans whose worker stopped beating.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

import scheduling
from scheduling.edits import LEFT_OUT_BY_HAND, LEFT_OUT_DETAIL
from volunteer_hub.models import (
    AvailabilitySlot,
    Drive,
    DriveStatus,
    HelpRequest,
    Plan,
    PlanStatus,
    RequestStatus,
    Team,
    TimeBlock,
    User,
    Visit,
    VisitStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.models.messaging import Message, MessageStatus, VisitResponse
from volunteer_hub.services import audit
from volunteer_hub.services.intake.help_requests import effective_point
from volunteer_hub.services.messaging.notifications import (
    DAY_KINDS,
    parse_day_key,
    volunteer_days,
)
from volunteer_hub.services.messaging.settings import sms_settings
from volunteer_hub.services.workers import claim_oldest, worker_name

log = logging.getLogger(__name__)

#: Requests in these states take part in planning.
PLANNABLE = (
    RequestStatus.NEW,
    RequestStatus.TRIAGED,
    RequestStatus.SCHEDULED,
    RequestStatus.CONFIRMED,
)
#: A skill counts for assignment from this self-rated level ("I can do it").
SKILL_LEVEL = 2
#: Extra service time for each additional person of the household, as a share.
EXTRA_PERSON_SHARE = 0.5
MAX_SERVICE_MIN = 180
#: A running plan whose worker has not written for this long is re-queued.
HEARTBEAT_TIMEOUT = timedelta(minutes=2)
MAX_ATTEMPTS = 3
#: A visit's unassigned reason when the coordinator took it out by hand.
LEFT_OUT = "left_out"
PROGRESS_EVERY_S = 0.5
STOP_POLL_EVERY_S = 1.0


class PlanningError(ValueError):
    """Planning cannot start or an edit cannot be made; the message says why."""


def slot_of(moment: datetime, tz: ZoneInfo) -> AvailabilitySlot:
    """Return the weekly availability slot a block starting at ``moment`` falls in."""
    local = moment.astimezone(tz)
    weekday = local.weekday()
    afternoon = local.hour >= 12
    if weekday == 5:
        return AvailabilitySlot.SAT_AFTERNOON if afternoon else AvailabilitySlot.SAT_MORNING
    if weekday == 6:
        return AvailabilitySlot.SUN_AFTERNOON if afternoon else AvailabilitySlot.SUN_MORNING
    return AvailabilitySlot.WEEKDAY_EVENING


def is_available(volunteer: Volunteer, block: TimeBlock, tz: ZoneInfo) -> bool:
    """Return True when the volunteer is usually free at that block and not away that day."""
    day = block.starts_at.astimezone(tz).date()
    return slot_of(block.starts_at, tz) in volunteer.slots and not volunteer.is_away_on(day)


def team_blocks(team: Team, tz: ZoneInfo) -> list[TimeBlock]:
    """Return the drive blocks every member of the team is free for."""
    return [
        b
        for b in team.drive.blocks
        if team.members and all(is_available(m, b, tz) for m in team.members)
    ]


def _skills(members: Iterable[Volunteer]) -> frozenset[str]:
    return frozenset(vs.skill.code for m in members for vs in m.skills if vs.level >= SKILL_LEVEL)


_SPEED_ORDER = ("walk", "bicycle", "motorbike")


def team_mode(members: Iterable[Volunteer]) -> str:
    """Return the travel mode of a team: its slowest member's (a pair travels together)."""
    modes = [m.travel_mode.value for m in members] or ["walk"]
    return min(modes, key=_SPEED_ORDER.index)


def service_minutes(drive: Drive, request: HelpRequest) -> int:
    """Return how long the visit takes: the services' minutes, more for more people."""
    overrides = {ds.service_id: ds.minutes for ds in drive.service_minutes}
    base = sum(overrides.get(s.id, s.usual_min) for s in request.services) or 20
    people = max(1, request.people_count)
    return int(min(MAX_SERVICE_MIN, math.ceil(base * (1 + EXTRA_PERSON_SHARE * (people - 1)))))


def _team_start(team: Team) -> scheduling.Location | None:
    if team.meeting_point is not None:
        return scheduling.Location(team.meeting_point.lat, team.meeting_point.lng)
    for member in team.members:
        if member.home_lat is not None and member.home_lng is not None:
            return scheduling.Location(member.home_lat, member.home_lng)
        if member.home_hamlet is not None and member.home_hamlet.lat is not None:
            return scheduling.Location(member.home_hamlet.lat, member.home_hamlet.lng)
        commune = member.home_commune
        if commune.lat is not None and commune.lng is not None:
            return scheduling.Location(commune.lat, commune.lng)
    return None


def _days(blocks: Iterable[TimeBlock], tz: ZoneInfo) -> set[date]:
    return {b.starts_at.astimezone(tz).date() for b in blocks}


def declined_team_codes(session: Session, drive: Drive) -> dict[int, set[str]]:
    """Return, per request id, the codes of this drive's teams with a member who declined it.

    Only a decline of the visit itself counts. "I cannot come on this day" (or "on any day")
    says nothing against the household: the days are recorded as the volunteer's days away,
    which take the team off them, and the team may still go there on another day.
    """
    rows = session.execute(
        select(Visit.request_id, VisitResponse.volunteer_id)
        .join(VisitResponse, VisitResponse.visit_id == Visit.id)
        .join(Plan, Plan.id == Visit.plan_id)
        .where(
            Plan.drive_id == drive.id,
            VisitResponse.action == "decline",
            or_(VisitResponse.scope.is_(None), VisitResponse.scope.not_in(["day", "drive"])),
        )
    ).all()
    by_volunteer: dict[int, set[str]] = {}
    for team in drive.teams:
        for member in team.members:
            by_volunteer.setdefault(member.id, set()).add(team.code)
    forbidden: dict[int, set[str]] = {}
    for request_id, volunteer_id in rows:
        forbidden.setdefault(request_id, set()).update(by_volunteer.get(volunteer_id, set()))
    return forbidden


def duplicate_holds(drive: Drive) -> dict[int, HelpRequest]:
    """Return, per request id, the request of the same drive it is likely a duplicate of.

    One household gets one visit: a request flagged as a possible duplicate of another request
    that is also in the drive and still to be visited stays out of planning, unless a
    coordinator marked it "not a duplicate". The drive's pages say which and why.
    """
    in_drive = {link.request_id: link.request for link in drive.requests}
    held: dict[int, HelpRequest] = {}
    for request_id, request in in_drive.items():
        original = in_drive.get(request.possible_duplicate_of_id or 0)
        if (
            original is not None
            and original.id != request_id
            and not request.not_duplicate
            and request.status in PLANNABLE
            and original.status in PLANNABLE
        ):
            held[request_id] = original
    return held


def build_problem(
    session: Session,
    drive: Drive,
    *,
    tz: ZoneInfo,
    pins: dict[str, str] | None = None,
) -> scheduling.Problem:
    """Return the planner problem of a drive: its active teams and included requests.

    Visit ids are request reference codes and team ids are team codes, so a plan reads the
    same in the app, in the API and on paper. ``pins`` maps reference codes to team codes.
    """
    pins = pins or {}
    forbidden = declined_team_codes(session, drive)
    teams = []
    for team in drive.teams:
        if not team.active or not team.members:
            continue
        blocks = team_blocks(team, tz)
        if not blocks:
            # Nobody to send: the teams page shows such a team with "no block they can work".
            continue
        start = _team_start(team)
        per_day = min(m.max_visits_per_day for m in team.members)
        limit = min(team.max_visits, per_day * max(1, len(_days(blocks, tz))))
        teams.append(
            scheduling.Team(
                id=team.code,
                members=tuple(str(m.id) for m in team.members),
                skills=_skills(team.members),
                languages=frozenset(lang for m in team.members for lang in m.languages),
                mode=team_mode(team.members),
                start=start,
                end=start if team.returns_to_start and team.meeting_point is not None else None,
                shifts=tuple(scheduling.Shift(b.starts_at, b.ends_at) for b in blocks),
                max_visits=limit,
            )
        )
    team_codes = {t.id for t in teams}
    drive_windows = tuple(scheduling.Window(b.starts_at, b.ends_at) for b in drive.blocks)
    visits = []
    held = duplicate_holds(drive)
    for link in sorted(drive.requests, key=lambda dr: dr.request.reference):
        request = link.request
        if request.status not in PLANNABLE or request.id in held:
            continue
        point = effective_point(request)
        wanted = [
            scheduling.Window(max(w.starts_at, b.starts_at), min(w.ends_at, b.ends_at))
            for w in request.windows
            for b in drive.blocks
            if w.starts_at < b.ends_at and b.starts_at < w.ends_at
        ]
        languages = frozenset(code for code in request.languages if code != "vi")
        visits.append(
            scheduling.Visit(
                id=request.reference,
                location=scheduling.Location(*point) if point else None,
                service_min=float(service_minutes(drive, request)),
                skills=frozenset(s.skill.code for s in request.services),
                languages=languages,
                priority=request.priority,
                # No preference (or none inside the drive's blocks) means any block of the drive.
                windows=tuple(wanted) if wanted else drive_windows,
                pinned_team=pins.get(request.reference)
                if pins.get(request.reference) in team_codes
                else None,
                forbidden_teams=frozenset(forbidden.get(request.id, set()) & team_codes),
            )
        )
    return scheduling.Problem(teams=tuple(teams), visits=tuple(visits))


def told_references(session: Session, drive: Drive) -> set[str]:
    """Return the reference codes of the drive's requests whose people were told their visit.

    Told means an SMS about it is queued or went out (a cancellation does not count: it
    tells of no visit). Re-planning keeps these visits with their team at about their time.
    """
    rows = session.scalars(
        select(HelpRequest.reference)
        .join(Message, Message.request_id == HelpRequest.id)
        .where(
            Message.drive_id == drive.id,
            Message.status.not_in([MessageStatus.CANCELLED, MessageStatus.FAILED]),
            Message.kind.not_like("cancel%"),
        )
        .distinct()
    )
    return set(rows) | _told_by_day_messages(session, drive)


def _told_by_day_messages(session: Session, drive: Drive) -> set[str]:
    """The requests listed in a volunteer's day SMS (it names no request: its key says whose
    day, which day and which plan version)."""
    keys = session.scalars(
        select(Message.idempotency_key).where(
            Message.drive_id == drive.id,
            Message.kind.in_([k for k in DAY_KINDS if k != "day_cancellation"]),
            Message.status.not_in([MessageStatus.CANCELLED, MessageStatus.FAILED]),
        )
    )
    told_days: dict[int, set[tuple[int, date]]] = {}
    for key in keys:
        parsed = parse_day_key(key)
        if parsed is not None:
            _drive, volunteer_id, day, version = parsed
            told_days.setdefault(version, set()).add((volunteer_id, day))
    if not told_days:
        return set()
    settings = sms_settings()
    found = set()
    for plan in drive.plans:
        wanted = told_days.get(plan.version)
        if not wanted:
            continue
        for visit in plan.visits:
            if any(pair in wanted for pair in volunteer_days([visit], settings)):
                found.add(visit.request.reference)
    return found


def hand_decisions(plan: Plan) -> tuple[list[str], dict[str, str]]:
    """Return what the coordinator decided by hand on a plan: visits left out, times set.

    Kept in the plan's params (``left_out``: reference codes; ``timed``: reference code to
    ISO start) and carried to every version re-planned from it.
    """
    params = plan.params or {}
    return list(params.get("left_out", [])), dict(params.get("timed", {}))


def _next_version(session: Session, drive: Drive) -> int:
    versions = [p.version for p in drive.plans]
    return max(versions, default=0) + 1


def start_plan(
    session: Session,
    drive: Drive,
    *,
    user: User | None,
    tz: ZoneInfo,
    time_limit_s: float,
    based_on: Plan | None = None,
    keep_fixed: Iterable[str] = (),
    keep_pins: bool = True,
    solution_limit: int | None = None,
) -> Plan:
    """Queue a new plan version of the drive; the worker solves it. The caller commits.

    With ``based_on``, the worker re-plans from that plan (changing as little as needed):
    its pinned visits stay with their teams, ``keep_fixed`` visits and those whose time the
    coordinator set stay exactly in place, the visits left out by hand stay out, and the
    visits whose people were told stay with their team within half an hour of their time.
    """
    if not drive.blocks:
        raise PlanningError(_("The drive has no time blocks yet."))
    pins = {}
    if based_on is not None and keep_pins:
        pins = {v.request.reference: v.team.code for v in based_on.visits if v.pinned and v.team}
    left_out: list[str] = []
    timed: dict[str, str] = {}
    told: list[str] = []
    if based_on is not None:
        left_out, timed = hand_decisions(based_on)
        assigned = {v.request.reference for v in based_on.visits if v.team is not None}
        timed = {ref: when for ref, when in timed.items() if ref in assigned}
        told = sorted(told_references(session, drive) & assigned)
    problem = build_problem(session, drive, tz=tz, pins=pins)
    held = duplicate_holds(drive)
    duplicates = {
        link.request.reference: held[link.request_id].reference
        for link in drive.requests
        if link.request_id in held
    }
    if not problem.teams:
        raise PlanningError(
            _("No team can work in this drive: form teams of available volunteers.")
        )
    if not problem.visits:
        raise PlanningError(_("The drive includes no request to plan."))
    plan = Plan(
        drive=drive,
        version=_next_version(session, drive),
        status=PlanStatus.QUEUED,
        based_on=based_on,
        params={
            "time_limit_s": float(time_limit_s),
            "keep_fixed": sorted(set(keep_fixed) | set(timed)),
            "pinned": sorted(pins),
            "told": told,
            "left_out": sorted(left_out),
            "timed": timed,
            # Requests held back as likely duplicates: reference code to the one planned.
            "duplicates": duplicates,
            # A deterministic budget (same problem, same plan), besides the time limit.
            "solution_limit": solution_limit,
        },
        problem=problem.to_json(),
        progress={},
        created_by_id=user.id if user else None,
    )
    session.add(plan)
    session.flush()
    audit.record(
        session,
        action="plan",
        entity="plan",
        entity_id=plan.id,
        user=user,
        detail={
            "drive": drive.id,
            "version": plan.version,
            "based_on": based_on.id if based_on else None,
        },
    )
    return plan


def progress_phase(plan: Plan) -> str:
    """Return what the planner is doing with the plan, as a code.

    ``queued`` (no worker yet), ``restarting`` (queued again after a worker stopped),
    ``starting`` (claimed, no plan found yet), ``improving`` (a plan is found, the search
    goes on), ``stopping`` (asked to stop, finishing with the best plan), ``done``, ``failed``
    or ``cancelled``.
    """
    progress = plan.progress or {}
    if plan.status is PlanStatus.QUEUED:
        return "restarting" if progress.get("attempts") else "queued"
    if plan.status is PlanStatus.RUNNING:
        if plan.stop_requested:
            return "stopping"
        return "improving" if progress.get("served") is not None else "starting"
    return plan.status.value


def progress_message(plan: Plan) -> str:
    """Return what the planner is doing, as the coordinator reads it on the progress page."""
    phase = progress_phase(plan)
    progress = plan.progress or {}
    visits = len((plan.problem or {}).get("visits", []))
    messages = {
        "queued": lambda: _("Waiting for the planner to start…"),
        "restarting": lambda: _("The planner stopped; waiting for it to start again…"),
        "starting": lambda: _("The planner is building a first plan…"),
        "improving": lambda: _(
            "The planner found a plan with %(served)s of %(visits)s visits and is looking for a "
            "better one…",
            served=format_decimal(int(progress.get("served") or 0)),
            visits=format_decimal(visits),
        ),
        "stopping": lambda: _("Stopping: keeping the best plan found so far…"),
        "done": lambda: _("The plan is ready."),
        "failed": lambda: _("The planner failed."),
        "cancelled": lambda: _("This plan was cancelled."),
    }
    return messages[phase]()


def progress_of(plan: Plan) -> dict[str, Any]:
    """Return the plan's status and progress as the progress bar and the API read them."""
    limit = float(plan.params.get("time_limit_s", 30))
    progress = plan.progress or {}
    return {
        "phase": progress_phase(plan),
        "message": progress_message(plan),
        "id": plan.id,
        "version": plan.version,
        "status": plan.status.value,
        "elapsed_s": progress.get("elapsed_s", 0.0),
        "time_limit_s": limit,
        "served": progress.get("served"),
        "served_priority": progress.get("served_priority"),
        "travel_min": progress.get("travel_min"),
        "visits": len((plan.problem or {}).get("visits", [])),
        "stop_requested": plan.stop_requested,
        "error": plan.error,
    }


def request_stop(session: Session, plan: Plan) -> None:
    """Ask the worker to stop the search and keep the best plan found so far."""
    if plan.status in (PlanStatus.QUEUED, PlanStatus.RUNNING):
        plan.stop_requested = True


# --- the worker side --------------------------------------------------------------------------


def claim_plan(session: Session, plan_id: int, worker: str, now: datetime) -> bool:
    """Atomically move a queued plan to running for this worker; False if another got it."""
    claimed = session.execute(
        update(Plan)
        .where(Plan.id == plan_id, Plan.status == PlanStatus.QUEUED)
        .values(
            status=PlanStatus.RUNNING,
            started_at=now,
            progress={"worker": worker, "heartbeat": now.isoformat(), "elapsed_s": 0.0},
            row_version=Plan.row_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return claimed.rowcount == 1


def requeue_stale(session: Session, *, now: datetime | None = None) -> list[int]:
    """Put back in the queue the running plans whose worker stopped (crash, restart)."""
    now = now or utcnow()
    requeued = []
    for plan in session.scalars(select(Plan).where(Plan.status == PlanStatus.RUNNING)):
        beat = plan.progress.get("heartbeat") if plan.progress else None
        last = datetime.fromisoformat(beat) if beat else plan.started_at
        if last is not None and now - last < HEARTBEAT_TIMEOUT:
            continue
        attempts = int(plan.progress.get("attempts", 0)) + 1 if plan.progress else 1
        if attempts >= MAX_ATTEMPTS:
            plan.status = PlanStatus.FAILED
            plan.error = "the planner stopped three times without finishing"
            plan.finished_at = now
        else:
            plan.status = PlanStatus.QUEUED
            plan.progress = {"attempts": attempts}
            requeued.append(plan.id)
    try:
        session.commit()
    except StaleDataError:
        # Another planner worker settled the same plan first (the row version moved on).
        session.rollback()
        return []
    return requeued


@dataclass
class _Reporter:
    """Writes progress to the plan row and reads its stop flag, each at most so often."""

    session_factory: Callable[[], Session]
    plan_id: int
    worker: str
    started: float = field(default_factory=time.monotonic)
    last_write: float = 0.0
    last_poll: float = 0.0
    stop: bool = False
    best: dict[str, Any] = field(default_factory=dict)

    def progress(self, p: scheduling.Progress) -> None:
        self.best = {
            "served": p.served,
            "served_priority": p.served_priority,
            "travel_min": round(p.travel_min, 1),
        }
        self.beat(force=False)

    def beat(self, force: bool = True) -> None:
        moment = time.monotonic()
        if not force and moment - self.last_write < PROGRESS_EVERY_S:
            return
        self.last_write = moment
        with self.session_factory() as session:
            session.execute(
                update(Plan)
                .where(Plan.id == self.plan_id, Plan.status == PlanStatus.RUNNING)
                .values(
                    progress={
                        **self.best,
                        "worker": self.worker,
                        "elapsed_s": round(moment - self.started, 1),
                        "heartbeat": utcnow().isoformat(),
                    }
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def should_stop(self) -> bool:
        moment = time.monotonic()
        if moment - self.last_poll >= STOP_POLL_EVERY_S:
            self.last_poll = moment
            with self.session_factory() as session:
                self.stop = bool(
                    session.scalar(select(Plan.stop_requested).where(Plan.id == self.plan_id))
                )
            if moment - self.last_write >= 5 * PROGRESS_EVERY_S:
                self.beat()
        return self.stop


def solve_stored(
    plan: Plan,
    *,
    workers: int,
    progress: Callable[[scheduling.Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    previous: Plan | None,
) -> scheduling.Plan:
    """Solve the problem stored on the plan (re-planning from ``previous`` when given)."""
    problem = scheduling.Problem.from_json(plan.problem or {})
    params = scheduling.SolveParams(
        time_limit_s=float(plan.params.get("time_limit_s", 30)),
        seed=plan.id,
        workers=workers,
        solution_limit=plan.params.get("solution_limit"),
        progress=progress,
        should_stop=should_stop,
    )
    if previous is not None and previous.result:
        return scheduling.replan(
            problem,
            scheduling.Plan.from_json(previous.result),
            params,
            keep_fixed=plan.params.get("keep_fixed", ()),
            told=plan.params.get("told", ()),
            leave_out=plan.params.get("left_out", ()),
        )
    return scheduling.solve(problem, params)


def claim_next_plan(session: Session, worker: str, now: datetime) -> int | None:
    """Atomically move the oldest queued plan to running for this worker; return its id.

    One statement claims it (``workers.claim_oldest``, as the outbox does), so N planner
    workers claiming at once take N different plans and a plan runs in exactly one worker.
    """
    return claim_oldest(
        session,
        Plan,
        PlanStatus.QUEUED,
        {
            "status": PlanStatus.RUNNING,
            "started_at": now,
            "progress": {"worker": worker, "heartbeat": now.isoformat(), "elapsed_s": 0.0},
            "row_version": Plan.row_version + 1,
        },
    )


def run_plan(session_factory: Callable[[], Session], plan_id: int, *, workers: int = 2) -> bool:
    """Claim and solve one queued plan, writing progress and the result. True if it ran."""
    worker = worker_name()
    with session_factory() as session:
        if not claim_plan(session, plan_id, worker, utcnow()):
            return False
    _solve_claimed(session_factory, plan_id, worker, workers=workers)
    return True


def _solve_claimed(
    session_factory: Callable[[], Session], plan_id: int, worker: str, *, workers: int
) -> None:
    """Solve a plan this worker has claimed and store the result (or the failure)."""
    reporter = _Reporter(session_factory, plan_id, worker)
    try:
        with session_factory() as session:
            plan = session.get(Plan, plan_id)
            assert plan is not None
            previous = plan.based_on
            result = solve_stored(
                plan,
                workers=workers,
                progress=reporter.progress,
                should_stop=reporter.should_stop,
                previous=previous,
            )
    except Exception as exc:  # a planner failure must not kill the worker
        log.exception("plan %s failed", plan_id)
        with session_factory() as session:
            plan = session.get(Plan, plan_id)
            if plan is not None:
                plan.status = PlanStatus.FAILED
                plan.error = str(exc)[:1000]
                plan.finished_at = utcnow()
                session.commit()
        return
    with session_factory() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        store_result(session, plan, result)
        plan.status = PlanStatus.DONE
        plan.finished_at = utcnow()
        plan.progress = {
            **reporter.best,
            "served": result.stats.served,
            "served_priority": result.stats.served_priority,
            "travel_min": round(result.stats.travel_min, 1),
            "elapsed_s": round(time.monotonic() - reporter.started, 1),
            "stopped_early": reporter.stop,
        }
        if plan.drive.status is DriveStatus.DRAFT:
            plan.drive.status = DriveStatus.PLANNING
        session.commit()


def run_next_plan(session_factory: Callable[[], Session], *, workers: int = 2) -> int | None:
    """Claim the oldest queued plan, if any, and solve it; return its id."""
    worker = worker_name()
    with session_factory() as session:
        requeue_stale(session)
        plan_id = claim_next_plan(session, worker, utcnow())
    if plan_id is None:
        return None
    _solve_claimed(session_factory, plan_id, worker, workers=workers)
    return plan_id


# --- results as rows ------------------------------------------------------------------------


def store_result(session: Session, plan: Plan, result: scheduling.Plan) -> None:
    """Replace the plan's visits by the planner's result (assigned and left out)."""
    drive = plan.drive
    teams = {t.code: t for t in drive.teams}
    requests = {dr.request.reference: dr.request for dr in drive.requests}
    pinned = set(plan.params.get("pinned", ()))
    previous = {v.request_id: v for v in plan.visits}
    plan.result = result.to_json()
    seen: set[int] = set()
    for route in result.routes:
        team = teams[route.team]
        for seq, stop in enumerate(route.stops, start=1):
            request = requests[stop.visit]
            visit = previous.get(request.id) or Visit(plan=plan, request=request)
            visit.team = team
            visit.shift_index = route.shift
            visit.seq = seq
            visit.arrival_at = stop.arrival
            visit.starts_at = stop.start
            visit.ends_at = stop.end
            visit.pinned = visit.pinned or stop.visit in pinned
            visit.status = VisitStatus.PLANNED
            visit.unassigned_reason = visit.unassigned_detail = None
            session.add(visit)
            seen.add(request.id)
    for left in result.unassigned:
        request = requests.get(left.visit)
        if request is None:
            continue
        visit = previous.get(request.id) or Visit(plan=plan, request=request)
        visit.team = None
        visit.shift_index = visit.seq = None
        visit.arrival_at = visit.starts_at = visit.ends_at = None
        visit.status = VisitStatus.UNASSIGNED
        by_hand = left.detail in (LEFT_OUT_BY_HAND, LEFT_OUT_DETAIL)
        visit.unassigned_reason = LEFT_OUT if by_hand else left.reason
        visit.unassigned_detail = left.detail[:300]
        session.add(visit)
        seen.add(request.id)
    for request_id, visit in previous.items():
        if request_id not in seen:
            session.delete(visit)
    session.flush()


def plan_of(plan: Plan) -> scheduling.Plan:
    """Return the planner's view of a stored plan."""
    if not plan.result:
        raise PlanningError(_("This plan has no result yet."))
    return scheduling.Plan.from_json(plan.result)


def problem_of(plan: Plan) -> scheduling.Problem:
    """Return the planner problem the plan was solved for."""
    return scheduling.Problem.from_json(plan.problem or {})


def copy_plan(session: Session, plan: Plan, *, user: User | None) -> Plan:
    """Return a new, unpublished version with the same problem and result, to edit by hand."""
    result = plan_of(plan)  # first: a plan without a result is refused before anything is added
    copy = Plan(
        drive=plan.drive,
        version=_next_version(session, plan.drive),
        status=PlanStatus.DONE,
        based_on=plan,
        params={**plan.params, "copied_from": plan.id},
        problem=plan.problem,
        progress=dict(plan.progress or {}),
        created_by_id=user.id if user else None,
        started_at=utcnow(),
        finished_at=utcnow(),
    )
    session.add(copy)
    session.flush()
    store_result(session, copy, result)
    pinned = {v.request_id for v in plan.visits if v.pinned}
    for visit in copy.visits:
        visit.pinned = visit.request_id in pinned
    audit.record(
        session,
        action="plan",
        entity="plan",
        entity_id=copy.id,
        user=user,
        detail={"copied_from": plan.id},
    )
    return copy
