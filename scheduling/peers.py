"""``bench peers``: our planner against the best free routing engines, on the same problems.

* Door-to-door (:func:`run_peers`): weekends from :func:`scheduling.bench.generate_weekend`,
  solved by ours (:func:`scheduling.solve`, 2 workers), by VROOM (``pyvroom``, 2 threads,
  the same time limit) and by greedy cheapest insertion (the floor: the planner's own final
  insertion pass from empty tours).
* Solomon (:func:`run_peers_solomon`): ours, PyVRP (one thread) and VROOM with the
  vehicles-then-distance objective, against the best known solutions.

Every plan, whoever made it, is timed by :func:`scheduling.timeline.build_route` from the
solver's visit order and checked by :func:`scheduling.check`; a tour that cannot be timed
counts as a violation. ``pyvrp`` is a main dependency (our portfolio runs it as one engine,
:mod:`scheduling.pyvrp_bridge`); the "pyvrp" peer here is PyVRP alone, as its own users
would call it.

How a problem is given to VROOM, and the plan read back: :mod:`scheduling.vroom_bridge`
(the mapping is written there and in docs/scheduling.md, "Peers").
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from scheduling.bench import PEER_TEAMS, generate_weekend, solomon_distance
from scheduling.check import check
from scheduling.model import Plan, Problem
from scheduling.planner import SolveParams, assemble, solve
from scheduling.pyvrp_bridge import has_pyvrp as bridge_has_pyvrp
from scheduling.solomon import SolomonInstance, read_bks, read_instance
from scheduling.timeline import TourFailure, build_route
from scheduling.tours import Context, Tour
from scheduling.vroom_bridge import (  # noqa: F401 (re-exported for bench callers)
    PIN_PRIORITY,
    VROOM_EXPLORATION,
    VROOM_THREADS,
    allowed_teams,
    has_vroom,
    shared_max_visits,
    vroom_input,
    vroom_tours,
)

PEER_SIZES = (60, 300, 1000)
PEER_TIME_S = {60: 20.0, 300: 60.0, 1000: 60.0, 1500: 120.0, 5000: 300.0}
"""Default time limit per size (seconds), as in the tables of issue #13."""

SOLOMON_VEHICLE_COST = 10**9
"""VROOM's and PyVRP's fixed cost per tour for vehicles-then-distance: above any travel
total in their units (Solomon distances times 1,000)."""


def has_pyvrp() -> bool:
    """Whether ``pyvrp`` is installed."""
    return bridge_has_pyvrp()


# --------------------------------------------------------------------------- plans


@dataclass
class Outcome:
    """One solver's plan of one problem, checked."""

    solver: str
    plan: Plan | None
    seconds: float
    violations: int
    untimed: int = 0  # tours of the solver that could not be timed (counted as violations)


def plan_of(ctx: Context, tours: Sequence[Tour], seconds: float, solver: str) -> Outcome:
    """Time another solver's tours as they are, build the plan and check it."""
    untimed = 0
    for tour in tours:
        team = ctx.problem.teams[tour.team]
        route = build_route(
            ctx.problem, ctx.travel, ctx.clock, team, tour.shift, list(tour.visit_ids)
        )
        if isinstance(route, TourFailure):
            untimed += 1
    plan = assemble(ctx, tours, seconds, fill_left=False)
    return Outcome(solver, plan, seconds, len(check(ctx.problem, plan)) + untimed, untimed)


def ours(problem: Problem, time_limit_s: float, **kw: Any) -> Outcome:
    """Our planner with 2 workers."""
    t = time.monotonic()
    plan = solve(problem, SolveParams(time_limit_s=time_limit_s, workers=2, **kw))
    seconds = time.monotonic() - t
    return Outcome("ours", plan, seconds, len(check(problem, plan)))


def greedy(ctx: Context) -> Outcome:
    """Greedy cheapest insertion from empty tours: pinned first, then most urgent first."""
    t = time.monotonic()
    plan = assemble(ctx, [])
    seconds = time.monotonic() - t
    return Outcome("greedy", plan, seconds, len(check(ctx.problem, plan)))


