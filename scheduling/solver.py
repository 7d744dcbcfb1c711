"""The OR-Tools routing model and the search around it.

Model (see docs/scheduling.md for the reasoning):

* one vehicle per team shift; nodes as in :mod:`scheduling.instance`;
* travel is registered once per travel mode as a transit *matrix* (no Python callback per
  arc): a cost matrix (travel ticks, times ``balance_weight``) and a time matrix (service
  at the origin node plus travel ticks) for the ``time`` dimension, whose slack is waiting;
* windows: a visit's cumul var (service start) is bounded by its window; a visit with
  several windows has one node per window, grouped in one disjunction;
* shifts: vehicle start and end cumuls are bounded by the shift;
* ``count`` dimension (1 per visit) with the team's ``max_visits`` as vehicle capacity, plus
  one linear constraint per multi-shift team over its shifts' end cumuls;
* ``load`` dimension for the ``demand``/``capacity`` extension;
* skills, languages, forbidden and pinned teams, and team shifts that cannot reach the
  visit in time, all become the visit's allowed vehicles (an ``allowed`` dimension of
  capacity 0 with per-vehicle unary transits);
* objective, exact and lexicographic: every visit is a disjunction whose penalty is
  ``priority * PRIORITY_UNIT`` where ``PRIORITY_UNIT`` exceeds any possible total of the
  other terms, so serving more priority always wins; then travel ticks times
  ``balance_weight``; then the largest number of visits on one tour (global span of
  ``count``, coefficient 1, always below ``balance_weight``). With ``minimize_vehicles``,
  a fixed cost per used tour larger than any travel total sits between the two.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue as queue_mod
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from scheduling.instance import Instance

_stage_log = logging.getLogger("scheduling.stages")

INT64_SAFE = 2**62

FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic
COOLING = routing_ils_pb2.CoolingScheduleStrategy


@dataclass(frozen=True)
class Progress:
    """Best plan so far, reported while the solver runs.

    Parameters
    ----------
    served : int
        Visits served by the best plan so far.
    served_priority : int
        Sum of their priorities.
    travel_min : float
        Its total travel time in minutes (solver-rounded).
    elapsed_s : float
        Wall-clock seconds since :func:`scheduling.solve` started.
    vehicles : int
        Tours in use.
    """

    served: int
    served_priority: int
    travel_min: float
    elapsed_s: float
    vehicles: int = 0


@dataclass(frozen=True)
class SearchConfig:
    """How one worker searches; the portfolio in :data:`PORTFOLIO` was chosen by measurement.

    ``first`` is a FirstSolutionStrategy name, ``meta`` one of ``gls``, ``ils``, ``sa``,
    ``tabu``, ``greedy``. ILS (OR-Tools' ruin and recreate with SISR ruins and
    simulated-annealing acceptance) ignores search limits, so it must only run in a child
    process that can be ended.

    The other fields matter only with ``minimize_vehicles`` and ``reduce_share > 0`` (see
    :func:`search`); shares are fractions of the worker's time limit:

    first_share : float
        Plain search before the route elimination starts.
    reduce_share : float
        End of the route elimination (:func:`_reduce_fleet`); then travel only.
    elimination_slice : float
        Longest attempt at emptying one tour.
    polish_slice : float
        Search on the plan just out of a successful elimination, before the next one.

    ``meta="pyvrp"`` runs PyVRP instead of OR-Tools (:mod:`scheduling.pyvrp_bridge`, only
    for instances it holds exactly); ``serve_all`` then makes every visit required (the
    fewest-tours objective), else each is optional with its penalty as a prize.
    """

    first: str = "PARALLEL_CHEAPEST_INSERTION"
    meta: str = "gls"
    gls_lambda: float = 0.1
    reduce_share: float = 0.0
    sisr_removed: int = 10
    sisr_sequence: int = 10
    first_share: float = 0.25
    elimination_slice: float = 0.35
    polish_slice: float = 0.1
    serve_all: bool = False


PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig(first="PATH_CHEAPEST_ARC", meta="gls"),
    SearchConfig(first="PATH_CHEAPEST_ARC", meta="sa"),
)
"""Worker ``i`` uses ``PORTFOLIO[i % len(PORTFOLIO)]`` with seed ``seed + i``."""


@dataclass(frozen=True)
class Budget:
    """Limits of one search: wall time and, for reproducible runs, a solution count."""

    time_s: float
    solutions: int | None = None


@dataclass
class Found:
    """A worker's best: routes as visit-node lists per vehicle, and its objective."""

    routes: list[list[int]]
    objective: int
    worker: int
    solutions: int = 0


@dataclass
class Weights:
    """Objective coefficients; see the module docstring."""

    balance_weight: int
    vehicle_cost: int
    priority_unit: int
    change_cost: int = 0
    pin_unit: int = 0  # penalty of leaving out a pinned visit, above all priorities together

    @classmethod
    def for_instance(
        cls, inst: Instance, minimize_vehicles: bool, balance: bool, fixed_cost_ticks: int = 0
    ) -> Weights:
        nv = inst.n_visits
        nveh = max(1, len(inst.vehicles))
        max_arc = max((int(a.max()) for a in inst.ticks.values() if a.size), default=0)
        # Travel on a tour never exceeds the tour's duration, nor (#arcs x longest arc).
        travel_bound = min(
            sum(max(0, v.t1 - v.t0) for v in inst.vehicles), (nv + nveh) * max(1, max_arc)
        )
        weight = nv + 1 if balance else 1
        other = travel_bound * weight + (nv if balance else 0)
        vehicle_cost = other + 1 if minimize_vehicles else fixed_cost_ticks * weight
        # Replanning: moving a visit off its previous tour costs more than any travel.
        changes = len(inst.previous)
        change_cost = other + nveh * vehicle_cost + 1 if changes else 0
        unit = other + nveh * vehicle_cost + changes * change_cost + 1
        total_priority = int(inst.priority.sum()) + 1
        # Pinned visits come before any priority: leaving one out costs more than leaving
        # out every other visit together.
        pins = len({inst.visit_ids[n] for n in range(nv) if inst.is_pinned(n)})
        pin_unit = unit * total_priority if pins else 0
        total = unit * total_priority + pin_unit * pins
        if total >= INT64_SAFE and balance:
            return cls.for_instance(inst, minimize_vehicles, False, fixed_cost_ticks)
        if total >= INT64_SAFE:
            raise OverflowError("the problem's horizon and size overflow the objective")
        return cls(weight, vehicle_cost, unit, change_cost, pin_unit)

    def penalty(self, inst: Instance, node: int) -> int:
        """What leaving out the visit of ``node`` costs: its priority, and the pin."""
        pin = self.pin_unit if inst.is_pinned(node) else 0
        return int(inst.priority[node]) * self.priority_unit + pin


