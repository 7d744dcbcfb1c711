"""Changing plans: manual edits (:func:`retime`), figures (:func:`evaluate`) and
re-planning with as little change as needed (:func:`replan`)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduling.instance import Instance
from scheduling.model import Plan, Problem, Route, Stats, Unassigned, Violation, Visit, Window
from scheduling.params import SolveParams
from scheduling.planner import assemble, finish_reserve_s, run_portfolio, stats_of
from scheduling.reasons import skill_matrix
from scheduling.solver import Weights
from scheduling.timeline import TourFailure, build_route, time_tour, tour_points
from scheduling.tours import Context, Tour, tours_from_routes

LEFT_OUT_DETAIL = "left out of the edited routes"
#: Detail of a visit :func:`replan` leaves out because it was told to (``leave_out``); the
#: reason is ``capacity``, the one reason that never contradicts the problem.
LEFT_OUT_BY_HAND = "left out by the coordinator"
#: How far from its previous start :func:`replan` keeps a visit people were told about.
TOLD_SLACK_MIN = 30.0


@dataclass(frozen=True)
class EditedRoute:
    """A coordinator's version of one tour.

    Parameters
    ----------
    team : str
    visits : sequence of str
        Visit ids in the order the team should make them.
    shift : int
        Index into the team's shifts.
    requested_start : mapping of str to datetime
        Optional service start times for some of the visits (aware date-times); the others
        start as early as possible.
    """

    team: str
    visits: tuple[str, ...]
    shift: int = 0
    requested_start: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Retimed:
    """Result of :func:`retime`: a plan, or the reasons there is none.

    ``plan`` is ``None`` exactly when ``violations`` is not empty.
    """

    plan: Plan | None
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return self.plan is not None


def _as_edits(routes: Plan | Sequence[EditedRoute]) -> list[EditedRoute]:
    if isinstance(routes, Plan):
        return [EditedRoute(r.team, r.visit_ids, r.shift) for r in routes.routes]
    return list(routes)


def retime(
    problem: Problem,
    routes: Plan | Sequence[EditedRoute],
    previous: Plan | None = None,
) -> Retimed:
    """Time edited routes at the earliest feasible moments, or say why they cannot work.

    Parameters
    ----------
    problem : Problem
    routes : Plan or sequence of EditedRoute
        The team tours as the coordinator wants them (a plan's routes are taken as its
        order, with fresh times).
    previous : Plan, optional
        Supplies the reasons of visits that stay unassigned.

    Returns
    -------
    Retimed
        With the new plan, or with violations: unknown ids, a visit twice, a rule broken
        (skill, language, pinned, forbidden, ``max_visits``, load), or a tour that cannot be
        timed (window, requested start, shift, end point).
    """
    edits = _as_edits(routes)
    ctx = Context(problem)
    teams = {t.id: i for i, t in enumerate(problem.teams)}
    visits = {v.id: v for v in problem.visits}
    able = skill_matrix(problem)
    vpos = {v.id: i for i, v in enumerate(problem.visits)}
    out: list[Violation] = []
    seen: Counter[str] = Counter()
    per_team: Counter[str] = Counter()
    built: list[Route] = []
    for e in edits:
        if e.team not in teams:
            out.append(Violation("unknown_team", f"unknown team {e.team!r}", e.team))
            continue
        team = problem.teams[teams[e.team]]
        if not 0 <= e.shift < len(team.shifts):
            out.append(Violation("shift", f"team {e.team} has no shift {e.shift}", e.team))
            continue
        ok = True
        load = 0
        for vid in e.visits:
            seen[vid] += 1
            v = visits.get(vid)
            if v is None:
                out.append(Violation("unknown_visit", f"unknown visit {vid!r}", e.team, vid))
                ok = False
                continue
            load += v.demand
            if not able[vpos[vid], teams[e.team]]:
                code = "skill" if not v.skills <= team.skills else "language"
                out.append(
                    Violation(code, f"team {e.team} cannot make visit {vid} ({code})", e.team, vid)
                )
                ok = False
            if v.pinned_team is not None and v.pinned_team != e.team:
                out.append(
                    Violation("pinned", f"visit {vid} is pinned to {v.pinned_team}", e.team, vid)
                )
                ok = False
            if e.team in v.forbidden_teams:
                out.append(
                    Violation(
                        "forbidden", f"team {e.team} is forbidden for visit {vid}", e.team, vid
                    )
                )
                ok = False
        for vid in e.requested_start:
            if vid not in e.visits:
                out.append(
                    Violation(
                        "requested",
                        f"a start is requested for {vid}, which is not in the route",
                        e.team,
                        vid,
                    )
                )
                ok = False
        if team.capacity is not None and load > team.capacity:
            out.append(
                Violation("load", f"team {e.team} would carry {load}, over {team.capacity}", e.team)
            )
            ok = False
        per_team[e.team] += len(e.visits)
        if not ok or not e.visits:
            continue
        requested = [
            ctx.clock.ceil(e.requested_start[vid]) if vid in e.requested_start else None
            for vid in e.visits
        ]
        route = build_route(
            problem,
            ctx.travel,
            ctx.clock,
            team,
            e.shift,
            list(e.visits),
            requested=requested if any(r is not None for r in requested) else None,
        )
        if isinstance(route, TourFailure):
            vid = e.visits[route.position] if route.position < len(e.visits) else None
            out.append(Violation(route.code, f"team {e.team}: {route.message}", e.team, vid))
        else:
            built.append(route)
    for vid, n in seen.items():
        if n > 1:
            out.append(Violation("duplicate", f"visit {vid} is in the routes {n} times", None, vid))
    for tid, n in per_team.items():
        limit = problem.teams[teams[tid]].max_visits
        if limit is not None and n > limit:
            out.append(
                Violation("max_visits", f"team {tid} would make {n} visits, over {limit}", tid)
            )
    if out:
        return Retimed(None, tuple(out))
    old = {u.visit: u for u in previous.unassigned} if previous is not None else {}
    unassigned = []
    for v in problem.visits:
        if v.id in seen:
            continue
        u = ctx.screening.reasons.get(v.id) or old.get(v.id)
        unassigned.append(u or Unassigned(v.id, "capacity", LEFT_OUT_DETAIL))
    built.sort(key=lambda r: (r.team, r.shift))
    return Retimed(Plan(tuple(built), tuple(unassigned), stats_of(problem, built)), ())


def evaluate(problem: Problem, plan: Plan) -> Stats:
    """Recompute a plan's figures from the problem (the plan's own numbers are ignored).

    Returns
    -------
    Stats
        Served count and priority, travel minutes and metres along the plan's routes,
        teams used; ``solve_s`` is copied from the plan.
    """
    ctx = Context(problem)
    known = {v.id for v in problem.visits}
    teams = {t.id: t for t in problem.teams}
    routes = []
    for r in plan.routes:
        team = teams.get(r.team)
        if team is None or not all(s.visit in known for s in r.stops):
            continue
        pts = tour_points(problem, team, list(r.visit_ids))
        mode = ctx.travel.mode_of(team)
        minutes = ctx.travel.minutes_pairs(mode, pts[:-1], pts[1:])
        meters = ctx.travel.meters_pairs(pts[:-1], pts[1:])
        routes.append(
            Route(
                r.team,
                r.stops,
                float(minutes.sum()),
                None if meters is None else round(float(meters.sum())),
                r.shift,
            )
        )
    return stats_of(problem, routes, plan.stats.solve_s)


# --------------------------------------------------------------------------- replan


def _feasible_prefix(
    inst: Instance, k: int, nodes: list[int], fixed: Mapping[int, int]
) -> tuple[list[int], dict[int, int]]:
    """Drop stops until the tour can be timed; fixed stops keep their start if possible."""
    v = inst.vehicles[k]
    m = inst.ticks[v.mode]
    nodes = list(nodes)
    fixed = dict(fixed)
    while True:
        path = [v.start_node, *nodes, v.end_node]
        arcs = [int(x) for x in m[path[:-1], path[1:]]]
        res = time_tour(
            v.t0,
            v.t1,
            arcs,
            [int(inst.service[n]) for n in nodes],
            [inst.windows[n] for n in nodes],
            [bool(inst.windows[n]) for n in nodes],
            [fixed.get(n) for n in nodes] if fixed else None,
        )
        if not isinstance(res, TourFailure):
            return nodes, fixed
        if not nodes:
            return nodes, fixed
        # Prefer dropping a free stop; unfix a fixed one only when nothing else helps.
        pos = min(res.position, len(nodes) - 1)
        free = [i for i in range(pos + 1) if nodes[i] not in fixed]
        if free:
            del nodes[free[-1]]
        elif nodes[pos] in fixed:
            del fixed[nodes[pos]]
        else:
            del nodes[pos]


def _shift_of(problem: Problem, team_index: int, route: Route) -> int | None:
    """The team's shift in ``problem`` that holds the previous route.

    Found by time, not by index: when a day is taken out of a team's shifts the indices
    of the later shifts change, and a route must not slide onto another day.
    """
    shifts = problem.teams[team_index].shifts
    if route.stops:
        first = route.stops[0].start
        for i, s in enumerate(shifts):
            if s.start <= first <= s.end:
                return i
        return None
    return route.shift if 0 <= route.shift < len(shifts) else None


def _near(visit: Visit, start: datetime, slack: timedelta) -> tuple[Window, ...] | None:
    """The visit's windows cut to ``start`` +- ``slack``; ``None`` when nothing is left."""
    near = Window(start - slack, start + slack)
    if not visit.windows:
        return (near,)
    cut = tuple(
        Window(max(w.start, near.start), min(w.end, near.end))
        for w in visit.windows
        if w.start <= near.end and near.start <= w.end
    )
    return cut or None