# --------------------------------------------------------------------------- VROOM


def vroom_plan(ctx: Context, time_limit_s: float) -> Outcome:
    """VROOM's plan of a door-to-door problem, timed and checked."""
    tours, seconds = vroom_tours(ctx, time_limit_s)
    return plan_of(ctx, tours, seconds, "vroom")


# --------------------------------------------------------------------------- door-to-door


@dataclass
class PeerRow:
    """One solver on one generated weekend."""

    visits: int
    teams: int
    limit_s: float
    solver: str
    served: int
    served_priority: int
    travel_min: float
    pinned: int
    pinned_served: int
    seconds: float
    violations: int

    @property
    def travel_per_served(self) -> float:
        return self.travel_min / max(1, self.served)


def _row(problem: Problem, limit: float, out: Outcome) -> PeerRow:
    plan = out.plan
    assert plan is not None
    served = plan.assignment()
    pins = [v for v in problem.visits if v.pinned_team is not None]
    return PeerRow(
        visits=len(problem.visits),
        teams=len(problem.teams),
        limit_s=limit,
        solver=out.solver,
        served=plan.stats.served,
        served_priority=plan.stats.served_priority,
        travel_min=plan.stats.travel_min,
        pinned=len(pins),
        pinned_served=sum(1 for v in pins if served.get(v.id) == v.pinned_team),
        seconds=out.seconds,
        violations=out.violations,
    )


PEER_HEADER = (
    f"{'visits':>7}{'teams':>6}{'limit':>6}  {'solver':<7}{'served':>7}{'priority':>9}"
    f"{'min/visit':>10}{'pinned':>9}{'sec':>7}  ok"
)


def format_peer_row(r: PeerRow) -> str:
    ok = "yes" if r.violations == 0 else f"NO ({r.violations})"
    return (
        f"{r.visits:>7}{r.teams:>6}{r.limit_s:>6.0f}  {r.solver:<7}{r.served:>7}"
        f"{r.served_priority:>9}{r.travel_per_served:>10.2f}"
        f"{f'{r.pinned_served}/{r.pinned}':>9}{r.seconds:>7.1f}  {ok}"
    )


def run_peers(
    sizes: Sequence[int],
    time_limit_s: float | None,
    out: TextIO,
    seed: int = 0,
    json_path: Path | None = None,
    solvers: Sequence[str] = ("ours", "vroom", "greedy"),
) -> list[PeerRow]:
    """Solve a generated weekend per size with every solver; print a row each."""
    rows: list[PeerRow] = []
    print(PEER_HEADER, file=out, flush=True)
    for n in sizes:
        limit = time_limit_s if time_limit_s is not None else PEER_TIME_S.get(n, 60.0)
        problem = generate_weekend(n, PEER_TEAMS.get(n), seed=seed)
        ctx = Context(problem)
        for name in solvers:
            if name == "ours":
                outcome = ours(problem, limit, seed=seed)
            elif name == "vroom":
                outcome = vroom_plan(ctx, limit)
            else:
                outcome = greedy(ctx)
            row = _row(problem, limit, outcome)
            rows.append(row)
            print(format_peer_row(row), file=out, flush=True)
    if json_path is not None:
        json_path.write_text(
            json.dumps([{**asdict(r), "travel_per_served": r.travel_per_served} for r in rows])
        )
    return rows


CURVE_LIMITS = (5.0, 10.0, 30.0, 60.0)
"""Time limits of the quality-over-waiting-time curve; 120 s is added from 1,500 visits."""


def curve_limits(n: int, limits: Sequence[float] | None = None) -> list[float]:
    """The limits to measure a size at: ``limits``, or :data:`CURVE_LIMITS` (+120 s)."""
    if limits:
        return list(limits)
    return [*CURVE_LIMITS, 120.0] if n >= 1500 else list(CURVE_LIMITS)