@dataclass
class Hooks:
    """Callbacks used inside one search (kept out of pickled data)."""

    stop: Callable[[], bool] | None = None
    improved: Callable[[int, list[list[int]] | None, dict[str, float]], None] | None = None
    incumbent: Callable[[], Found | None] | None = None  # best of the other workers


# --------------------------------------------------------------------------- model

EXACT_SHARED_LIMIT_VISITS = 200
"""Up to this many visit nodes, a multi-shift team's ``max_visits`` is one linear
constraint over its shifts. That constraint is seen only by propagation, and on larger
instances it stops the first-solution heuristics (measured: no first solution in 15 s for
500 visits, 0.3 s without it), so above this size the limit is shared out among the
team's shifts in proportion to their length, which is exact for feasibility but may serve
slightly fewer visits."""


def _by_team(inst: Instance) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for k, v in enumerate(inst.vehicles):
        out.setdefault(v.team, []).append(k)
    return out


def shift_caps(inst: Instance) -> list[int]:
    """Visit capacity per vehicle (team shift); see :data:`EXACT_SHARED_LIMIT_VISITS`."""
    nv = inst.n_visits
    caps = [min(inst.max_visits.get(v.team, nv), nv) for v in inst.vehicles]
    if nv <= EXACT_SHARED_LIMIT_VISITS:
        return caps
    if inst.vehicle_caps is not None:
        return [min(int(c), nv) for c in inst.vehicle_caps]
    for team, ks in _by_team(inst).items():
        limit = inst.max_visits.get(team)
        if limit is None or len(ks) < 2:
            continue
        lengths = np.array(
            [max(1, inst.vehicles[k].t1 - inst.vehicles[k].t0) for k in ks], dtype=float
        )
        share = lengths / lengths.sum() * limit
        part = np.floor(share).astype(int)
        for j in np.argsort(-(share - part), kind="stable")[: limit - int(part.sum())]:
            part[j] += 1
        for k, c in zip(ks, part, strict=True):
            caps[k] = min(int(c), nv)
    return caps


