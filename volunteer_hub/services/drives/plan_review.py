"""A coordinator reviews a plan: moves, pins and unassigns visits, and compares versions.

Every change goes through the planner's ``retime`` and independent ``check``: a change that
breaks a hard rule (skill, language, window, shift, end point, visits per team) is refused with
the reason, and nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy.orm import Session

import scheduling
from volunteer_hub.models import Plan, PlanStatus, User, Visit
from volunteer_hub.services import audit
from volunteer_hub.services.drives.planning import (
    PlanningError,
    hand_decisions,
    plan_of,
    problem_of,
    store_result,
)


class ConflictError(RuntimeError):
    """Someone else changed the plan since it was loaded."""


class EditRefused(ValueError):
    """The change breaks a hard rule; ``reasons`` say which, in the reader's language."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def violation_text(v: scheduling.Violation, names: dict[str, str]) -> str:
    """Return what a coordinator reads for a planner violation."""
    visit = names.get(v.visit or "", v.visit or "")
    team = v.team or ""
    messages = {
        "skill": _("Team %(team)s lacks a skill that %(visit)s needs.", team=team, visit=visit),
        "language": _(
            "Team %(team)s does not speak a language %(visit)s needs.", team=team, visit=visit
        ),
        "pinned": _("%(visit)s is pinned to another team.", visit=visit),
        "forbidden": _("A member of team %(team)s declined %(visit)s.", team=team, visit=visit),
        "max_visits": _("Team %(team)s would have more visits than it can make.", team=team),
        "window": _("%(visit)s cannot start inside the times the household gave.", visit=visit),
        "requested": _(
            "Team %(team)s cannot be at %(visit)s at the requested time.", team=team, visit=visit
        ),
        "shift": _(
            "Team %(team)s would finish %(visit)s after its shift ends.", team=team, visit=visit
        ),
        "end": _(
            "Team %(team)s could not get back to its meeting point before the shift ends.",
            team=team,
        ),
        "end_point": _(
            "Team %(team)s could not get back to its meeting point before the shift ends.",
            team=team,
        ),
        "duplicate": _("%(visit)s would be visited twice.", visit=visit),
        "load": _("Team %(team)s would carry too much.", team=team),
    }
    return messages.get(v.code, v.message)


def visit_names(plan: Plan) -> dict[str, str]:
    """Return reference code -> "CODE (beneficiary name)" for the plan's visits."""
    return {
        v.request.reference: f"{v.request.reference} ({v.request.beneficiary_name})"
        for v in plan.visits
    }


def _editable(plan: Plan, expected_version: int | None) -> None:
    if plan.status is not PlanStatus.DONE:
        raise PlanningError(_("Only a finished plan can be changed."))
    if plan.is_locked:
        raise PlanningError(_("A published plan is locked: make a new version to change it."))
    if expected_version is not None and expected_version != plan.row_version:
        raise ConflictError


def _routes(current: scheduling.Plan) -> dict[tuple[str, int], list[str]]:
    return {(r.team, r.shift): list(r.visit_ids) for r in current.routes}


def _starts(current: scheduling.Plan) -> dict[str, datetime]:
    return {s.visit: s.start for r in current.routes for s in r.stops}


def _retime(
    problem: scheduling.Problem,
    current: scheduling.Plan,
    routes: dict[tuple[str, int], list[str]],
    requested: dict[str, datetime],
) -> scheduling.Retimed:
    """Time the routes keeping every other visit at its current start when that still works.

    People have been told their times: a change elsewhere should not move them. Only when
    the current times cannot hold are the routes timed afresh, at the earliest.
    """
    held = {vid: when for vid, when in _starts(current).items() if vid not in requested}
    kept = _retime_exactly(problem, current, routes, {**held, **requested})
    if kept.ok:
        return kept
    return _retime_exactly(problem, current, routes, requested)


def _retime_exactly(
    problem: scheduling.Problem,
    current: scheduling.Plan,
    routes: dict[tuple[str, int], list[str]],
    requested: dict[str, datetime],
) -> scheduling.Retimed:
    edits = [
        scheduling.EditedRoute(
            team,
            tuple(ids),
            shift,
            {vid: when for vid, when in requested.items() if vid in ids},
        )
        for (team, shift), ids in routes.items()
        if ids
    ]
    return scheduling.retime(problem, edits, previous=current)


