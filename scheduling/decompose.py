"""Large problems: split by location, solve the parts in parallel, then repair.

1. Visits are clustered by location with k-means (about :data:`PART_VISITS` visits per
   part; seeded, so reproducible).
2. Teams are shared out among the parts by a min-cost flow (OR-Tools): each part gets a
   number of team shifts in proportion to its visits, and the teams that go to a part are
   the ones whose start points are nearest to it overall.
3. Each part is an ordinary instance searched by one worker; ``params.workers`` parts run
   at the same time in separate processes.
4. Repair: visits left out by their part are inserted, most urgent first, at the cheapest
   feasible place in any tour of the nearest able teams (all parts), timed with the same
   :func:`scheduling.timeline.time_tour` as everything else.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from scheduling.firstplan import choose_large, to_routes, vroom_placed
from scheduling.insertion import PlacedTour
from scheduling.instance import Instance
from scheduling.params import SolveParams
from scheduling.solver import PORTFOLIO, Budget, Hooks, Progress, Weights, search
from scheduling.timeline import (
    TourFailure,
    service_ticks,
    shift_ticks,
    time_tour,
    window_ticks,
)
from scheduling.tours import Context, Tour, tours_from_routes
from scheduling.travel import TICKS_PER_MIN, end_id, minutes_to_ticks, start_id

PART_VISITS = 600
REPAIR_SHARE = 0.1
NEAREST_TEAMS = 25

_stop_event: Any = None


def _init_worker(event: Any) -> None:
    global _stop_event
    _stop_event = event


def _search_part(
    inst: Instance,
    weights: Weights,
    balance: bool,
    budget: Budget,
    seed: int,
    initial: list[list[int]] | None = None,
    ends_at: float | None = None,
) -> list[list[int]] | None:
    # A part of the second round starts late: it ends with the others (wall clock).
    if ends_at is not None:
        budget = Budget(max(1.0, min(budget.time_s, ends_at - time.time())), budget.solutions)
    pinst, perm = inst.permuted(seed)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    init = None if initial is None else [[int(inv[n]) for n in r] for r in initial]
    hooks = Hooks(stop=_stop_event.is_set if _stop_event is not None else None)
    found = search(pinst, weights, balance, PORTFOLIO[0], budget, hooks, init)
    if found is None:
        return None
    return [[int(perm[n]) for n in r] for r in found.routes]


def _coords(ctx: Context, keys: list[str]) -> np.ndarray:
    """Planar coordinates (km) for clustering; with a matrix, a classical MDS embedding."""
    if ctx.problem.matrix is None:
        lat = np.empty(len(keys))
        lng = np.empty(len(keys))
        pts = {v.id: v.location for v in ctx.problem.visits}
        pts.update({start_id(t.id): t.start for t in ctx.problem.teams})
        for i, k in enumerate(keys):
            loc = pts[k]
            assert loc is not None
            lat[i], lng[i] = loc.lat, loc.lng
        k_lat = 111.2
        k_lng = 111.2 * math.cos(math.radians(float(np.mean(lat))))
        return np.column_stack([lat * k_lat, lng * k_lng])
    d = ctx.travel.minutes_matrix("matrix", keys)
    d = (d + d.T) / 2
    n = d.shape[0]
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ (d**2) @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:2]
    return v[:, top] * np.sqrt(np.maximum(w[top], 0))


def _kmeans(x: np.ndarray, k: int, seed: int, rounds: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = [x[int(rng.integers(len(x)))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None, :] - np.array(centres)[None, :, :]) ** 2).sum(-1), axis=1)
        centres.append(x[int(np.argmax(d2))])
    c = np.array(centres)
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(rounds):
        labels = np.argmin(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1), axis=1)
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return labels


def _share_teams(
    team_xy: np.ndarray, centres: np.ndarray, sizes: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Min-cost flow: each team to one part, parts get team weight in proportion to visits."""
    n_teams, k = len(team_xy), len(centres)
    total = float(weight.sum())
    quota = np.floor(sizes / sizes.sum() * n_teams).astype(int)
    for j in np.argsort(-(sizes / sizes.sum() * n_teams - quota))[: n_teams - int(quota.sum())]:
        quota[j] += 1
    del total
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = n_teams + k, n_teams + k + 1
    cost = np.sqrt(((team_xy[:, None, :] - centres[None, :, :]) ** 2).sum(-1)) * 1000
    for t in range(n_teams):
        flow.add_arc_with_capacity_and_unit_cost(source, t, 1, 0)
        for j in range(k):
            flow.add_arc_with_capacity_and_unit_cost(t, n_teams + j, 1, int(cost[t, j]))
    for j in range(k):
        flow.add_arc_with_capacity_and_unit_cost(n_teams + j, sink, int(quota[j]), 0)
    flow.set_node_supply(source, n_teams)
    flow.set_node_supply(sink, -n_teams)
    part = np.argmin(cost, axis=1)
    if flow.solve() == flow.OPTIMAL:
        for a in range(flow.num_arcs()):
            t, h = flow.tail(a), flow.head(a)
            if t < n_teams and n_teams <= h < n_teams + k and flow.flow(a) > 0:
                part[t] = h - n_teams
    return part