class Model:
    """An OR-Tools routing model for one instance."""

    def __init__(
        self,
        inst: Instance,
        weights: Weights,
        balance: bool,
        max_vehicles: int | None = None,
    ) -> None:
        self.inst = inst
        self.weights = weights
        self.balance = balance
        n = inst.n_nodes
        nveh = len(inst.vehicles)
        self.manager = pywrapcp.RoutingIndexManager(
            n, nveh, [v.start_node for v in inst.vehicles], [v.end_node for v in inst.vehicles]
        )
        routing = pywrapcp.RoutingModel(self.manager)
        self.routing = routing
        nv = inst.n_visits
        cost_cb: dict[str, int] = {}
        time_cb: dict[str, int] = {}
        for mode, ticks in inst.ticks.items():
            cost_cb[mode] = routing.RegisterTransitMatrix((ticks * weights.balance_weight).tolist())
            time_cb[mode] = routing.RegisterTransitMatrix((ticks + inst.service[:, None]).tolist())
        modes = {v.mode for v in inst.vehicles}
        if len(modes) == 1:
            routing.SetArcCostEvaluatorOfAllVehicles(cost_cb[next(iter(modes))])
        else:
            for k, v in enumerate(inst.vehicles):
                routing.SetArcCostEvaluatorOfVehicle(cost_cb[v.mode], k)
        horizon = max([v.t1 for v in inst.vehicles] + [1])
        routing.AddDimensionWithVehicleTransits(
            [time_cb[v.mode] for v in inst.vehicles], horizon, horizon, False, "time"
        )
        tdim = routing.GetDimensionOrDie("time")
        self.time = tdim
        for k, v in enumerate(inst.vehicles):
            tdim.CumulVar(routing.Start(k)).SetRange(v.t0, v.t1)
            tdim.CumulVar(routing.End(k)).SetRange(v.t0, v.t1)
        for node in range(nv):
            idx = self.manager.NodeToIndex(node)
            allowed = inst.allowed[node]
            lo = min(inst.vehicles[k].t0 for k in allowed)
            hi = max(inst.vehicles[k].t1 for k in allowed) - int(inst.service[node])
            cumul = tdim.CumulVar(idx)
            for a, b in inst.windows[node]:  # at most one: see Instance
                lo, hi = max(lo, a), min(hi, b)
            if lo > hi:  # screening prevents this; never let the solver place it anyway
                routing.ActiveVar(idx).SetValue(0)
                continue
            cumul.SetRange(lo, hi)
        # Allowed vehicles. SetAllowedVehiclesForIndex's Python binding rejects every list
        # in OR-Tools 9.15 (absl::Span<const int>), and restricting VehicleVar domains is
        # seen only by propagation, which makes first-solution heuristics fail and
        # backtrack. So: an "allowed" dimension of capacity 0 whose per-vehicle unary
        # transit is 1 on the visits that vehicle may not make; dimension filters reject
        # such moves as cheaply as any capacity violation.
        forbidden_for = [np.zeros(n, dtype=np.int64) for _ in range(nveh)]
        restricted = False
        for node in range(nv):
            allowed = inst.allowed[node]
            if len(allowed) < nveh:
                restricted = True
                mask = np.ones(nveh, dtype=bool)
                mask[allowed] = False
                for k in np.nonzero(mask)[0]:
                    forbidden_for[k][node] = 1
        if restricted:
            cache: dict[bytes, int] = {}
            evaluators = []
            for vec in forbidden_for:
                key = vec.tobytes()
                if key not in cache:
                    cache[key] = routing.RegisterUnaryTransitVector(vec.tolist())
                evaluators.append(cache[key])
            routing.AddDimensionWithVehicleTransitAndCapacity(
                evaluators, 0, [0] * nveh, True, "allowed"
            )
        # Visit count per tour, and the team limit over all its shifts.
        ones = [1] * nv + [0] * (n - nv)
        count_cb = routing.RegisterUnaryTransitVector(ones)
        caps = shift_caps(inst)
        routing.AddDimensionWithVehicleCapacity(count_cb, 0, caps, True, "count")
        cdim = routing.GetDimensionOrDie("count")
        if balance:
            cdim.SetGlobalSpanCostCoefficient(1)
        if nv <= EXACT_SHARED_LIMIT_VISITS:
            solver = routing.solver()
            for team, ks in _by_team(inst).items():
                limit = inst.max_visits.get(team)
                if limit is not None and len(ks) > 1 and limit < nv:
                    solver.Add(solver.Sum([cdim.CumulVar(routing.End(k)) for k in ks]) <= limit)
        if int(inst.demand.sum()) > 0:
            load_cb = routing.RegisterUnaryTransitVector([int(x) for x in inst.demand])
            big = int(inst.demand.sum())
            routing.AddDimensionWithVehicleCapacity(
                load_cb,
                0,
                [min(big, inst.capacity.get(v.team, big)) for v in inst.vehicles],
                True,
                "load",
            )
        if weights.vehicle_cost:
            routing.SetFixedCostOfAllVehicles(weights.vehicle_cost)
        if max_vehicles is not None:
            routing.SetMaximumNumberOfActiveVehicles(max_vehicles)
        groups: dict[str, list[int]] = {}
        for node in range(nv):
            groups.setdefault(inst.visit_ids[node], []).append(node)
        for nodes in groups.values():
            idxs = [self.manager.NodeToIndex(node) for node in nodes]
            kept = [node for node in nodes if node in inst.fixed]
            if kept:
                vehicle, start = inst.fixed[kept[0]]
                for node, idx in zip(nodes, idxs, strict=True):
                    if node == kept[0]:
                        routing.VehicleVar(idx).SetValue(vehicle)
                        tdim.CumulVar(idx).SetRange(start, start)
                    else:
                        routing.ActiveVar(idx).SetValue(0)
                continue
            # One disjunction per visit: at most one of its window nodes is performed.
            routing.AddDisjunction(idxs, weights.penalty(inst, nodes[0]))
        for node, k in inst.previous.items():
            idx = self.manager.NodeToIndex(node)
            routing.AddSoftSameVehicleConstraint([routing.Start(k), idx], weights.change_cost)

    # -- solutions -----------------------------------------------------------------

    def routes_of(self, value: Callable[[Any], int]) -> list[list[int]]:
        """Visit nodes per vehicle, reading next values through ``value``."""
        routing, manager = self.routing, self.manager
        out = []
        for k in range(len(self.inst.vehicles)):
            idx = routing.Start(k)
            nodes = []
            idx = value(routing.NextVar(idx))
            while not routing.IsEnd(idx):
                nodes.append(manager.IndexToNode(idx))
                idx = value(routing.NextVar(idx))
            out.append(nodes)
        return out

    def assignment_from(self, routes: Sequence[Sequence[int]]) -> Any:
        """An OR-Tools assignment for these routes, or ``None`` if they are infeasible."""
        idx = [[self.manager.NodeToIndex(n) for n in r] for r in routes]
        return self.routing.ReadAssignmentFromRoutes(idx, True)

    def summary(self, routes: list[list[int]]) -> dict[str, float]:
        """Served count, served priority, travel minutes and tours of some routes."""
        inst = self.inst
        served = sum(len(r) for r in routes)
        prio = sum(int(inst.priority[n]) for r in routes for n in r)
        ticks = 0
        for k, r in enumerate(routes):
            if not r:
                continue
            v = inst.vehicles[k]
            m = inst.ticks[v.mode]
            path = [v.start_node, *r, v.end_node]
            ticks += int(m[path[:-1], path[1:]].sum())
        return {
            "served": served,
            "served_priority": prio,
            "travel_min": ticks / 60_000,
            "vehicles": sum(1 for r in routes if r),
        }


def _params(config: SearchConfig, budget: Budget, meta: str | None = None) -> Any:
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = getattr(FIRST_SOLUTION, config.first)
    meta = meta or config.meta
    if meta == "ils":
        p.use_iterated_local_search = True
        p.local_search_metaheuristic = METAHEURISTIC.GREEDY_DESCENT
        rr = p.iterated_local_search_parameters.ruin_recreate_parameters
        del rr.ruin_strategies[:]
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = config.sisr_sequence
        sisr.avg_num_removed_visits = config.sisr_removed
        sisr.bypass_factor = 0.01
        acc = p.iterated_local_search_parameters.reference_solution_acceptance_strategy
        acc.simulated_annealing.automatic_temperatures = True
    else:
        p.local_search_metaheuristic = {
            "gls": METAHEURISTIC.GUIDED_LOCAL_SEARCH,
            "sa": METAHEURISTIC.SIMULATED_ANNEALING,
            "tabu": METAHEURISTIC.TABU_SEARCH,
            "greedy": METAHEURISTIC.GREEDY_DESCENT,
        }[meta]
        p.guided_local_search_lambda_coefficient = config.gls_lambda
    ms = max(1, int(budget.time_s * 1000))
    p.time_limit.seconds = ms // 1000
    p.time_limit.nanos = (ms % 1000) * 1_000_000
    if budget.solutions is not None:
        p.solution_limit = budget.solutions
    return p