def _best_insertion(
    problem: scheduling.Problem,
    current: scheduling.Plan,
    routes: dict[tuple[str, int], list[str]],
    reference: str,
    team_code: str,
    shift: int | None,
    start: datetime | None,
) -> scheduling.Retimed:
    """Try every shift and position of the team; keep the feasible one with least travel."""
    team = next((t for t in problem.teams if t.id == team_code), None)
    if team is None:
        return scheduling.Retimed(
            None, (scheduling.Violation("unknown_team", "unknown team", team_code),)
        )
    shifts = [shift] if shift is not None else list(range(len(team.shifts)))
    if start is not None:
        shifts = [i for i in shifts if team.shifts[i].start <= start < team.shifts[i].end] or shifts
    best: scheduling.Retimed | None = None
    first_refusal: scheduling.Retimed | None = None
    starts = _starts(current)
    for index in shifts:
        base = list(routes.get((team_code, index), []))
        if start is not None:
            # A requested time places the visit among the others by their start times.
            positions = [sum(1 for vid in base if starts.get(vid) and starts[vid] <= start)]
        else:
            positions = list(range(len(base) + 1))
        for position in positions:
            trial = {k: list(v) for k, v in routes.items()}
            trial[(team_code, index)] = [*base[:position], reference, *base[position:]]
            result = _retime(problem, current, trial, {reference: start} if start else {})
            if result.ok:
                assert result.plan is not None
                if best is None or result.plan.stats.travel_min < best.plan.stats.travel_min:  # type: ignore[union-attr]
                    best = result
            elif first_refusal is None:
                first_refusal = result
    if best is not None:
        return best
    if first_refusal is not None:
        return first_refusal
    return scheduling.Retimed(
        None, (scheduling.Violation("shift", "no shift", team_code, reference),)
    )


@dataclass
class EditResult:
    """What an accepted change did."""

    plan: Plan
    served: int
    travel_min: float


def move_visit(
    session: Session,
    plan: Plan,
    reference: str,
    *,
    team_code: str | None,
    user: User,
    expected_version: int | None = None,
    shift: int | None = None,
    start: datetime | None = None,
) -> EditResult:
    """Move a visit to a team (best place, or at a requested start), or unassign it (None).

    Raises EditRefused with the reasons when the result would break a hard rule.
    """
    _editable(plan, expected_version)
    problem = problem_of(plan)
    current = plan_of(plan)
    if reference not in {v.id for v in problem.visits}:
        raise EditRefused([_("This visit is not part of the plan.")])
    routes = _without(current, reference)
    result = _trial(problem, current, routes, reference, team_code, shift, start)
    names = visit_names(plan)
    if not result.ok:
        raise EditRefused([violation_text(v, names) for v in result.violations])
    assert result.plan is not None
    store_result(session, plan, result.plan)
    _remember(plan, reference, left_out=team_code is None, start=start)
    audit.record(
        session,
        action="update",
        entity="plan",
        entity_id=plan.id,
        user=user,
        detail={
            "move": reference,
            "team": team_code,
            "start": start.isoformat() if start else None,
        },
    )
    return EditResult(plan, result.plan.stats.served, result.plan.stats.travel_min)


def _without(current: scheduling.Plan, reference: str) -> dict[tuple[str, int], list[str]]:
    routes = _routes(current)
    for ids in routes.values():
        if reference in ids:
            ids.remove(reference)
    return routes


def _trial(
    problem: scheduling.Problem,
    current: scheduling.Plan,
    routes: dict[tuple[str, int], list[str]],
    reference: str,
    team_code: str | None,
    shift: int | None,
    start: datetime | None,
) -> scheduling.Retimed:
    """Time the routes with the visit given to a team (or to nobody), checked independently."""
    if team_code is None:
        result = _retime(problem, current, routes, {})
    else:
        result = _best_insertion(problem, current, routes, reference, team_code, shift, start)
    if not result.ok:
        return result
    assert result.plan is not None
    # The independent checker has the last word: nothing it objects to is ever saved.
    found = scheduling.check(problem, result.plan)
    if found:
        return scheduling.Retimed(None, tuple(found))
    return result


def teams_with_room(
    plan: Plan, reference: str, *, start: datetime | None = None, skip: str | None = None
) -> list[str]:
    """Return the codes of the teams that could take the visit (at ``start`` when given).

    Each candidate is tried the way a move would be, and the independent checker judges it:
    a coordinator whose move was refused sees where the visit does fit, not ten refusals.
    """
    problem = problem_of(plan)
    current = plan_of(plan)
    if reference not in {v.id for v in problem.visits}:
        return []
    holder = next((r.team for r in current.routes if reference in r.visit_ids), None)
    routes = _without(current, reference)
    room = []
    for team in sorted(problem.teams, key=lambda t: (len(t.id), t.id)):
        # The refused team, and without a time the team that already has it, need no trial.
        if team.id == skip or (start is None and team.id == holder):
            continue
        if _trial(problem, current, routes, reference, team.id, None, start).ok:
            room.append(team.id)
    return room


