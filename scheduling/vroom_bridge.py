"""A problem handed to VROOM (``pyvroom``), and VROOM's answer read back as tours.

Used by the planner for its first plan (:mod:`scheduling.firstplan`) and by ``bench peers``
(:mod:`scheduling.peers`) to compare against VROOM. How the rules map:

* one VROOM vehicle per team shift, with the shift as its time window, the team's start
  point, its end point or an open end, and its travel mode as the VROOM profile, each
  profile with its own duration matrix;
* the rules that decide which teams may make a visit (skills, languages, pinned and
  forbidden teams) become one VROOM skill per distinct set of allowed teams;
* VROOM has no limit shared by several vehicles, so a team's ``max_visits`` is shared out
  among its shifts in proportion to their length (``max_tasks``), or, for a first plan that
  is repaired afterwards, given whole to every shift;
* priorities 1-5 become VROOM priorities 15-75 and pinned visits 100 (VROOM's highest);
* times in whole seconds (Solomon: thousandths of a time unit): travel and service rounded
  up, windows and shifts inwards, so VROOM's plans stay feasible in exact arithmetic.

``vroom`` itself is imported inside the functions, so the planner runs without it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from scheduling.model import Problem
from scheduling.timeline import service_ticks, shift_ticks, window_ticks
from scheduling.tours import Context, Tour
from scheduling.travel import end_id, minutes_to_ticks, start_id

VROOM_THREADS = 2
VROOM_EXPLORATION = 5
PIN_PRIORITY = 100


def has_vroom() -> bool:
    """Whether ``pyvroom`` is installed (the ``bench`` extra)."""
    try:
        import vroom  # noqa: F401
    except ImportError:
        return False
    return True


def shared_max_visits(problem: Problem, ti: int) -> list[int | None]:
    """A team's ``max_visits`` shared out among its shifts in proportion to their length."""
    team = problem.teams[ti]
    if team.max_visits is None:
        return [None] * len(team.shifts)
    if len(team.shifts) == 1:
        return [team.max_visits]
    lengths = np.array([(s.end - s.start).total_seconds() for s in team.shifts])
    share = lengths / lengths.sum() * team.max_visits
    part = np.floor(share).astype(int)
    for j in np.argsort(-(share - part), kind="stable")[: team.max_visits - int(part.sum())]:
        part[j] += 1
    return [int(x) for x in part]


def allowed_teams(
    problem: Problem,
    teams: Sequence[int] | None = None,
    visit_ids: Collection[str] | None = None,
) -> dict[str, frozenset[int]]:
    """Per visit, the teams the rules allow (skills, languages, pinned, forbidden); with
    ``teams`` only those team indices are considered, with ``visit_ids`` only those visits."""
    out = {}
    among = range(len(problem.teams)) if teams is None else teams
    for v in problem.visits:
        if visit_ids is not None and v.id not in visit_ids:
            continue
        ok = []
        for ti in among:
            t = problem.teams[ti]
            if v.pinned_team is not None and t.id != v.pinned_team:
                continue
            if t.id in v.forbidden_teams or not v.skills <= t.skills:
                continue
            if v.languages and not v.languages & t.languages:
                continue
            ok.append(ti)
        out[v.id] = frozenset(ok)
    return out