def _hold_told(
    problem: Problem, previous: Plan, told: set[str], slack: timedelta
) -> tuple[Problem, set[str]]:
    """The problem with each told visit held to its team and near its previous start.

    A visit is held only where that can still work: its team is still there and was not
    declined for it, no other pin says otherwise, and its windows meet the slack around
    its previous start. Returns the problem and the ids held.
    """
    before = {s.visit: (r.team, s.start) for r in previous.routes for s in r.stops}
    teams = {t.id for t in problem.teams}
    held: set[str] = set()
    visits = []
    for v in problem.visits:
        if v.id in told and v.id in before:
            team, start = before[v.id]
            windows = _near(v, start, slack)
            if (
                team in teams
                and team not in v.forbidden_teams
                and v.pinned_team in (None, team)
                and windows is not None
            ):
                v = dataclasses.replace(v, pinned_team=team, windows=windows)
                held.add(v.id)
        visits.append(v)
    return dataclasses.replace(problem, visits=tuple(visits)), held


def _favour(inst: Instance, told: set[str], params: SolveParams) -> None:
    """Make a told visit worth more than all the others together (as far as int64 allows)."""
    nodes = [i for i, vid in enumerate(inst.visit_ids) if vid in told]
    if not nodes:
        return
    base = inst.priority.copy()
    others = {vid: int(base[i]) for i, vid in enumerate(inst.visit_ids) if vid not in told}
    bonus = sum(others.values()) + 1
    while bonus > 0:
        inst.priority = base.copy()
        inst.priority[nodes] += bonus
        try:
            Weights.for_instance(
                inst,
                params.minimize_vehicles,
                params.balance,
                int(round(params.vehicle_fixed_cost_min * 60_000)),
            )
            return
        except OverflowError:
            bonus //= 2
    inst.priority = base