def _remember(plan: Plan, reference: str, *, left_out: bool, start: datetime | None) -> None:
    """Note the coordinator's decision in the plan, so that re-plans keep it."""
    out, timed = hand_decisions(plan)
    out = sorted((set(out) | {reference}) if left_out else (set(out) - {reference}))
    timed.pop(reference, None)
    if start is not None and not left_out:
        timed[reference] = start.isoformat()
    plan.params = {**plan.params, "left_out": out, "timed": timed}


def requested_start(
    plan: Plan, reference: str, time_text: str | None, day_text: str | None, tz: ZoneInfo
) -> datetime | None:
    """Read the start a coordinator typed for a visit ("HH:MM", and a "YYYY-MM-DD" day).

    Without a day the visit keeps its own day (or the drive's first). None when no time was
    typed; EditRefused when it is not a time.
    """
    text = (time_text or "").strip()
    if not text:
        return None
    refused = EditRefused([_("Enter a time as HH:MM.")])
    hour, _sep, minute = text.partition(":")
    day = (day_text or "").strip()
    # ASCII digits only: "²".isdigit() is true and int("²") fails.
    if not (_is_digits(hour) and _is_digits(minute)):
        raise refused
    current = next((v for v in plan.visits if v.request.reference == reference), None)
    source = current.starts_at if current and current.starts_at else plan.drive.first_day
    if source is None:
        raise refused
    try:
        local = source.astimezone(tz).replace(
            hour=int(hour), minute=int(minute), second=0, microsecond=0
        )
        if day:
            chosen = date.fromisoformat(day)
            local = local.replace(year=chosen.year, month=chosen.month, day=chosen.day)
    except ValueError:  # "25:00", "2026-02-30", a day that is not a date
        raise refused from None
    return local


def _is_digits(text: str) -> bool:
    return 1 <= len(text) <= 2 and text.isascii() and text.isdigit()


def set_pinned(
    session: Session,
    plan: Plan,
    visit: Visit,
    pinned: bool,
    *,
    user: User,
    expected_version: int | None = None,
) -> None:
    """Pin a visit to its team (re-planning keeps it there), or release it."""
    _editable(plan, expected_version)
    if pinned and visit.team is None:
        raise EditRefused([_("Only a visit with a team can be pinned.")])
    visit.pinned = pinned
    # Touch the plan so its row version moves and a concurrent editor sees a conflict.
    plan.params = {**plan.params, "pins_changed": (plan.params.get("pins_changed", 0) + 1)}
    audit.record(
        session,
        action="update",
        entity="plan",
        entity_id=plan.id,
        user=user,
        detail={"pin" if pinned else "unpin": visit.request.reference},
    )


# --- comparing versions ---------------------------------------------------------------------


@dataclass
class Moved:
    """A visit that is not the same in both versions."""

    reference: str
    name: str
    before: str
    after: str


@dataclass
class Comparison:
    """Two plan versions side by side."""

    a: Plan
    b: Plan
    stats: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    moved: list[Moved] = field(default_factory=list)


def _describe(visit: Visit | None, fmt: Any) -> str:
    if visit is None:
        return "—"
    if visit.team is None:
        return _("not planned")
    return f"{visit.team.code} · {fmt(visit.starts_at)}"


def default_comparison(plan: Plan) -> Plan | None:
    """The version to compare a plan with when none is chosen: its source, or the one before."""
    if plan.based_on is not None:
        return plan.based_on
    earlier = [
        p for p in plan.drive.plans if p.version < plan.version and p.status is PlanStatus.DONE
    ]
    return max(earlier, key=lambda p: p.version) if earlier else None


def compare_plans(a: Plan, b: Plan, fmt: Any) -> Comparison:
    """Compare two versions: served, priority served, travel, and every visit that moved."""
    result = Comparison(a, b)
    for key, label in (
        ("served", _("Visits planned")),
        ("served_priority", _("Priority served")),
        ("travel_min", _("Travel (minutes)")),
    ):
        result.stats[label] = (
            (a.result or {}).get("stats", {}).get(key),
            (b.result or {}).get("stats", {}).get(key),
        )
    left = {v.request_id: v for v in a.visits}
    right = {v.request_id: v for v in b.visits}
    for request_id in sorted(set(left) | set(right)):
        va, vb = left.get(request_id), right.get(request_id)
        same = (
            va is not None
            and vb is not None
            and (va.team.code if va.team else None) == (vb.team.code if vb.team else None)
            and va.starts_at == vb.starts_at
        )
        if not same:
            record = (va or vb).request  # type: ignore[union-attr]
            result.moved.append(
                Moved(
                    record.reference,
                    record.beneficiary_name,
                    _describe(va, fmt),
                    _describe(vb, fmt),
                )
            )
    return result