def run_curve(
    sizes: Sequence[int],
    limits: Sequence[float] | None,
    out: TextIO,
    seed: int = 0,
    json_path: Path | None = None,
    solvers: Sequence[str] = ("ours", "vroom"),
) -> list[PeerRow]:
    """Quality against waiting time: each size solved at every limit, a row each."""
    rows: list[PeerRow] = []
    print(PEER_HEADER, file=out, flush=True)
    for n in sizes:
        problem = generate_weekend(n, PEER_TEAMS.get(n), seed=seed)
        ctx = Context(problem)
        for limit in curve_limits(n, limits):
            for name in solvers:
                if name == "ours":
                    outcome = ours(problem, limit, seed=seed)
                else:
                    outcome = vroom_plan(ctx, limit)
                row = _row(problem, limit, outcome)
                rows.append(row)
                print(format_peer_row(row), file=out, flush=True)
    if json_path is not None:
        json_path.write_text(
            json.dumps([{**asdict(r), "travel_per_served": r.travel_per_served} for r in rows])
        )
    return rows


# --------------------------------------------------------------------------- Solomon

SOLOMON_UNIT_TICKS = 60
"""Solomon's time unit is one planner minute (60,000 ticks); VROOM and PyVRP get
thousandths of it, as whole numbers."""


