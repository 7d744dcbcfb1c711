"""PyVRP as one engine of the search portfolio, for the problems it can hold exactly.

PyVRP (PyPI ``pyvrp``) is a state-of-the-art iterated local search for vehicle routing with
time windows. When an instance fits (:func:`misfit` returns ``None``), one worker of the
portfolio (:class:`scheduling.solver.Portfolio`) runs PyVRP on the same integer instance
the OR-Tools model is built from, while the other worker runs our own search; the best
plan by the planner's objective is kept, and like every plan it is timed and checked
afterwards.

The mapping is exact, so a plan PyVRP finds feasible is feasible for our model:

* ticks are the instance's (travel and service rounded up, windows and shifts inwards);
  distance and duration matrices are the travel ticks of each travel mode (one PyVRP
  *profile* per mode); a client's service duration is its node's service ticks, so an
  arrival is the previous service start plus its service plus travel, as in our ``time``
  dimension;
* a visit node is a client with its window for the service start, clamped to its
  vehicles' shifts as in :class:`scheduling.solver.Model`;
* team points are depots (the instance already shares the node of coinciding points); the
  shared *open end* node is a depot reached at no cost from anywhere;
* vehicles (team shifts) with the same start and end node, shift, mode, capacity and visit
  limit form one vehicle type; the shift is the type's ``tw_early``/``tw_late``;
* ``demand``/``capacity`` is a load dimension; a single-shift team's ``max_visits`` is a
  second load dimension (one unit per visit);
* objective: a tour costs ``weights.vehicle_cost`` (``fixed_cost``), travel costs
  ``weights.balance_weight`` per tick; with ``required`` every visit must be served (the
  fewest-tours objective, where the tour cost is raised: :data:`TOUR_COST_WARP_MIN`),
  otherwise a visit is optional with a prize equal to what leaving it out costs in our
  objective (its priority, and its pin).

What does not fit: a visit that only some vehicles may make (skills, languages, pinned or
forbidden teams, or shifts that cannot reach it), several windows for one visit, a
``max_visits`` shared by a team's shifts, fixed visits and the change cost of replanning.
The balance term (the longest tour's visit count) is not given to PyVRP; our model counts
it when the plans are compared.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from scheduling.instance import Instance
from scheduling.travel import TICKS_PER_MIN

READ_BACK_S = 0.1
"""Seconds kept back from PyVRP's run for reading its plan back and judging it."""

LOAD_SCALE_COST = 35_000
"""Loads are multiplied by the mean arc cost over this (at least 1): PyVRP's penalty for a
unit of excess load is bounded (``PenaltyParams.max_penalty``, 100,000), and in our ticks
an arc costs about 60 times more than in the bench's direct use of PyVRP (distances x
1,000), where one unit of Solomon demand weighs, at the middle penalty, about 1.4 mean
arcs. Scaling demand and capacity together changes no plan's feasibility."""

MAX_PENALTY = 100_000
"""PyVRP's default ``PenaltyParams.max_penalty`` (per unit of excess load)."""

TOUR_COST_WARP_MIN = 10
"""With ``required`` (fewest tours), PyVRP's cost of a tour is at least what this many
minutes of time warp cost at PyVRP's largest penalty. Any cost above every travel total
orders plans the same way (tours, then travel), but PyVRP's search empties tours through
plans with some time warp: with our vehicle cost (just above the travel total, in ticks) a
tour was worth a fraction of a minute of warp, and PyVRP kept a tour more than when it is
called directly (distances x 1,000, a tour 10^9) on R102, R105-R109 (10 s, a shared
machine). 10 minutes is the ratio of that direct use."""


def has_pyvrp() -> bool:
    """Whether ``pyvrp`` can be imported."""
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        return False
    return True


def misfit(inst: Instance) -> str | None:
    """Why PyVRP cannot hold this instance exactly, or ``None`` when it can."""
    nveh = len(inst.vehicles)
    nv = inst.n_visits
    if nveh == 0 or nv == 0:
        return "nothing to route"
    if len(set(inst.visit_ids)) < nv:
        return "a visit with several windows"
    if any(len(a) < nveh for a in inst.allowed):
        return "a visit only some team shifts may make (skills, languages, pins, forbidden)"
    shifts: dict[int, int] = {}
    for v in inst.vehicles:
        shifts[v.team] = shifts.get(v.team, 0) + 1
    if any(shifts.get(team, 0) > 1 for team in inst.max_visits):
        return "a max_visits shared by a team's shifts"
    if inst.fixed or inst.previous:
        return "replanning (kept visits or a change cost)"
    for node in range(nv):
        if _window(inst, node) is None:
            return "a visit no shift can start in its window"
    return None


def _window(inst: Instance, node: int) -> tuple[int, int] | None:
    """The service-start window of a visit node, as our model bounds it."""
    lo = min(v.t0 for v in inst.vehicles)
    hi = max(v.t1 for v in inst.vehicles) - int(inst.service[node])
    for a, b in inst.windows[node]:
        lo, hi = max(lo, a), min(hi, b)
    return (lo, hi) if lo <= hi else None