def solve_large(ctx: Context, params: SolveParams, started: float) -> tuple[list[Tour], str]:
    """Decompose, solve the parts in parallel, repair; return the tours and the first plan.

    With a first plan (VROOM's, see :func:`scheduling.firstplan.choose_large`) each team
    goes to the part nearest to the visits VROOM gave it, its visits follow it, and each
    part's search starts from its share of that plan; the second value names the maker
    used (``"vroom"`` or ``"none"``).
    """
    problem = ctx.problem
    visit_ids = [v.id for v in problem.visits if v.id in ctx.screening.allowed]
    k = max(2, math.ceil(len(visit_ids) / PART_VISITS))
    keys = visit_ids + [start_id(t.id) for t in problem.teams]
    xy = _coords(ctx, keys)
    vxy, txy = xy[: len(visit_ids)], xy[len(visit_ids) :]
    labels = _kmeans(vxy, k, params.seed)
    centres = np.array(
        [vxy[labels == j].mean(axis=0) if np.any(labels == j) else vxy[0] for j in range(k)]
    )
    sizes = np.bincount(labels, minlength=k).astype(float) + 1e-9
    placed: dict[tuple[int, int], PlacedTour] = {}
    source = "none"
    if choose_large(params) == "vroom":
        seconds = max(0.5, params.time_limit_s - (time.monotonic() - started))
        placed = vroom_placed(ctx, seconds * params.first_plan_share, len(keys))
        source = "vroom"
    team_of: dict[str, int] = {v: key[0] for key, p in placed.items() for v in p.visit_ids}
    if team_of:
        # Each team sits where VROOM sent it: at the centre of its visits.
        pos = {v: i for i, v in enumerate(visit_ids)}
        txy = txy.copy()
        for ti in range(len(problem.teams)):
            mine = [pos[v] for v, t in team_of.items() if t == ti]
            if mine:
                txy[ti] = vxy[mine].mean(axis=0)
    team_part = _share_teams(txy, centres, sizes, np.ones(len(problem.teams)))
    # A pinned visit can only go to its team: it joins its team's part, wherever it lies
    # (in another part it would have no vehicle at all); so does a visit of the first plan.
    team_pos = {t.id: i for i, t in enumerate(problem.teams)}
    for i, vid in enumerate(visit_ids):
        pin = problem.visit(vid).pinned_team
        if pin is not None:
            labels[i] = team_part[team_pos[pin]]
        elif vid in team_of:
            labels[i] = team_part[team_of[vid]]
    parts = []
    starts: list[list[list[int]] | None] = []
    for j in range(k):
        vids = [v for v, lab in zip(visit_ids, labels, strict=True) if lab == j]
        tis = [int(t) for t in np.nonzero(team_part == j)[0]]
        if vids and tis:
            inst = Instance.build(problem, ctx.travel, ctx.clock, ctx.screening, vids, tis)
            parts.append(inst)
            mine = {key: p for key, p in placed.items() if team_part[key[0]] == j}
            starts.append(to_routes(ctx, inst, mine) if mine else None)
    elapsed = time.monotonic() - started
    budget_total = max(1.0, params.time_limit_s - elapsed)
    search_s = budget_total * (1 - REPAIR_SHARE)
    workers = max(1, params.workers)
    rounds = math.ceil(len(parts) / workers)
    per_part = max(1.0, search_s / rounds - 1.5)
    ends_at = time.time() + search_s
    ctx_mp = mp.get_context("spawn")
    event = ctx_mp.Event()
    tours: list[Tour] = []
    jobs = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx_mp, initializer=_init_worker, initargs=(event,)
    ) as pool:
        for i, inst in enumerate(parts):
            w = Weights.for_instance(inst, params.minimize_vehicles, params.balance)
            jobs.append(
                (
                    inst,
                    pool.submit(
                        _search_part,
                        inst,
                        w,
                        params.balance and w.balance_weight > 1,
                        Budget(per_part, params.solution_limit),
                        params.seed + i,
                        starts[i],
                        ends_at,
                    ),
                )
            )
        for inst, job in jobs:
            while not job.done():
                if params.should_stop is not None and params.should_stop():
                    event.set()
                time.sleep(0.05)
            routes = job.result()
            if routes is not None:
                tours.extend(tours_from_routes(inst, routes))
            if params.progress is not None:
                served = sum(len(t.visit_ids) for t in tours)
                prio = {v.id: v.priority for v in problem.visits}
                params.progress(
                    Progress(
                        served=served,
                        served_priority=sum(prio[v] for t in tours for v in t.visit_ids),
                        travel_min=sum(sum(t.arcs or ()) for t in tours) / TICKS_PER_MIN,
                        elapsed_s=time.monotonic() - started,
                        vehicles=len(tours),
                    )
                )
    deadline = started + params.time_limit_s - 1.0
    return _repair(ctx, tours, deadline, params.should_stop), source


