"""Which team shifts could make each visit on its own, and why a visit cannot be served.

Screening runs before the solver. For every visit and every team shift it checks, in this
order, the rules a coordinator can act on:

1. ``no_skill``   no team has every skill the visit needs and (if it lists languages) one of
   its languages (for a pinned visit: the pinned team lacks them);
2. ``forbidden``  every team able to make it is in its ``forbidden_teams``;
3. ``no_window``  no shift of an able team overlaps a window long enough to start the
   service in the window and end it inside the shift, ignoring travel;
4. ``unreachable`` with travel from the start point and on to the end point, no able team
   shift can make the visit as its only stop;
5. ``capacity``   the visit is feasible alone, but the plan leaves it out: the teams that
   could make it are full (time, ``max_visits`` or load). A demand larger than every able
   team's capacity, or able teams with ``max_visits == 0``, also give ``capacity``. That
   the teams are full is a fact about the final plan, confirmed by
   :mod:`scheduling.insertion` before the label is used.

The team shifts passing all checks are the only vehicles the solver may use for the visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduling.model import Problem, Unassigned, Visit
from scheduling.timeline import Clock, service_ticks, shift_ticks, window_ticks
from scheduling.travel import Travel, end_id, minutes_to_ticks, start_id

_NEVER = np.iinfo(np.int64).max // 4


@dataclass
class Screening:
    """Result of :func:`screen`.

    ``allowed[visit_id]`` lists the ``(team_index, shift_index)`` pairs that can make the
    visit as their only stop; visits with none have an entry in ``reasons`` instead.
    """

    allowed: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    reasons: dict[str, Unassigned] = field(default_factory=dict)


def _masks(sets: list[frozenset[str]], universe: dict[str, int]) -> np.ndarray:
    words = max(1, (len(universe) + 63) // 64)
    out = np.zeros((len(sets), words), dtype=np.uint64)
    for i, s in enumerate(sets):
        for name in s:
            b = universe[name]
            out[i, b // 64] |= np.uint64(1) << np.uint64(b % 64)
    return out


def _names(items: list[str], limit: int = 5) -> str:
    items = sorted(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def skill_matrix(problem: Problem) -> np.ndarray:
    """``ok[v, t]``: team ``t`` has every skill of visit ``v`` and one of its languages."""
    skills = {
        s: i
        for i, s in enumerate(
            sorted({x for o in (*problem.teams, *problem.visits) for x in o.skills})
        )
    }
    langs = {
        s: i
        for i, s in enumerate(
            sorted({x for o in (*problem.teams, *problem.visits) for x in o.languages})
        )
    }
    ts = _masks([t.skills for t in problem.teams], skills)
    vs = _masks([v.skills for v in problem.visits], skills)
    tl = _masks([t.languages for t in problem.teams], langs)
    vl = _masks([v.languages for v in problem.visits], langs)
    has_skills = np.all((vs[:, None, :] & ts[None, :, :]) == vs[:, None, :], axis=2)
    speaks = np.any((vl[:, None, :] & tl[None, :, :]) != 0, axis=2)
    no_lang = ~np.any(vl != 0, axis=1)
    return has_skills & (speaks | no_lang[:, None])


def _skill_detail(problem: Problem, v: Visit) -> str:
    teams = [problem.team(v.pinned_team)] if v.pinned_team else list(problem.teams)
    pinned = v.pinned_team is not None
    who = f"the pinned team {v.pinned_team}" if pinned else "no team"
    have = set().union(*(t.skills for t in teams)) if teams else set()
    missing = sorted(v.skills - have)
    if missing:
        return f"{who} {'lacks' if pinned else 'has'} the skill {_names(missing)}"
    if not [t for t in teams if v.skills <= t.skills]:
        skills = _names(list(v.skills))
        return f"{who} {'lacks' if pinned else 'has'} all of the skills {skills} together"
    speaks = "does not speak" if pinned else "with the skills speaks"
    return f"{who} {speaks} {_names(list(v.languages))}"


def screen(problem: Problem, travel: Travel, clock: Clock) -> Screening:
    """Check every visit against every team shift; see the module docstring."""
    result = Screening()
    visits = problem.visits
    if not visits:
        return result
    nv = len(visits)
    team_pos = {t.id: i for i, t in enumerate(problem.teams)}
    able = skill_matrix(problem) if problem.teams else np.zeros((nv, 0), dtype=bool)
    pinned_only = np.ones_like(able)
    for i, v in enumerate(visits):
        if v.pinned_team is not None:
            pinned_only[i, :] = False
            pinned_only[i, team_pos[v.pinned_team]] = True
    skilled = able & pinned_only
    allowed_team = skilled.copy()
    for i, v in enumerate(visits):
        for tid in v.forbidden_teams:
            if tid in team_pos:
                allowed_team[i, team_pos[tid]] = False

    service = np.array([service_ticks(v) for v in visits], dtype=np.int64)
    demand = np.array([v.demand for v in visits], dtype=np.int64)
    wins = [window_ticks(clock, v) for v in visits]
    restricted = np.array([bool(v.windows) for v in visits])
    width = max([len(w) for w in wins] + [1])
    wa = np.full((nv, width), _NEVER, dtype=np.int64)
    wb = np.full((nv, width), -_NEVER, dtype=np.int64)
    for i, w in enumerate(wins):
        if not restricted[i]:
            wa[i, 0], wb[i, 0] = -_NEVER, _NEVER
        for k, (a, b) in enumerate(w):
            wa[i, k], wb[i, k] = a, b

    window_ok = np.zeros_like(able)
    reach_ok = np.zeros_like(able)
    fits = np.zeros_like(able)
    feasible: list[list[tuple[int, int]]] = [[] for _ in range(nv)]
    pts = travel.points([v.id for v in visits])
    for ti, team in enumerate(problem.teams):
        rows = np.nonzero(allowed_team[:, ti])[0]
        if rows.size == 0:
            continue
        mode = travel.mode_of(team)
        out_ticks = minutes_to_ticks(travel.one_to_many(mode, start_id(team.id), pts))[rows]
        if problem.team_has_end(team):
            back_ticks = minutes_to_ticks(
                travel.one_to_many(mode, end_id(team.id), pts, outbound=False)
            )[rows]
        else:
            back_ticks = np.zeros(rows.size, dtype=np.int64)
        room = np.ones(rows.size, dtype=bool)
        if team.max_visits == 0:
            room[:] = False
        if team.capacity is not None:
            room &= demand[rows] <= team.capacity
        s = service[rows]
        a, b = wa[rows], wb[rows]
        for si in range(len(team.shifts)):
            t0, t1 = shift_ticks(clock, team, si)
            # Ignoring travel: a start inside a window with the service ending in the shift.
            lo = np.maximum(a, t0)
            hi = np.minimum(b, (t1 - s)[:, None])
            window_ok[rows, ti] |= np.any(lo <= hi, axis=1)
            # With travel: arrive, wait for the first open window, serve, go to the end.
            arrive = t0 + out_ticks
            start = np.full(rows.size, _NEVER, dtype=np.int64)
            for k in range(width):
                cand = np.maximum(arrive, a[:, k])
                ok = (arrive <= b[:, k]) & (start == _NEVER)
                start = np.where(ok, cand, start)
            finish = start + s + back_ticks
            ok = (start != _NEVER) & (finish <= t1)
            reach_ok[rows, ti] |= ok
            good = ok & room
            fits[rows, ti] |= good
            for r in rows[good]:
                feasible[r].append((ti, si))

    team_ids = [t.id for t in problem.teams]
    for i, v in enumerate(visits):
        if feasible[i]:
            result.allowed[v.id] = feasible[i]
            continue
        pin = v.pinned_team
        if not skilled[i].any():
            reason, detail = "no_skill", _skill_detail(problem, v)
        elif not allowed_team[i].any():
            names = [team_ids[t] for t in np.nonzero(skilled[i])[0]]
            reason = "forbidden"
            detail = (
                f"it is pinned to team {pin}, which is also in its forbidden teams"
                if pin is not None
                else f"every team able to make it is excluded: {_names(names)}"
            )
        elif not window_ok[i].any():
            reason = "no_window"
            who = f"its pinned team {pin}" if pin is not None else "a team able to make it"
            detail = (
                f"no shift of {who} meets its time windows"
                if v.windows
                else f"its service is longer than every shift of {who}"
            )
        elif not reach_ok[i].any():
            reason = "unreachable"
            who = f"its pinned team {pin}" if pin is not None else "no team able to make it"
            detail = (
                f"{who} cannot get there (and on to its end point) in time"
                if pin is not None
                else f"{who} can get there (and on to its end point) in time"
            )
        else:
            reason = "capacity"
            detail = (
                f"its pinned team {pin} takes no more visits or cannot carry its demand"
                if pin is not None
                else "every team able to make it takes no more visits or cannot carry its demand"
            )
        result.reasons[v.id] = Unassigned(v.id, reason, detail)
    return result


CAPACITY_DETAIL = (
    "it could be made alone, but the teams able to make it are full "
    "(their time, visit limit or load is used by the plan)"
)


UNTRIED_DETAIL = (
    "the time limit ended before the planner could try to fit it into the tours that "
    "might still have room: a longer limit may serve it"
)


def capacity_detail(visit: Visit) -> str:
    """The detail of a ``capacity`` left-out in the final plan."""
    if visit.pinned_team is None:
        return CAPACITY_DETAIL
    return (
        f"it is pinned to team {visit.pinned_team}, which has no room for it even without "
        "its unpinned visits: its other pinned or confirmed visits use its time, visit "
        "limit or load"
    )