def pyvrp_routes(inst: SolomonInstance, time_limit_s: float, seed: int = 0) -> list[list[int]]:
    """PyVRP (one thread) on a Solomon instance, vehicles then distance; customer numbers."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    scale = 1000
    m = Model()
    points = [inst.depot, *inst.customers]
    locs = [m.add_location(c.x, c.y) for c in points]
    depot = m.add_depot(locs[0], tw_early=round(inst.depot.ready * scale))
    m.add_vehicle_type(
        num_available=inst.vehicles,
        capacity=inst.capacity,
        start_depot=depot,
        end_depot=depot,
        fixed_cost=SOLOMON_VEHICLE_COST,
        tw_early=round(inst.depot.ready * scale),
        tw_late=round(inst.depot.due * scale),
        unit_distance_cost=1,
    )
    for c, loc in zip(inst.customers, locs[1:], strict=True):
        m.add_client(
            loc,
            delivery=c.demand,
            service_duration=round(c.service * scale),
            tw_early=round(c.ready * scale),
            tw_late=round(c.due * scale),
        )
    for a, la in zip(points, locs, strict=True):
        for b, lb in zip(points, locs, strict=True):
            # Rounded up: a plan PyVRP finds feasible is feasible in exact arithmetic.
            d = math.ceil(inst.distance(a, b) * scale) if a is not b else 0
            m.add_edge(la, lb, distance=d, duration=d)
    result = m.solve(MaxRuntime(time_limit_s), seed=seed, display=False)
    # A route iterates over its activities; a client's ``idx`` counts clients only.
    routes = [
        [inst.customers[a.idx].number for a in r if a.is_client()] for r in result.best.routes()
    ]
    return [r for r in routes if r]


@dataclass
class SolomonPeerRow:
    instance: str
    bks_vehicles: int | None
    bks_distance: float | None
    solver: str
    vehicles: int
    distance: float
    unserved: int
    seconds: float
    violations: int

    @property
    def gap(self) -> float | None:
        if self.bks_distance is None:
            return None
        return 100.0 * (self.distance - self.bks_distance) / self.bks_distance


def _solomon_tours(problem: Problem, routes: list[list[int]]) -> list[Tour]:
    return [Tour(k, 0, [str(n) for n in r]) for k, r in enumerate(routes)]


def run_peers_solomon(
    directory: Path,
    names: Sequence[str] | None,
    time_limit_s: float,
    out: TextIO,
    json_path: Path | None = None,
    solvers: Sequence[str] = ("ours", "pyvrp", "vroom"),
) -> list[SolomonPeerRow]:
    """Solomon instances, vehicles then distance: a line per instance with every solver."""
    bks_path = directory / "BKS.csv"
    bks = read_bks(bks_path) if bks_path.exists() else {}
    if not names:
        names = sorted(p.stem for p in directory.glob("*.txt"))
    rows: list[SolomonPeerRow] = []
    head = f"{'instance':<9}{'BKS':>4}{'BKS dist':>10}"
    for s in solvers:
        head += f"{s + ' veh':>11}{'gap %':>7}"
    print(head + "  ok", file=out, flush=True)
    for name in names:
        inst = read_instance(directory / f"{name}.txt")
        problem = inst.to_problem()
        ctx = Context(problem)
        best = bks.get((inst.name, "vehicles-then-distance")) or bks.get(
            (name, "vehicles-then-distance")
        )
        line = f"{inst.name:<9}{(best.vehicles if best else 0):>4}"
        line += f"{(best.distance if best else 0):>10.2f}"
        oks = []
        for s in solvers:
            t = time.monotonic()
            if s == "ours":
                outcome = ours(problem, time_limit_s, minimize_vehicles=True, balance=False)
            elif s == "pyvrp":
                routes = pyvrp_routes(inst, time_limit_s)
                outcome = plan_of(ctx, _solomon_tours(problem, routes), time.monotonic() - t, s)
            else:
                tours, seconds = vroom_tours(
                    ctx, time_limit_s, SOLOMON_UNIT_TICKS, SOLOMON_VEHICLE_COST
                )
                outcome = plan_of(ctx, tours, seconds, s)
            plan = outcome.plan
            assert plan is not None
            routes = [[int(x.visit) for x in r.stops] for r in plan.routes if r.stops]
            row = SolomonPeerRow(
                instance=inst.name,
                bks_vehicles=best.vehicles if best else None,
                bks_distance=best.distance if best else None,
                solver=s,
                vehicles=len(routes),
                distance=solomon_distance(inst, routes),
                unserved=len(plan.unassigned),
                seconds=outcome.seconds,
                violations=outcome.violations,
            )
            rows.append(row)
            gap = "" if row.gap is None else f"{row.gap:.2f}"
            line += f"{row.vehicles:>11}{gap:>7}"
            oks.append(row.violations == 0 and row.unserved == 0)
        print(line + "  " + ("yes" if all(oks) else "NO"), file=out, flush=True)
    for text in solomon_peer_summary(rows, solvers):
        print(text, file=out, flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps([{**asdict(r), "gap": r.gap} for r in rows]))
    return rows


def solomon_peer_summary(rows: list[SolomonPeerRow], solvers: Sequence[str]) -> list[str]:
    """Tours in total per solver, and the mean gap where two solvers have the same fleet."""
    lines = []
    by = {s: {r.instance: r for r in rows if r.solver == s} for s in solvers}
    bks_total = sum(r.bks_vehicles or 0 for r in by[solvers[0]].values())
    totals = ", ".join(f"{s} {sum(r.vehicles for r in by[s].values())}" for s in solvers)
    lines.append(f"tours in total: {totals} (best known {bks_total})")
    invalid = {s: sum(1 for r in by[s].values() if r.violations or r.unserved) for s in solvers}
    lines.append("invalid or incomplete: " + ", ".join(f"{s} {n}" for s, n in invalid.items()))
    first = solvers[0]
    for other in solvers[1:]:
        same = [
            (by[first][i], by[other][i])
            for i in by[first]
            if i in by[other] and by[first][i].vehicles == by[other][i].vehicles
        ]
        gaps = [(a.gap, b.gap) for a, b in same if a.gap is not None and b.gap is not None]
        if gaps:
            mine = sum(g[0] for g in gaps) / len(gaps)
            theirs = sum(g[1] for g in gaps) / len(gaps)
            lines.append(
                f"same fleet as {other} on {len(gaps)} instances: mean gap "
                f"{first} {mine:.2f}%, {other} {theirs:.2f}%"
            )
    return lines