def problem_data(
    inst: Instance, weights: Any, required: bool, caps: list[int]
) -> tuple[Any, list[list[int]]]:
    """PyVRP's ``ProblemData`` for a fitting instance, and the vehicles of each type.

    ``weights`` is the :class:`scheduling.solver.Weights` of the instance. Locations are
    the depots (team point nodes) first, then the visit nodes in order. ``caps`` are the
    vehicles' visit limits (:func:`scheduling.solver.shift_caps`).
    """
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    nv = inst.n_visits
    point_nodes = sorted({n for v in inst.vehicles for n in (v.start_node, v.end_node)})
    depot_of = {node: i for i, node in enumerate(point_nodes)}
    nodes = point_nodes + list(range(nv))
    modes = sorted({v.mode for v in inst.vehicles})
    profile = {m: i for i, m in enumerate(modes)}
    matrices = []
    for m in modes:
        a = inst.ticks[m][np.ix_(nodes, nodes)].astype(np.int64)
        np.fill_diagonal(a, 0)
        matrices.append(a)
    load = int(inst.demand.sum()) > 0
    count = any(c < nv for c in caps)
    big = int(inst.demand.sum())
    arcs = [float(a[len(point_nodes) :, len(point_nodes) :].mean()) for a in matrices]
    arc_scale = max(1, round(max(arcs) * int(weights.balance_weight) / LOAD_SCALE_COST))
    # With prizes, the most a visit's load can cost in excess must exceed the largest
    # prize, or PyVRP keeps an overloaded tour as its best plan.
    prize = 0 if required else max(weights.penalty(inst, n) for n in range(nv))
    smallest = min((int(d) for d in inst.demand[:nv] if d > 0), default=1)
    load_scale = max(arc_scale, -(-2 * prize // (MAX_PENALTY * smallest)))
    count_scale = max(arc_scale, -(-2 * prize // MAX_PENALTY))

    def vehicle_capacity(k: int) -> list[int]:
        v = inst.vehicles[k]
        out = []
        if load:
            out.append(min(big, inst.capacity.get(v.team, big)) * load_scale)
        if count:
            out.append(caps[k] * count_scale)
        return out

    clients = []
    for node in range(nv):
        window = _window(inst, node)
        assert window is not None, "misfit() rules this out"
        delivery = []
        if load:
            delivery.append(int(inst.demand[node]) * load_scale)
        if count:
            delivery.append(count_scale)
        clients.append(
            Client(
                location=len(point_nodes) + node,
                delivery=delivery,
                service_duration=int(inst.service[node]),
                tw_early=window[0],
                tw_late=window[1],
                prize=0 if required else weights.penalty(inst, node),
                required=required,
            )
        )
    tour_cost = int(weights.vehicle_cost)
    if required and tour_cost > 0:
        tour_cost = max(tour_cost, TOUR_COST_WARP_MIN * TICKS_PER_MIN * MAX_PENALTY)
    depots = [Depot(location=i) for i in range(len(point_nodes))]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, v in enumerate(inst.vehicles):
        key = (v.start_node, v.end_node, v.t0, v.t1, v.mode, tuple(vehicle_capacity(k)))
        groups.setdefault(key, []).append(k)
    types = [
        VehicleType(
            num_available=len(ks),
            capacity=list(key[5]),
            start_depot=depot_of[key[0]],
            end_depot=depot_of[key[1]],
            fixed_cost=tour_cost,
            tw_early=key[2],
            tw_late=key[3],
            unit_distance_cost=int(weights.balance_weight),
            profile=profile[key[4]],
        )
        for key, ks in groups.items()
    ]
    data = ProblemData(
        locations=[Location(0.0, 0.0) for _ in nodes],
        clients=clients,
        depots=depots,
        vehicle_types=types,
        distance_matrices=matrices,
        duration_matrices=[a.copy() for a in matrices],
    )
    return data, list(groups.values())


def routes_of(inst: Instance, solution: Any, vehicles_of_type: list[list[int]]) -> list[list[int]]:
    """A PyVRP solution as visit nodes per vehicle of the instance."""
    routes: list[list[int]] = [[] for _ in inst.vehicles]
    free = [list(ks) for ks in vehicles_of_type]
    for r in solution.routes():
        visits = [a.idx for a in r if a.is_client()]
        if not visits:
            continue
        k = free[r.vehicle_type()].pop(0)
        routes[k] = visits
    return routes


class _Stop:
    """PyVRP's stopping criterion: the deadline, or the portfolio's stop hook."""

    def __init__(self, end: float, stop: Callable[[], bool] | None) -> None:
        self.end = end
        self.stop = stop

    def __call__(self, best_cost: float) -> bool:
        return time.monotonic() >= self.end or (self.stop is not None and self.stop())


def solve_routes(
    inst: Instance,
    weights: Any,
    caps: list[int],
    time_s: float,
    stop: Callable[[], bool] | None,
    seed: int,
    required: bool,
) -> tuple[list[list[int]], int] | None:
    """Run PyVRP on a fitting instance for ``time_s``: its routes (visit nodes per vehicle)
    and its iterations, or ``None`` when it ends without a feasible plan (with
    ``required``: when it could not serve every visit). The plan is judged by our own model
    by the caller (:func:`scheduling.solver.pyvrp_search`).
    """
    from pyvrp import solve as pyvrp_solve
    from pyvrp.exceptions import PenaltyBoundWarning

    start = time.monotonic()
    data, vehicles_of_type = problem_data(inst, weights, required, caps)
    end = start + max(0.05, time_s - READ_BACK_S)
    with warnings.catch_warnings():
        # PyVRP warns when a penalty reaches its bound while plans stay infeasible; the
        # plan is judged by the caller (and by scheduling.check) whatever it says.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp_solve(data, _Stop(end, stop), seed=seed, collect_stats=False, display=False)
    best = result.best
    if not best.is_feasible():
        return None
    return routes_of(inst, best, vehicles_of_type), int(result.num_iterations)