def replan(
    problem: Problem,
    previous: Plan,
    params: SolveParams | None = None,
    keep_fixed: Collection[str] = (),
    told: Collection[str] = (),
    leave_out: Collection[str] = (),
    told_slack_min: float = TOLD_SLACK_MIN,
) -> Plan:
    """A new plan for a changed problem that changes the previous plan as little as needed.

    The previous tours, cleaned of what no longer fits (visits that were removed, became
    forbidden or pinned elsewhere; teams or shifts that are gone; stops that can no longer
    be timed), are the starting solution. Moving a visit to another tour costs more than
    any travel saving, so visits change team only to serve more priority; new visits and
    visits of removed teams are inserted where they fit.

    Parameters
    ----------
    problem : Problem
        The changed problem.
    previous : Plan
        The plan to change.
    params : SolveParams, optional
    keep_fixed : collection of str
        Visit ids to keep exactly in place: same team, shift and service start as in
        ``previous`` (for example every visit a household already confirmed). A visit that
        can no longer be kept (its team is gone, or the rules now forbid it) is re-planned
        like any other.
    told : collection of str
        Visit ids whose people have been told their visit (an SMS went out). Each stays
        with its team, starting within ``told_slack_min`` minutes of its previous start,
        and is worth more than all untold visits together, so it is dropped only when it
        cannot be made at all. One whose team is gone or declined it is re-planned like
        any other, still ahead of the untold ones.
    leave_out : collection of str
        Visit ids the coordinator took out of the plan by hand: they stay unassigned, with
        the reason ``capacity`` and the detail :data:`LEFT_OUT_BY_HAND`, and nothing
        inserts them again.
    told_slack_min : float
        Minutes a told visit may move from its previous start.

    Returns
    -------
    Plan
        Feasible for ``problem``; its figures are computed on ``problem``.
    """
    params = params or SolveParams()
    started = time.monotonic()
    out = set(leave_out) & {v.id for v in problem.visits}
    working = dataclasses.replace(
        problem, visits=tuple(v for v in problem.visits if v.id not in out)
    )
    told_ids = set(told) & {v.id for v in working.visits}
    working, held = _hold_told(working, previous, told_ids, timedelta(minutes=told_slack_min))
    ctx = Context(working)
    refused = held - set(ctx.screening.allowed)
    if refused:
        # Held where it cannot be made (its team can no longer reach it then): re-plan it.
        originals = {v.id: v for v in problem.visits}
        working = dataclasses.replace(
            working,
            visits=tuple(originals[v.id] if v.id in refused else v for v in working.visits),
        )
        ctx = Context(working)
    inst = Instance.build(working, ctx.travel, ctx.clock, ctx.screening)
    _favour(inst, told_ids, params)
    copies: dict[str, list[int]] = {}
    for i, vid in enumerate(inst.visit_ids):
        copies.setdefault(vid, []).append(i)

    def node_of(vid: str, k: int, start: int) -> int | None:
        """The node of the visit (its window copy holding ``start``) usable by ``k``."""
        options = [n for n in copies.get(vid, ()) if k in inst.allowed[n]]
        for n in options:
            if all(a <= start <= b for a, b in inst.windows[n]):
                return n
        return options[0] if options else None

    team_pos = {t.id: i for i, t in enumerate(working.teams)}
    keep = set(keep_fixed)
    initial: list[list[int]] = [[] for _ in inst.vehicles]
    used: set[str] = set()
    fixed: dict[int, tuple[int, int]] = {}
    previous_vehicle: dict[int, int] = {}
    per_team: Counter[int] = Counter()
    for r in previous.routes:
        ti = team_pos.get(r.team)
        if ti is None:
            continue
        si = _shift_of(working, ti, r)
        k = None if si is None else inst.vehicle_index(ti, si)
        if k is None:
            continue
        nodes = []
        starts: dict[int, int] = {}
        for s in r.stops:
            n = node_of(s.visit, k, ctx.clock.ceil(s.start))
            if n is None or s.visit in used:
                continue
            nodes.append(n)
            used.add(s.visit)
            for c in copies[s.visit]:
                previous_vehicle[c] = k
            if s.visit in keep:
                starts[n] = ctx.clock.ceil(s.start)
        nodes, starts = _feasible_prefix(inst, k, nodes, starts)
        limit = inst.max_visits.get(ti)
        if limit is not None:
            room = max(0, limit - per_team[ti])
            nodes = nodes[:room]
            starts = {n: t for n, t in starts.items() if n in nodes}
        cap = inst.capacity.get(ti)
        if cap is not None:
            while nodes and int(inst.demand[nodes].sum()) > cap:
                nodes.pop()
        per_team[ti] += len(nodes)
        initial[k] = nodes
        for n, t in starts.items():
            fixed[n] = (k, t)
    inst.fixed = fixed
    inst.previous = {n: k for n, k in previous_vehicle.items() if n not in fixed}
    remaining = params.time_limit_s - (time.monotonic() - started) - finish_reserve_s(params)
    routes = run_portfolio(inst, params, remaining, started, initial=initial)
    if routes is None:
        routes = initial
    tours: list[Tour] = tours_from_routes(inst, routes)
    plan = assemble(ctx, tours, time.monotonic() - started, params.progress, started)
    left = tuple(
        Unassigned(v.id, "capacity", LEFT_OUT_BY_HAND) for v in problem.visits if v.id in out
    )
    return Plan(
        plan.routes,
        plan.unassigned + left,
        stats_of(problem, plan.routes, plan.stats.solve_s),
    )
