"""``solve``: from a :class:`Problem` to a :class:`Plan`.

The steps: screen every visit against every team shift (reasons for the impossible ones),
build the integer instance, run the search portfolio (or, for large problems, the
decomposition in :mod:`scheduling.decompose`), then time each tour with
:func:`scheduling.timeline.build_route`, insert any left-out visit that still fits
(:mod:`scheduling.insertion`) and assemble the plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from scheduling.decompose import solve_large
from scheduling.firstplan import make as make_first_plan
from scheduling.insertion import Filled, PlacedTour, fill_until
from scheduling.instance import Instance
from scheduling.model import Plan, Problem, Route, Stats, Unassigned
from scheduling.params import SolveParams
from scheduling.pyvrp_bridge import has_pyvrp, misfit
from scheduling.reasons import UNTRIED_DETAIL, capacity_detail
from scheduling.solver import (
    PORTFOLIO,
    PYVRP_META,
    Budget,
    Portfolio,
    Progress,
    SearchConfig,
    Weights,
)
from scheduling.stages import Stages
from scheduling.timeline import TourFailure, build_route
from scheduling.tours import Context, Tour, tours_from_routes

SOLOMON_PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig(first="PATH_CHEAPEST_ARC", meta="gls", reduce_share=0.7),
    SearchConfig(first="LOCAL_CHEAPEST_INSERTION", meta="ils", reduce_share=0.7),
)
"""With ``minimize_vehicles``: both workers search alone for a quarter of the time, then
empty tours one at a time until 70% of it (the ILS worker only while tours are short),
sharing plans; the rest goes to travel, with guided local search in this process and
ruin-and-recreate ILS in the child. See docs/scheduling.md for the measurements."""


PYVRP_WORKER = SearchConfig(meta=PYVRP_META)
"""The PyVRP worker (:mod:`scheduling.pyvrp_bridge`); with ``minimize_vehicles`` it serves
every visit (``serve_all``) and a fixed cost per tour above any travel sets the fleet."""


def pyvrp_configs(inst: Instance, params: SolveParams) -> tuple[SearchConfig, ...] | None:
    """The portfolio with PyVRP, when it applies to this instance (else ``None``).

    In this process PyVRP (it starts at once, while the other worker's process starts);
    in the child our own search as without PyVRP: GLS with route elimination for
    ``minimize_vehicles`` (``SOLOMON_PORTFOLIO[0]``), else GLS (``PORTFOLIO[0]``).
    """
    if (
        not params.pyvrp
        or params.configs is not None
        or params.workers < 2
        or params.solution_limit is not None
        or misfit(inst) is not None
        or not has_pyvrp()
    ):
        return None
    if params.minimize_vehicles:
        return (replace(PYVRP_WORKER, serve_all=True), SOLOMON_PORTFOLIO[0])
    return (PYVRP_WORKER, PORTFOLIO[0])


def assemble(
    ctx: Context,
    tours: Sequence[Tour],
    solve_s: float = 0.0,
    progress: Callable[[Progress], None] | None = None,
    started: float | None = None,
    fill_left: bool = True,
    until: float | None = None,
) -> Plan:
    """Time every tour and build the plan; unserved visits get their screened reason.

    A tour that cannot be timed (which the solver should never produce) loses the stop at
    fault until it can, so the plan is always feasible. Visits that screening allows but
    the tours leave out are then tried in every able team shift
    (:func:`scheduling.insertion.fill`): a visit is reported as ``capacity`` only when it
    fits nowhere. An insertion serves more priority than any plan the search reported, so
    it is reported to ``progress`` too (``started`` is the ``time.monotonic()`` the elapsed
    time counts from). With ``fill_left=False`` the tours are only timed (the benchmarks
    use it to check other solvers' plans as they are). The insertion pass tries no visit
    after ``until`` (a ``time.monotonic()`` value); a visit it had no time to try stays
    out as ``capacity`` with a detail saying so (:data:`scheduling.reasons.UNTRIED_DETAIL`).
    """
    problem = ctx.problem
    placed: dict[tuple[int, int], PlacedTour] = {}
    for tour in tours:
        team = problem.teams[tour.team]
        ids = list(tour.visit_ids)
        arcs = tour.arcs
        fixed = dict(tour.fixed_start or {})
        while ids:
            route = build_route(
                problem,
                ctx.travel,
                ctx.clock,
                team,
                tour.shift,
                ids,
                arcs=None if arcs is None else arcs[: len(ids) + 1],
                requested=[fixed.get(v) for v in ids] if fixed else None,
            )
            if not isinstance(route, TourFailure):
                kept = {v: t for v, t in fixed.items() if v in ids}
                placed[(tour.team, tour.shift)] = PlacedTour(
                    tour.team, tour.shift, ids, route, kept
                )
                break
            del ids[min(route.position, len(ids) - 1)]
            arcs = None
    served = {v for p in placed.values() for v in p.visit_ids}
    left = [v.id for v in problem.visits if v.id not in served and v.id in ctx.screening.allowed]
    filled = (
        fill_until(problem, ctx.travel, ctx.clock, ctx.screening.allowed, placed, left, until)
        if fill_left
        else Filled([], [])
    )
    inserted = filled.inserted
    untried = set(filled.untried)
    routes = sorted((p.route for p in placed.values()), key=lambda r: (r.team, r.shift))
    served = {v for p in placed.values() for v in p.visit_ids}
    unassigned = []
    for v in problem.visits:
        if v.id in served:
            continue
        reason = ctx.screening.reasons.get(v.id)
        if reason is None:
            detail = UNTRIED_DETAIL if v.id in untried else capacity_detail(v)
            reason = Unassigned(v.id, "capacity", detail)
        unassigned.append(reason)
    stats = stats_of(problem, routes, solve_s)
    if inserted and progress is not None:
        progress(
            Progress(
                served=stats.served,
                served_priority=stats.served_priority,
                travel_min=stats.travel_min,
                elapsed_s=0.0 if started is None else time.monotonic() - started,
                vehicles=len(routes),
            )
        )
    return Plan(tuple(routes), tuple(unassigned), stats)


def stats_of(problem: Problem, routes: Sequence[Route], solve_s: float = 0.0) -> Stats:
    """Summary figures of some routes."""
    prio = {v.id: v.priority for v in problem.visits}
    dists = [r.distance_m for r in routes]
    return Stats(
        served=sum(len(r.stops) for r in routes),
        served_priority=sum(prio.get(s.visit, 0) for r in routes for s in r.stops),
        travel_min=float(sum(r.travel_min for r in routes)),
        solve_s=solve_s,
        distance_m=None
        if any(d is None for d in dists)
        else int(sum(d for d in dists if d is not None)),
        teams_used=len({r.team for r in routes if r.stops}),
    )


def _to_progress(info: dict[str, float]) -> Progress:
    return Progress(
        served=int(info["served"]),
        served_priority=int(info["served_priority"]),
        travel_min=float(info["travel_min"]),
        elapsed_s=float(info["elapsed_s"]),
        vehicles=int(info.get("vehicles", 0)),
    )


def run_portfolio(
    inst: Instance,
    params: SolveParams,
    time_s: float,
    started: float,
    initial: list[list[int]] | None = None,
    workers: int | None = None,
) -> list[list[int]] | None:
    """Search one instance with the portfolio; return the best routes or ``None``."""
    if inst.n_visits == 0 and not inst.fixed:
        return [[] for _ in inst.vehicles]
    weights = Weights.for_instance(
        inst,
        params.minimize_vehicles,
        params.balance,
        int(round(params.vehicle_fixed_cost_min * 60_000)),
    )
    configs = params.configs or pyvrp_configs(inst, params)
    if configs is None:
        configs = SOLOMON_PORTFOLIO if params.minimize_vehicles else PORTFOLIO
    progress = params.progress
    portfolio = Portfolio(
        inst=inst,
        weights=weights,
        balance=params.balance and weights.balance_weight > 1,
        budget=Budget(max(0.1, time_s), params.solution_limit),
        seed=params.seed,
        workers=max(1, workers if workers is not None else params.workers),
        configs=configs,
        initial=initial,
        progress=None if progress is None else (lambda info: progress(_to_progress(info))),
        should_stop=params.should_stop,
        started=started,
    )
    found = portfolio.run()
    return None if found is None else found.routes


def _priority(inst: Instance, routes: list[list[int]] | None) -> int:
    return 0 if routes is None else sum(int(inst.priority[n]) for r in routes for n in r)


def finish_reserve_s(params: SolveParams) -> float:
    """Seconds kept back from the search for ending the workers, timing the plan and the
    final insertion pass (4% of the limit: the search ends up to a few seconds late on a
    loaded machine, and the pass serves what the search's per-shift limits left out)."""
    return 0.3 + (0.6 if params.workers > 1 else 0.0) + 0.04 * params.time_limit_s


ASSEMBLY_S = 0.15
"""Seconds kept back from the final insertion pass for building the plan after it."""


def solve(problem: Problem, params: SolveParams | None = None) -> Plan:
    """Plan the visits: most priority served, then least travel, then balance.

    Parameters
    ----------
    problem : Problem
    params : SolveParams, optional

    With a first plan (``params.first_plan``, see :mod:`scheduling.firstplan`) the search
    starts from it; ``plan.stats.first_plan`` says which one was used.

    Returns
    -------
    Plan
        Feasible by construction; every visit not in a route is in ``unassigned`` with
        a reason (``no_skill``, ``no_window``, ``unreachable``, ``forbidden``,
        ``capacity``).
    """
    params = params or SolveParams()
    started = time.monotonic()
    # Every stage ends by the limit: the final insertion pass tries no visit after
    # ``ends``, so the call returns within the limit plus one insertion and the assembly.
    ends = started + params.time_limit_s - ASSEMBLY_S
    stages = Stages(started)
    ctx = Context(problem)
    routable = len(ctx.screening.allowed)
    stages.done("screening", visits=routable)
    if routable > params.decompose_above:
        tours, source = solve_large(ctx, params, started, stages)
        plan = assemble(
            ctx, tours, time.monotonic() - started, params.progress, started, until=ends
        )
        stages.done("final insertion", priority=plan.stats.served_priority)
        return replace(
            plan, stats=replace(plan.stats, first_plan=source, solve_s=time.monotonic() - started)
        )
    inst = Instance.build(problem, ctx.travel, ctx.clock, ctx.screening)
    stages.done("instance", nodes=inst.n_nodes)
    remaining = params.time_limit_s - (time.monotonic() - started) - finish_reserve_s(params)
    if pyvrp_configs(inst, params) is None:
        initial, source = make_first_plan(ctx, inst, params, remaining)
    else:
        initial, source = None, "none"
    stages.done("first plan", maker=source, priority=_priority(inst, initial))
    remaining = params.time_limit_s - (time.monotonic() - started) - finish_reserve_s(params)
    routes = run_portfolio(inst, params, remaining, started, initial=initial)
    if routes is None and initial is not None:
        routes = initial
    stages.done("search", priority=_priority(inst, routes))
    tours = [] if routes is None else tours_from_routes(inst, routes)
    plan = assemble(ctx, tours, time.monotonic() - started, params.progress, started, until=ends)
    stages.done("final insertion", priority=plan.stats.served_priority)
    return replace(
        plan, stats=replace(plan.stats, first_plan=source, solve_s=time.monotonic() - started)
    )