def vroom_input(
    ctx: Context,
    unit_ticks: int = 1000,
    vehicle_cost: int = 0,
    priority: bool = True,
    share_limits: bool = True,
    visit_ids: Collection[str] | None = None,
    team_indices: Sequence[int] | None = None,
) -> tuple[Any, list[tuple[int, int]], list[str]]:
    """The problem as a ``vroom.Input``; returns it, the team shift of each vehicle id and
    the visit of each job id. See the module docstring for the mapping. With
    ``share_limits=False`` every shift may take its team's whole ``max_visits`` (the
    relaxation :mod:`scheduling.firstplan` repairs). With ``visit_ids`` and
    ``team_indices`` only those visits and teams are given to VROOM (a part of a large
    problem, :func:`scheduling.firstplan.vroom_parts_placed`); a visit none of those
    teams may make is left out."""
    import vroom

    problem, clock, travel = ctx.problem, ctx.clock, ctx.travel
    team_list = list(range(len(problem.teams))) if team_indices is None else list(team_indices)
    allowed = allowed_teams(problem, team_indices, visit_ids)
    visits = [
        v
        for v in problem.visits
        if v.id in ctx.screening.allowed
        and (visit_ids is None or v.id in visit_ids)
        and allowed[v.id]
    ]
    keys: list[str] = [v.id for v in visits]
    place: dict[tuple, int] = {}
    start_of: dict[int, int] = {}
    end_of: dict[int, int] = {}
    for ti in team_list:
        t = problem.teams[ti]
        for which, key, table in (
            ("start", start_id(t.id), start_of),
            ("end", end_id(t.id), end_of),
        ):
            if which == "end" and not problem.team_has_end(t):
                continue
            sig = (which, *travel.signature(key))
            if sig not in place:
                place[sig] = len(keys)
                keys.append(key)
            table[ti] = place[sig]

    def up(ticks: float) -> int:
        return int(-(-int(ticks) // unit_ticks))

    def down(ticks: float) -> int:
        return int(int(ticks) // unit_ticks)

    inp = vroom.Input()
    modes = sorted({travel.mode_of(problem.teams[ti]) for ti in team_list})
    meters = None if travel.matrix is not None else travel.meters_matrix(keys)
    for mode in modes:
        ticks = minutes_to_ticks(travel.minutes_matrix(mode, keys, meters))
        inp.set_durations_matrix(mode, (-(-ticks // unit_ticks)).astype(np.uint32))
    del meters
    skill_of: dict[frozenset[int], int] = {}
    for v in visits:
        skill_of.setdefault(allowed[v.id], len(skill_of))
    team_skills: dict[int, set[int]] = {ti: set() for ti in team_list}
    for teams, sk in skill_of.items():
        for ti in teams:
            team_skills[ti].add(sk)
    has_load = any(v.demand for v in problem.visits)
    vehicles: list[tuple[int, int]] = []
    for ti in team_list:
        t = problem.teams[ti]
        caps = shared_max_visits(problem, ti) if share_limits else [t.max_visits] * len(t.shifts)
        for si in range(len(t.shifts)):
            t0, t1 = shift_ticks(clock, t, si)
            kw: dict[str, Any] = {}
            if caps[si] is not None:
                kw["max_tasks"] = caps[si]
            if has_load:
                kw["capacity"] = [t.capacity if t.capacity is not None else 10**9]
            if vehicle_cost:
                kw["costs"] = vroom.VehicleCosts(fixed=vehicle_cost)
            inp.add_vehicle(
                vroom.Vehicle(
                    len(vehicles),
                    start=start_of[ti],
                    end=end_of.get(ti),
                    profile=travel.mode_of(t),
                    skills=team_skills[ti],
                    time_window=vroom.TimeWindow(up(t0), down(t1)),
                    **kw,
                )
            )
            vehicles.append((ti, si))
    for j, v in enumerate(visits):
        wins = [(max(0, up(a)), down(b)) for a, b in window_ticks(clock, v)]
        wins = [vroom.TimeWindow(a, b) for a, b in wins if a <= b]
        if v.windows and not wins:
            continue
        kw = {"delivery": vroom.Amount([v.demand])} if has_load else {}
        prio = 0
        if priority:
            prio = PIN_PRIORITY if v.pinned_team is not None else 15 * v.priority
        inp.add_job(
            vroom.Job(
                j,
                location=j,
                default_service=up(service_ticks(v)),
                skills={skill_of[allowed[v.id]]},
                priority=prio,
                time_windows=wins,
                **kw,
            )
        )
    # Job ids are positions in ``visits`` (a visit with no usable window is left out).
    return inp, vehicles, [v.id for v in visits]


def vroom_tours(
    ctx: Context, time_limit_s: float, unit_ticks: int = 1000, vehicle_cost: int = 0
) -> tuple[list[Tour], float]:
    """Solve with VROOM; return its tours and the seconds it took (building included)."""
    t = time.monotonic()
    inp, vehicles, visit_of = vroom_input(ctx, unit_ticks, vehicle_cost)
    sol = inp.solve(
        exploration_level=VROOM_EXPLORATION,
        nb_threads=VROOM_THREADS,
        timeout=timedelta(seconds=max(0.1, time_limit_s - (time.monotonic() - t))),
    )
    seconds = time.monotonic() - t
    order: dict[int, list[str]] = {}
    for step in sol.to_dict().get("routes", []):
        vid = int(step["vehicle"])
        for s in step["steps"]:
            if s.get("type") == "job":
                order.setdefault(vid, []).append(visit_of[int(s["id"])])
    tours = [Tour(vehicles[k][0], vehicles[k][1], ids) for k, ids in sorted(order.items()) if ids]
    return tours, seconds