def _repair(
    ctx: Context, tours: list[Tour], deadline: float, should_stop: Callable[[], bool] | None = None
) -> list[Tour]:
    """Insert left-out visits at their cheapest feasible place, most urgent first."""
    problem = ctx.problem
    travel, clock = ctx.travel, ctx.clock
    by_vehicle: dict[tuple[int, int], list[str]] = {
        (t.team, t.shift): list(t.visit_ids) for t in tours
    }
    served = {v for t in tours for v in t.visit_ids}
    count: dict[int, int] = {}
    for (ti, _), ids in by_vehicle.items():
        count[ti] = count.get(ti, 0) + len(ids)
    visits = {v.id: v for v in problem.visits}
    todo = [v for v in problem.visits if v.id in ctx.screening.allowed and v.id not in served]
    # Pinned visits first (before any priority), then the most urgent.
    todo.sort(key=lambda v: (v.pinned_team is None, -v.priority, v.id))

    def arcs_of(ti: int, ids: list[str]) -> list[int]:
        team = problem.teams[ti]
        pts = [start_id(team.id), *ids]
        if problem.team_has_end(team):
            pts.append(end_id(team.id))
        m = travel.minutes_pairs(travel.mode_of(team), pts[:-1], pts[1:])
        arcs = [int(x) for x in minutes_to_ticks(m)]
        return arcs if problem.team_has_end(team) else [*arcs, 0]

    def cost(ti: int, si: int, ids: list[str]) -> int | None:
        team = problem.teams[ti]
        arcs = arcs_of(ti, ids)
        t0, t1 = shift_ticks(clock, team, si)
        vs = [visits[i] for i in ids]
        res = time_tour(
            t0,
            t1,
            arcs,
            [service_ticks(v) for v in vs],
            [window_ticks(clock, v) for v in vs],
            [bool(v.windows) for v in vs],
        )
        return None if isinstance(res, TourFailure) else sum(arcs)

    for v in todo:
        if time.monotonic() > deadline or (should_stop is not None and should_stop()):
            break
        options = ctx.screening.allowed[v.id]
        # Nearest able team shifts first, limited for speed.
        if len(options) > NEAREST_TEAMS:
            starts = [start_id(problem.teams[ti].id) for ti, _ in options]
            near = travel.minutes_pairs(
                travel.mode_of(problem.teams[options[0][0]]), starts, [v.id] * len(starts)
            )
            options = [options[i] for i in np.argsort(near, kind="stable")[:NEAREST_TEAMS]]
        best: tuple[int, tuple[int, int], int] | None = None
        for ti, si in options:
            team = problem.teams[ti]
            if team.max_visits is not None and count.get(ti, 0) >= team.max_visits:
                continue
            ids = by_vehicle.get((ti, si), [])
            if (
                team.capacity is not None
                and sum(visits[i].demand for i in ids) + v.demand > team.capacity
            ):
                continue
            base = sum(arcs_of(ti, ids)) if ids else 0
            for pos in range(len(ids) + 1):
                cand = [*ids[:pos], v.id, *ids[pos:]]
                c = cost(ti, si, cand)
                if c is not None and (best is None or c - base < best[0]):
                    best = (c - base, (ti, si), pos)
        if best is not None:
            _, key, pos = best
            by_vehicle.setdefault(key, []).insert(pos, v.id)
            count[key[0]] = count.get(key[0], 0) + 1
    return [Tour(ti, si, ids) for (ti, si), ids in by_vehicle.items() if ids]