def sisr_size(inst: Instance) -> int:
    """Average visits removed (and longest string) per SISR ruin: about 40% of the expected
    tour length, between 10 and 20.

    Measured on Solomon (9 s ILS): 20 instead of 10 shortened the long tours of R205, RC207
    and RC208 by 2-7% but lengthened R110's short tours by 8%; the expected tour length is
    the visit count over a fleet lower bound (total demand over tour capacity).
    """
    nv = max(1, inst.n_visits)
    return int(min(20, max(10, round(0.4 * nv / fleet_bound(inst)))))


def fleet_bound(inst: Instance) -> int:
    """The tours to expect, for sizing ruins and telling long tours from short ones: the
    :func:`tours_needed` by every visit's load (capped by the vehicles available), or the
    number of vehicles when there is no load to go by."""
    fleet = max(1, len(inst.vehicles))
    if not inst.capacity or int(inst.demand.sum()) <= 0:
        return fleet
    return min(fleet, tours_needed(inst, [list(range(inst.n_visits))]))


def tours_needed(inst: Instance, routes: list[list[int]]) -> int:
    """A lower bound on the tours that can serve the visits of ``routes``: their demand
    over the largest tour capacity; 1 when a tour has no capacity or there is no demand."""
    load = sum(int(inst.demand[n]) for r in routes for n in r)
    if load <= 0 or any(v.team not in inst.capacity for v in inst.vehicles):
        return 1
    cap = max(1, max(inst.capacity[v.team] for v in inst.vehicles))
    return max(1, -(-load // cap))


def _solve(
    model: Model, config: SearchConfig, budget: Budget, initial: Any = None, meta: str | None = None
) -> Any:
    """One OR-Tools solve: ILS from scratch, or the configured metaheuristic."""
    meta = meta or config.meta
    if meta == "ils" and initial is None:
        size = sisr_size(model.inst)
        config = replace(config, sisr_removed=size, sisr_sequence=size)
        return model.routing.SolveWithIteratedLocalSearch(_params(config, budget, "ils"))
    p = _params(config, budget, "gls" if meta == "ils" else meta)
    if initial is not None:
        return model.routing.SolveFromAssignmentWithParameters(initial, p)
    return model.routing.SolveWithParameters(p)


def _ils(
    model: Model,
    config: SearchConfig,
    budget: Budget,
    hint: Any = None,
    temperatures: tuple[float, float] | None = None,
) -> Any:
    """Ruin-and-recreate ILS, guided by ``hint`` (an assignment of ``model``) when given.

    ``SolveWithIteratedLocalSearch`` takes no initial assignment, only the model's
    first-solution hint, which LOCAL_CHEAPEST_INSERTION (and LOCAL_CHEAPEST_COST_INSERTION)
    use to guide their insertions; other strategies ignore it, and even these do not
    reproduce the hinted plan (see docs/scheduling.md, "Fewest tours"). ``temperatures``
    (initial, final) replace the automatic simulated-annealing temperatures, so that a
    resumed search continues the cooling of one long run instead of starting hot again
    (see :func:`_temperatures`).
    """
    size = sisr_size(model.inst)
    p = _params(replace(config, sisr_removed=size, sisr_sequence=size), budget, "ils")
    if temperatures is not None:
        sa = p.iterated_local_search_parameters.reference_solution_acceptance_strategy
        sa.simulated_annealing.automatic_temperatures = False
        sa.simulated_annealing.cooling_schedule_strategy = COOLING.EXPONENTIAL
        sa.simulated_annealing.initial_temperature = temperatures[0]
        sa.simulated_annealing.final_temperature = temperatures[1]
    if hint is not None:
        model.routing.SetFirstSolutionHint(hint)
    return model.routing.SolveWithIteratedLocalSearch(p)


def _temperatures(inst: Instance, weights: Weights, p0: float, p1: float) -> tuple[float, float]:
    """The annealing temperatures of one long ILS run at progress ``p0`` and ``p1`` (0-1).

    OR-Tools' automatic temperatures cool exponentially from 0.1 to 0.001 times the
    average arc cost; the average is taken here over the visit-to-visit arcs of every
    vehicle's travel mode, in objective units.
    """
    nv = inst.n_visits
    costs = []
    for v in inst.vehicles:
        m = inst.ticks[v.mode][:nv, :nv]
        costs.append(float(m.sum()) / max(1, nv * (nv - 1)))
    ref = max(1.0, sum(costs) / max(1, len(costs)) * weights.balance_weight)
    t0, t1 = 0.1 * ref, 0.001 * ref
    return t0 * (t1 / t0) ** p0, t0 * (t1 / t0) ** p1


def _attach(model: Model, hooks: Hooks, best: list[int | None], count: list[int]) -> None:
    routing = model.routing

    def on_solution() -> None:
        count[0] += 1
        if hooks.improved is None:
            return
        obj = routing.CostVar().Value()
        if best[0] is None or obj < best[0]:
            best[0] = obj
            routes = model.routes_of(lambda var: var.Value())
            hooks.improved(obj, routes, model.summary(routes))

    routing.AddAtSolutionCallback(on_solution)
    if hooks.stop is not None:
        stop = hooks.stop
        calls = [0]

        def limit() -> bool:
            # Every 8th call: every 64th let a 15 s search (300 visits, loaded machine)
            # end 3.5 s late; ``stop`` itself looks at the clock at most every 50 ms.
            calls[0] += 1
            return calls[0] % 8 == 0 and stop()

        routing.AddSearchMonitor(routing.solver().CustomLimit(limit))


LONG_TOURS = 0.2
"""Tours holding more than this share of the visits are "long": the ILS worker leaves
their elimination to the other worker (Solomon: R1, RC1, C1 tours hold about 10% of the
visits, R2, RC2, C2 tours 25-50%)."""

TOURS_PER_PLAN = 2
"""Tours (fewest visits first) the elimination tries to empty before it moves to another
plan with as many tours."""


def _eliminate(
    model: Model,
    config: SearchConfig,
    trial: list[list[int]],
    max_vehicles: int,
    need: int,
    budget: Budget,
    hooks: Hooks,
) -> list[list[int]] | None:
    """Try to serve ``need`` priority with at most ``max_vehicles`` tours, from ``trial``.

    ``trial`` is a plan with one tour emptied; its visits are left out. Rounds of greedy
    descent (each from the previous round's plan, with at most ``max_vehicles`` tours)
    put back the visits that fit and, with the swap-active operators, exchange a visit
    left out for a visit in a tour when that lowers the penalties. After every round the
    penalty of each visit still left out grows by its priority, so the visits that keep
    failing to fit push out the ones that fit more easily, which can then fit elsewhere:
    the ejection pool of Nagata and Bräysy's route minimisation, with its "absence"
    counters as penalty weights. Returns the first plan (in ``model``'s nodes) serving
    ``need``, or ``None`` when the budget runs out first.
    """
    inst, weights = model.inst, model.weights
    nv = inst.n_visits
    groups: dict[str, list[int]] = {}
    for node in range(nv):
        groups.setdefault(inst.visit_ids[node], []).append(node)
    # Weighted penalties must stay below 2^62 in total, like the plain ones.
    total = int(inst.priority.sum()) + 1
    pins = weights.pin_unit * int(np.count_nonzero(inst.pinned))
    cap = max(1, (INT64_SAFE - pins) // max(1, weights.priority_unit * total))
    scale = np.ones(nv, dtype=np.int64)
    current = trial
    end = time.monotonic() + budget.time_s
    stop = hooks.stop
    calls = [0]

    def limit() -> bool:
        calls[0] += 1
        return stop is not None and calls[0] % 64 == 0 and stop()

    while True:
        left = end - time.monotonic()
        if left <= 0 or (stop is not None and stop()):
            return None
        m = Model(
            replace(inst, priority=inst.priority * scale), weights, model.balance, max_vehicles
        )
        m.routing.AddSearchMonitor(m.routing.solver().CustomLimit(limit))
        start = m.assignment_from(current)
        if start is None:
            return None
        sol = _solve(m, config, Budget(left), start, "greedy")
        if sol is None:
            return None
        current = m.routes_of(sol.Value)
        served = {n for r in current for n in r}
        if sum(int(inst.priority[n]) for n in served) >= need:
            return current
        for nodes in groups.values():
            if not served.intersection(nodes):
                scale[nodes] = np.minimum(scale[nodes] + 1, cap)


def _walk(
    judge: Model,
    config: SearchConfig,
    routes: list[list[int]],
    max_vehicles: int,
    need: int,
    budget: Budget,
    hooks: Hooks,
    best: list[int | None],
    count: list[int],
    meta: str,
) -> tuple[list[list[int]], tuple[list[list[int]], int] | None] | None:
    """Search from ``routes`` with at most ``max_vehicles`` tours, with ``meta`` (``gls``
    or ``ils``), reporting improvements through ``hooks``.

    Returns the plan to try the next route elimination on and the best plan found with
    its objective (``None`` if none beat ``routes``), or ``None`` if ``routes`` is not a
    feasible start. With GLS the next plan is the last one visited that serves ``need``
    priority (another plan with as many tours); with ILS it is the best complete plan
    met, since ILS plans were measured to be good ground for the elimination.
    """
    m = Model(judge.inst, judge.weights, judge.balance, max_vehicles=max_vehicles)
    _attach(m, hooks, best, count)
    start = m.assignment_from(routes)
    if start is None:
        return None
    prio = judge.inst.priority
    first = start.ObjectiveValue()
    last: list[list[list[int]]] = [routes]
    top: list[tuple[list[list[int]], int]] = []

    def on_solution() -> None:
        rs = m.routes_of(lambda var: var.Value())
        if sum(int(prio[n]) for r in rs for n in r) < need:
            return
        obj = m.routing.CostVar().Value()
        if meta == "gls":
            last[0] = rs
        if obj < first and (not top or obj < top[0][1]):
            top[:] = [(rs, obj)]
            if meta == "ils":
                last[0] = rs

    m.routing.AddAtSolutionCallback(on_solution)
    if meta == "ils":
        _ils(m, config, budget, start)
    else:
        _solve(m, config, budget, start, "gls")
    return last[0], (top[0] if top else None)


def _reduce_fleet(
    judge: Model,
    config: SearchConfig,
    routes: list[list[int]],
    objective: int,
    until: float,
    budget_s: float,
    hooks: Hooks,
    best: list[int | None],
    count: list[int],
    walk_meta: str,
    short_only: bool = False,
) -> tuple[list[list[int]], int]:
    """Route elimination until ``until`` (a ``time.monotonic()``); the best plan found.

    Loop: take the smallest tour of the current plan and try to empty it
    (:func:`_eliminate`, at most ``config.elimination_slice`` of ``budget_s`` seconds
    each). After a success the new plan is improved for ``config.polish_slice`` of the
    time with ``walk_meta`` (a plan just out of the elimination is feasible but long, and
    later eliminations may all fail); after :data:`TOURS_PER_PLAN` failures the search
    moves to another plan with as many tours: the other worker's if it has not been tried,
    else one found by a walk of ``walk_meta``. The other worker's plan is taken whenever it
    has fewer tours.
    """
    prio = judge.inst.priority

    def served(rs: list[list[int]]) -> int:
        return sum(int(prio[n]) for r in rs for n in r)

    def used_of(rs: list[list[int]]) -> int:
        return sum(1 for r in rs if r)

    def plan_key(rs: list[list[int]]) -> tuple[tuple[int, ...], ...]:
        return tuple(sorted(tuple(r) for r in rs if r))

    def stopped() -> bool:
        return hooks.stop is not None and hooks.stop()

    def incumbent() -> Found | None:
        return hooks.incumbent() if hooks.incumbent is not None else None

    def walk(plan: list[list[int]], tours: int, seconds: float) -> list[list[int]] | None:
        nonlocal routes, objective
        walked = _walk(
            judge, config, plan, tours, served(plan), Budget(seconds), hooks, best, count, walk_meta
        )
        if walked is None:
            return None
        if walked[1] is not None and walked[1][1] < objective:
            routes, objective = walked[1]
        return walked[0]

    current = routes  # the plan whose tours we try to empty (not always the best one)
    other = incumbent()
    if other is not None and other.objective < objective:
        routes, objective = other.routes, other.objective
        if walk_meta == "gls" or used_of(other.routes) < used_of(current):
            # Tours are emptied more easily from a plan whose travel has been optimised
            # (measured: from ILS plans the elimination succeeded on RC105 and RC106
            # where it failed from GLS plans), so the GLS worker starts from the other
            # worker's plan; the ILS worker keeps its own unless it has more tours, so
            # that the two do not make the same attempts on the same plan.
            current = routes
    failed: set[tuple[int, ...]] = set()  # tours of ``current`` that could not be emptied
    swept: set[tuple[tuple[int, ...], ...]] = set()  # plans given up on
    while time.monotonic() < until and not stopped():
        other = incumbent()
        if other is not None:
            if other.objective < objective:
                routes, objective = other.routes, other.objective
            if used_of(other.routes) < used_of(current):
                current, failed = other.routes, set()
        used = [k for k, r in enumerate(current) if r]
        if len(used) <= tours_needed(judge.inst, current):
            # No plan with fewer tours can carry the load: the rest is for travel.
            break
        if short_only and min(len(current[k]) for k in used) > LONG_TOURS * sum(
            len(current[k]) for k in used
        ):
            # Every tour holds more than LONG_TOURS of the visits (a few long tours, as
            # in R2, RC2, C2): emptying one means re-inserting so many visits that it
            # rarely works, and this worker's time is worth more to travel.
            break
        todo = [k for k in used if tuple(current[k]) not in failed]
        if not todo or len(failed) >= TOURS_PER_PLAN:
            swept.add(plan_key(current))
            failed = set()
            if (
                other is not None
                and used_of(other.routes) == len(used)
                and plan_key(other.routes) not in swept
            ):
                current = other.routes
                continue
            seconds = min(until - time.monotonic(), budget_s * config.elimination_slice)
            nxt = walk(current, len(used), max(0.05, seconds))
            if nxt is None:
                break
            current = nxt
            continue
        # The two workers often work on the same plan (the better one): the ILS worker
        # starts with the second smallest tour so that they do not repeat each other.
        order = sorted(todo, key=lambda k: (len(current[k]), k))
        drop = order[min(len(order) - 1, 1 if walk_meta == "ils" and not failed else 0)]
        trial = [[] if k == drop else list(r) for k, r in enumerate(current)]
        seconds = min(until - time.monotonic(), budget_s * config.elimination_slice)
        r2 = _eliminate(
            judge, config, trial, len(used) - 1, served(current), Budget(max(0.1, seconds)), hooks
        )
        if r2 is None:
            failed.add(tuple(current[drop]))
            continue
        current, failed = r2, set()
        count[0] += 1
        a2 = judge.assignment_from(r2)
        obj2 = a2.ObjectiveValue() if a2 is not None else None
        if obj2 is not None and obj2 < objective:
            routes, objective = r2, obj2
            if hooks.improved is not None and (best[0] is None or objective < best[0]):
                best[0] = objective
                hooks.improved(objective, routes, judge.summary(routes))
        seconds = min(until - time.monotonic(), budget_s * config.polish_slice)
        if seconds > 0.05:
            nxt = walk(current, len(used) - 1, seconds)
            if nxt is not None:
                current = nxt
    return routes, objective


PYVRP_META = "pyvrp"
"""``SearchConfig.meta`` of the PyVRP worker (:mod:`scheduling.pyvrp_bridge`)."""


def pyvrp_search(
    inst: Instance,
    weights: Weights,
    balance: bool,
    budget: Budget,
    hooks: Hooks,
    seed: int,
    worker: int,
    required: bool,
) -> Found | None:
    """Run PyVRP on a fitting instance within ``budget`` and value its plan by our model.

    ``None`` when PyVRP ends without a feasible plan (with ``required``: when it could not
    serve every visit), or its plan is not feasible for our model (never seen; a guard).
    """
    from scheduling import pyvrp_bridge

    found = pyvrp_bridge.solve_routes(
        inst, weights, shift_caps(inst), budget.time_s, hooks.stop, seed, required
    )
    if found is None:
        return None
    routes, iterations = found
    judge = Model(inst, weights, balance)
    assignment = judge.assignment_from(routes)
    if assignment is None:
        return None
    objective = int(assignment.ObjectiveValue())
    if hooks.improved is not None:
        hooks.improved(objective, routes, judge.summary(routes))
    return Found(routes, objective, worker, iterations)


def search(
    inst: Instance,
    weights: Weights,
    balance: bool,
    config: SearchConfig,
    budget: Budget,
    hooks: Hooks,
    initial: list[list[int]] | None = None,
    worker: int = 0,
    seed: int = 0,
) -> Found | None:
    """Run one search on an instance and return its best routes (in this instance's nodes).

    With ``config.meta == "pyvrp"`` the search is PyVRP's, seeded with ``seed``
    (:func:`pyvrp_search`; ``initial`` is not used).

    With a vehicle cost and ``config.reduce_share > 0`` (and no solution budget), the
    first ``config.first_share`` of the time is a plain search, then until
    ``config.reduce_share`` a route-elimination loop (:func:`_reduce_fleet`), and the rest
    optimises travel from the best plan this worker or the other has: guided local search
    for ``gls``, ILS continuing the cooling of one long run for ``ils``.
    """
    if config.meta == PYVRP_META:
        return pyvrp_search(inst, weights, balance, budget, hooks, seed, worker, config.serve_all)
    start = time.monotonic()
    best: list[int | None] = [None]
    count = [0]
    model = Model(inst, weights, balance)
    _attach(model, hooks, best, count)
    # Building the model (matrices into C++) and reading the first plan into it count
    # against the budget.
    first = model.assignment_from(initial) if initial is not None else None
    built = time.monotonic()
    budget = Budget(max(0.05, budget.time_s - (built - start)), budget.solutions)
    start = built
    reduce = bool(weights.vehicle_cost) and config.reduce_share > 0 and budget.solutions is None
    first_share = config.first_share
    if config.meta == "ils" and fleet_bound(inst) * LONG_TOURS < 1:
        # Expected tours hold more than LONG_TOURS of the visits: this worker will not
        # take part in the elimination (see _reduce_fleet), so its first ILS runs on
        # until it looks at the other worker's plan (one restart instead of two).
        first_share = config.reduce_share
    phase = Budget(budget.time_s * (first_share if reduce else 1.0), budget.solutions)
    solution = _solve(model, config, phase, first)
    if solution is None:
        return None
    routes = model.routes_of(solution.Value)
    objective = solution.ObjectiveValue()
    if not reduce:
        return Found(routes, objective, worker, count[0])

    # Keep the best plan any later search reports: ILS returns the best plan it met
    # *after* its starting hint, which under a tight fleet can be one that leaves visits
    # out, while a better complete plan went by in its callbacks.
    seen: list[Found] = []
    outer = hooks.improved

    def improved(obj: int, rs: list[list[int]] | None, info: dict[str, float]) -> None:
        if rs is not None and (not seen or obj < seen[0].objective):
            seen[:] = [Found(rs, obj, worker)]
        if outer is not None:
            outer(obj, rs, info)

    hooks = replace(hooks, improved=improved)
    # A model searched under a time limit may refuse every plan afterwards
    # (ReadAssignmentFromRoutes fails once its limit has been crossed), so plans are
    # checked and their objectives computed with this one, which is never searched.
    judge = Model(inst, weights, balance)
    meta = "ils" if config.meta == "ils" else "gls"
    routes, objective = _reduce_fleet(
        judge,
        config,
        routes,
        objective,
        start + budget.time_s * config.reduce_share,
        budget.time_s,
        hooks,
        best,
        count,
        meta,
        short_only=meta == "ils",
    )
    # Travel from the best plan either worker has. ILS cannot be told about a better plan
    # while it runs: if its elimination loop ended early, it runs in two parts, looking
    # at the other worker's plan again when the other's elimination phase ends.
    switch = start + budget.time_s * config.reduce_share
    ends = [start + budget.time_s]
    if meta == "ils" and switch - time.monotonic() > 0.2:
        ends.insert(0, switch)
    for end in ends:
        if hooks.incumbent is not None:
            other = hooks.incumbent()
            if other is not None and other.objective < objective:
                routes, objective = other.routes, other.objective
        left = end - time.monotonic()
        if left <= 0.2 or (hooks.stop is not None and hooks.stop()):
            break
        m3 = Model(inst, weights, balance, max_vehicles=sum(1 for r in routes if r))
        _attach(m3, hooks, best, count)
        a = m3.assignment_from(routes)
        if a is None:
            break
        if meta == "ils":
            p0 = (time.monotonic() - start) / budget.time_s
            p1 = (end - start) / budget.time_s
            sol3 = _ils(m3, config, Budget(left), a, _temperatures(inst, weights, p0, p1))
        else:
            sol3 = _solve(m3, config, Budget(left), a, "gls")
        if sol3 is not None and sol3.ObjectiveValue() <= objective:
            routes, objective = m3.routes_of(sol3.Value), sol3.ObjectiveValue()
        if seen and seen[0].objective < objective:
            routes, objective = seen[0].routes, seen[0].objective
    if seen and seen[0].objective < objective:
        routes, objective = seen[0].routes, seen[0].objective
    return Found(routes, objective, worker, count[0])


# --------------------------------------------------------------------------- workers


def _child(
    inst: Instance,
    weights: Weights,
    balance: bool,
    config: SearchConfig,
    budget: Budget,
    seed: int,
    initial: list[list[int]] | None,
    worker: int,
    out: Any,
    stop_event: Any,
    deadline: float,
    inbox: Any = None,
) -> None:
    """Entry point of a worker process: search a permuted instance, report to ``out``.

    ``inbox``, when given, brings the in-process worker's better plans (in the
    instance's own node numbers) for this worker to continue from.
    """
    pinst, perm = inst.permuted(seed)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    back = [int(x) for x in perm]

    def improved(obj: int, routes: list[list[int]] | None, info: dict[str, float]) -> None:
        # Routes travel with every improvement: the parent may end this process at any
        # moment (ILS ignores search limits) and still keep its best plan.
        mapped = None if routes is None else [[back[n] for n in r] for r in routes]
        out.put(("progress", worker, obj, info, mapped))

    received: list[Found] = []

    def incumbent() -> Found | None:
        while True:
            try:
                routes, obj = inbox.get_nowait()
            except queue_mod.Empty:
                break
            if not received or obj < received[0].objective:
                received[:] = [Found([[int(inv[n]) for n in r] for r in routes], obj, 0)]
        return received[0] if received else None

    hooks = Hooks(
        stop=stop_event.is_set,
        improved=improved,
        incumbent=incumbent if inbox is not None else None,
    )
    init = None if initial is None else [[int(inv[n]) for n in r] for r in initial]
    # The budget ends at the parent's deadline, not later: starting took time.
    left = max(0.1, deadline - time.time())
    budget = Budget(min(budget.time_s, left), budget.solutions)
    found = search(pinst, weights, balance, config, budget, hooks, init, worker, seed)
    if found is not None:
        found.routes = [[back[n] for n in r] for r in found.routes]
    out.put(("done", worker, found))


@dataclass
class Portfolio:
    """Runs workers in parallel (one in this process), keeps the best, relays progress."""

    inst: Instance
    weights: Weights
    balance: bool
    budget: Budget
    seed: int = 0
    workers: int = 2
    configs: Sequence[SearchConfig] = PORTFOLIO
    initial: list[list[int]] | None = None
    progress: Callable[[dict[str, float]], None] | None = None
    should_stop: Callable[[], bool] | None = None
    started: float = field(default_factory=time.monotonic)

    def run(self) -> Found | None:
        entered = time.monotonic()
        ctx = mp.get_context("spawn")
        out = ctx.Queue() if self.workers > 1 else None
        stop_event = ctx.Event() if self.workers > 1 else None
        # Plans go to the children too, but only under a time limit: a solution budget
        # must give the same plan on every run, whatever the timing of messages.
        cooperate = self.workers > 1 and self.budget.solutions is None
        # Only a child that eliminates tours reads plans; the others get no inbox, so
        # that nothing piles up unread in a long search.
        inboxes = (
            [ctx.Queue() for _ in range(1, self.workers)]
            if cooperate
            and bool(self.weights.vehicle_cost)
            and any(c.reduce_share > 0 and c.meta != PYVRP_META for c in self.configs)
            else []
        )
        procs = []
        for w in range(1, self.workers):
            p = ctx.Process(
                target=_child,
                args=(
                    self.inst,
                    self.weights,
                    self.balance,
                    self.configs[w % len(self.configs)],
                    self.budget,
                    self.seed + w,
                    self.initial,
                    w,
                    out,
                    stop_event,
                    time.time() + self.budget.time_s,
                    inboxes[w - 1] if inboxes else None,
                ),
                daemon=True,
            )
            p.start()
            procs.append(p)
        best_obj: list[int | None] = [None]
        results: dict[int, Found | None] = {}
        reported: dict[int, Found] = {}
        last_poll = [0.0]

        def report(obj: int, info: dict[str, float]) -> None:
            if best_obj[0] is None or obj < best_obj[0]:
                best_obj[0] = obj
                if self.progress is not None:
                    self.progress({**info, "elapsed_s": time.monotonic() - self.started})

        def drain(block_s: float = 0.0) -> None:
            if out is None:
                return
            deadline = time.monotonic() + block_s
            while True:
                try:
                    wait = max(0.0, deadline - time.monotonic())
                    msg = out.get(timeout=wait) if wait > 0 else out.get_nowait()
                except queue_mod.Empty:
                    return
                if msg[0] == "progress":
                    report(msg[2], msg[3])
                    if msg[4] is not None:
                        reported[msg[1]] = Found(msg[4], msg[2], msg[1])
                else:
                    results[msg[1]] = msg[2]
                    if block_s > 0:
                        return

        stopped = [False]

        # OR-Tools' own time limit was seen ending a 15 s guided local search 5 s late (300
        # visits, a loaded machine): the search is also stopped at the wall-clock deadline.
        hard_end = entered + self.budget.time_s

        def stop() -> bool:
            now = time.monotonic()
            if now - last_poll[0] < 0.05:
                return stopped[0]
            last_poll[0] = now
            if self.budget.solutions is None and now > hard_end:
                return True
            drain()
            send()
            if self.should_stop is not None and not stopped[0] and self.should_stop():
                stopped[0] = True
                if stop_event is not None:
                    stop_event.set()
            return stopped[0]

        pinst, perm = self.inst.permuted(self.seed)
        inv = np.empty_like(perm)
        inv[perm] = np.arange(perm.size)

        def incumbent() -> Found | None:
            drain()
            if not reported:
                return None
            f = min(reported.values(), key=lambda x: (x.objective, x.worker))
            return Found([[int(inv[n]) for n in r] for r in f.routes], f.objective, f.worker)

        sent = [0.0, 0]  # when, and with how many tours, a plan last went to the children
        pending: list[tuple[list[list[int]], int]] = []  # a newer plan not sent yet

        def send() -> None:
            # Throttled: a smaller fleet goes at once, travel improvements every 0.2 s
            # (the newest one waits, and goes with a later poll).
            if not pending:
                return
            plan, obj = pending[0]
            tours = sum(1 for r in plan if r)
            now = time.monotonic()
            if sent[1] == 0 or tours < sent[1] or now - sent[0] >= 0.2:
                sent[:] = [now, tours]
                pending.clear()
                for box in inboxes:
                    box.put((plan, obj))

        def improved(obj: int, routes: list[list[int]] | None, info: dict[str, float]) -> None:
            report(obj, info)
            if inboxes and routes is not None:
                pending[:] = [([[int(perm[n]) for n in r] for r in routes], obj)]
                send()

        hooks = Hooks(
            stop=stop,
            improved=improved,
            incumbent=incumbent if cooperate else None,
        )
        init = None if self.initial is None else [[int(inv[n]) for n in r] for r in self.initial]
        # Starting the other workers took time here too: the budget ends at the same moment.
        left = self.budget.time_s - (time.monotonic() - entered)
        budget = Budget(max(0.05, left), self.budget.solutions)
        found = search(
            pinst, self.weights, self.balance, self.configs[0], budget, hooks, init, 0, self.seed
        )
        if found is not None:
            found.routes = [[int(perm[n]) for n in r] for r in found.routes]
        results[0] = found
        _stage_log.info(
            "in-process search ended %.2f s after entering (budget %.2f s)",
            time.monotonic() - entered,
            self.budget.time_s,
        )
        # Children had the same budget and started a little later: wait for them until
        # the deadline (plus a short grace), or until asked to stop; then end them and
        # keep the best plan each one reported.
        deadline = time.monotonic() + 0.5
        while len(results) < self.workers and procs:
            if stopped[0] or (self.should_stop is not None and self.should_stop()):
                break
            if self.budget.solutions is None and time.monotonic() > deadline:
                break
            drain(0.05)
        if stop_event is not None:
            stop_event.set()
        for p in procs:
            p.join(timeout=0.2)
            if p.is_alive():
                p.terminate()
                p.join()
        drain()
        for w, f in reported.items():
            done = results.get(w)
            if done is None or f.objective < done.objective:
                results[w] = f
        if out is not None:
            out.close()
            out.join_thread()
        for box in inboxes:
            # A child may have ended without reading everything: do not wait on it.
            box.cancel_join_thread()
            box.close()
        _stage_log.info("portfolio ended %.2f s after entering", time.monotonic() - entered)
        candidates = [f for f in results.values() if f is not None]
        if not candidates:
            return None
        chosen = min(candidates, key=lambda f: (f.objective, f.worker))
        _stage_log.info(
            "portfolio: best plan from worker %d (%s), objective %d",
            chosen.worker,
            self.configs[chosen.worker % len(self.configs)].meta,
            chosen.objective,
        )
        return chosen
