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
import queue
import time
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from scheduling.firstplan import (
    caps_following,
    choose_large,
    greedy_placed,
    to_routes,
    vroom_in_time,
    vroom_parts_placed,
    vroom_placed,
)
from scheduling.insertion import PlacedTour
from scheduling.instance import Instance
from scheduling.model import Problem
from scheduling.params import SolveParams
from scheduling.solver import PORTFOLIO, Budget, Hooks, Progress, Weights, search
from scheduling.stages import Stages
from scheduling.timeline import tour_points
from scheduling.tours import Context, Tour, tours_from_routes
from scheduling.travel import TICKS_PER_MIN, start_id

PART_VISITS = 600
INSERTION_SHARE = 0.1
"""The share of the time left after the first plan kept for the final insertion pass..."""
INSERTION_MAX_S = 8.0
"""... but no more than this: the pass took 0.2-1.3 s at 1,500 and 5,000 visits, and 10%
of 5,000 visits' 300 s left 30 s unused."""
RETURN_S = 1.0
"""A part's search ends this long before the parts' end, to hand its routes back: ending
at the end itself, a loaded machine (load 5-8) had both parts of 1,000 visits given up."""
STOP_GRACE_S = 1.0
"""How long after the parts' end (when they are asked to stop) a part still running is
given up, keeping its share of the first plan."""


def _search_share(left: float) -> float:
    """Of ``left`` seconds, those for the parts' searches (the rest: the final pass)."""
    return left - min(INSERTION_SHARE * left, INSERTION_MAX_S)


SHORT_ROUND_S = 20.0
"""A round of parts shorter than this is not worth a second round: see ``solve_large``."""
VROOM_BY_PART = "always"
"""When VROOM makes the first plan part by part (its parts being the k-means parts, with
the teams nearest to each): ``"always"``, ``"fallback"`` (only when the whole problem does
not fit in its share of the time, :func:`scheduling.firstplan.vroom_in_time`) or
``"never"``. At 5,000 visits the whole problem never fits (the plan started from greedy
insertion: 14,894 priority, 8.58 min per served visit; by part 14,942, 6.14); at 1,500
visits / 120 s one run each gave 4,211 and 9.21 by part, 4,199 and 10.03 whole."""
MIN_PART_S = 3.0
"""Below this many seconds of search per part the parts are not searched: starting the
worker processes and building a part's model takes about that long on a loaded machine."""

REPORT_EVERY_S = 0.5
"""A part's search sends its best routes to the parent at most this often, so that a part
given up (its search overran the end) still gives its best plan found by then."""

_stop_event: Any = None
_reports: Any = None


def _init_worker(event: Any, reports: Any = None) -> None:
    global _stop_event, _reports
    _stop_event = event
    _reports = reports


def _search_part(
    inst: Instance,
    weights: Weights,
    balance: bool,
    budget: Budget,
    seed: int,
    initial: list[list[int]] | None = None,
    ends_at: float | None = None,
    index: int = 0,
) -> list[list[int]] | None:
    # A part of the second round starts late: it ends with the others (wall clock), and
    # one that starts after the end (or after a stop) is not searched.
    if _stop_event is not None and _stop_event.is_set():
        return None
    if ends_at is not None:
        left = ends_at - time.time() - RETURN_S
        if left < 0.1:
            return None
        budget = Budget(min(budget.time_s, left), budget.solutions)
    # OR-Tools' own time limit let a part's 33 s search run 45-62 s on the loaded machine
    # (1,500 visits), which left the second round's part no time and had parts given up
    # with only their share of the first plan: the search is also stopped by the wall clock.
    hard_end = time.monotonic() + budget.time_s if budget.solutions is None else None
    event = _stop_event

    def stop() -> bool:
        if event is not None and event.is_set():
            return True
        return hard_end is not None and time.monotonic() > hard_end

    pinst, perm = inst.permuted(seed)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    init = None if initial is None else [[int(inv[n]) for n in r] for r in initial]
    # OR-Tools looks at the stop only between search nodes: with a 900-node part on a
    # loaded machine a search ran 3 s past it (whole neighbourhoods rejected by filters),
    # so the best routes go to the parent as they are found (at most every
    # REPORT_EVERY_S, and the last one once the stop has come).
    reports = _reports
    latest: list[Any] = [None, 0.0]

    def send() -> None:
        if reports is not None and latest[0] is not None:
            reports.put((index, [[int(perm[n]) for n in r] for r in latest[0]]))
            latest[0], latest[1] = None, time.monotonic()

    def improved(obj: int, routes: list[list[int]] | None, info: dict[str, float]) -> None:
        if routes is None:
            return
        latest[0] = routes
        if time.monotonic() - latest[1] >= REPORT_EVERY_S or stop():
            send()

    hooks = Hooks(stop=stop, improved=improved if reports is not None else None)
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


def _groups(
    problem: Problem,
    visit_ids: list[str],
    labels: np.ndarray,
    team_part: np.ndarray,
    team_of: dict[str, int],
    k: int,
) -> list[tuple[list[str], list[int]]]:
    """Each part's visits and team indices. A pinned visit can only go to its team: it
    joins its team's part, wherever it lies (in another part it would have no vehicle at
    all); so does a visit of the first plan (``team_of``). ``labels`` is updated."""
    team_pos = {t.id: i for i, t in enumerate(problem.teams)}
    for i, vid in enumerate(visit_ids):
        pin = problem.visit(vid).pinned_team
        if pin is not None:
            labels[i] = team_part[team_pos[pin]]
        elif vid in team_of:
            labels[i] = team_part[team_of[vid]]
    out: list[tuple[list[str], list[int]]] = []
    for j in range(k):
        vids = [v for v, lab in zip(visit_ids, labels, strict=True) if lab == j]
        out.append((vids, [int(t) for t in np.nonzero(team_part == j)[0]]))
    return out


def _value(ctx: Context, tours: list[Tour]) -> tuple[int, float]:
    """Served priority, then less travel (minutes): a key to maximise."""
    problem, travel = ctx.problem, ctx.travel
    prio = sum(problem.visit(v).priority for t in tours for v in t.visit_ids)
    minutes = 0.0
    for t in tours:
        if t.arcs is not None:
            minutes += sum(t.arcs) / TICKS_PER_MIN
            continue
        team = problem.teams[t.team]
        pts = tour_points(problem, team, t.visit_ids)
        minutes += float(travel.minutes_pairs(travel.mode_of(team), pts[:-1], pts[1:]).sum())
    return prio, -minutes


def solve_large(
    ctx: Context, params: SolveParams, started: float, stages: Stages | None = None
) -> tuple[list[Tour], str]:
    """Decompose, solve the parts in parallel, repair; return the tours and the first plan.

    With a first plan (VROOM's, see :func:`scheduling.firstplan.choose_large`) each team
    goes to the part nearest to the visits VROOM gave it, its visits follow it, and each
    part's search starts from its share of that plan; the second value names the maker
    used (``"vroom"`` or ``"none"``).
    """
    problem = ctx.problem
    visit_ids = [v.id for v in problem.visits if v.id in ctx.screening.allowed]
    k = max(2, math.ceil(len(visit_ids) / PART_VISITS))
    workers = max(1, params.workers)
    # With little time, a second round of parts would get too little of it: as many parts
    # as workers instead, while the parts stay of a size the search handles.
    left = params.time_limit_s - (time.monotonic() - started)
    if (
        k > workers
        and _search_share(left) / math.ceil(k / workers) < SHORT_ROUND_S
        and len(visit_ids) <= workers * PART_VISITS * 1.5
    ):
        k = max(2, workers)
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
    stages = stages or Stages(started)
    stages.done("clustering", parts=k)
    maker = choose_large(params)
    seconds = max(0.1, params.time_limit_s - (time.monotonic() - started))
    share = seconds * params.first_plan_share
    made_by = ""
    whole = maker == "vroom" and vroom_in_time(ctx, share) and VROOM_BY_PART != "always"
    if whole:
        placed = vroom_placed(ctx, share, len(keys), fill_until=time.monotonic() + 1.1 * share)
        source = "vroom" if placed else "none"
    elif maker == "vroom" and VROOM_BY_PART != "never":
        # VROOM part by part, each part's visits with the teams nearest to them, so that a
        # problem too large for VROOM as a whole still starts from a VROOM plan.
        first_part = _share_teams(txy, centres, sizes, np.ones(len(problem.teams)))
        groups = _groups(problem, visit_ids, labels.copy(), first_part, {}, k)
        placed = vroom_parts_placed(ctx, groups, share, fill_until=time.monotonic() + 1.1 * share)
        source = "vroom" if placed else "none"
        made_by = "vroom by part"
    if maker == "greedy" or (maker == "vroom" and not placed):
        # No VROOM plan (too little time, or not installed): greedy insertion, the floor.
        placed = greedy_placed(ctx, time.monotonic() + max(share, 0.5 * seconds))
        source = "greedy"
    stages.done(
        "first plan",
        maker=made_by if source == "vroom" and made_by else source,
        priority=sum(problem.visit(v).priority for p in placed.values() for v in p.visit_ids),
    )
    team_of: dict[str, int] = {v: key[0] for key, p in placed.items() for v in p.visit_ids}
    if team_of:
        # Each team sits where the first plan sent it: at the centre of its visits.
        pos = {v: i for i, v in enumerate(visit_ids)}
        txy = txy.copy()
        mine: dict[int, list[int]] = {}
        for v, t in team_of.items():
            mine.setdefault(t, []).append(pos[v])
        for ti, at in mine.items():
            txy[ti] = vxy[at].mean(axis=0)
    team_part = _share_teams(txy, centres, sizes, np.ones(len(problem.teams)))
    groups = _groups(problem, visit_ids, labels, team_part, team_of, k)

    def per_part_s() -> tuple[float, float]:
        left = max(0.1, params.time_limit_s - (time.monotonic() - started))
        search_s = _search_share(left)
        return search_s, max(0.1, search_s / math.ceil(k / workers) - 1.5)

    if per_part_s()[1] < MIN_PART_S:
        # Too little time to start the worker processes and search: the first plan it is.
        tours = [Tour(ti, si, list(p.visit_ids)) for (ti, si), p in placed.items()]
        stages.done("search", skipped=f"{per_part_s()[1]:.1f} s per part")
        return tours, source
    parts = []
    starts: list[list[list[int]] | None] = []
    firsts: list[list[Tour]] = []  # each part's share of the first plan, as it was
    for j, (vids, tis) in enumerate(groups):
        if vids and tis:
            inst = Instance.build(problem, ctx.travel, ctx.clock, ctx.screening, vids, tis)
            parts.append(inst)
            mine = {key: p for key, p in placed.items() if team_part[key[0]] == j}
            if mine:
                # The part's model shares a team's limit among its shifts as the first
                # plan does, so that the search starts from all of it.
                inst.vehicle_caps = caps_following(inst, mine)
            firsts.append([Tour(ti, si, list(p.visit_ids)) for (ti, si), p in mine.items()])
            starts.append(to_routes(ctx, inst, mine) if mine else None)
    stages.done("parts", parts=len(parts))
    search_s, per_part = per_part_s()
    ends_at = time.time() + search_s
    tours: list[Tour] = []
    kept = 0  # parts that kept their share of the first plan
    ctx_mp = mp.get_context("spawn")
    event = ctx_mp.Event()
    reports = ctx_mp.Queue()
    reported: dict[int, list[list[int]]] = {}  # each part's latest routes from its search

    def drain() -> None:
        while True:
            try:
                i, rs = reports.get_nowait()
            except queue.Empty:
                return
            reported[i] = rs

    # Parts still running this long after the end are given up (their first plan kept).
    give_up = ends_at + STOP_GRACE_S
    # A fresh process per part: a worker searching part after part grew to 0.94 GB at
    # 5,000 visits (2.17 GB for the whole tree, over the 2 GB the issue allows).
    pool = ctx_mp.Pool(
        processes=min(workers, len(parts)),
        initializer=_init_worker,
        initargs=(event, reports),
        maxtasksperchild=1,
    )
    try:
        jobs = []
        for i, inst in enumerate(parts):
            w = Weights.for_instance(inst, params.minimize_vehicles, params.balance)
            args = (
                inst,
                w,
                params.balance and w.balance_weight > 1,
                Budget(per_part, params.solution_limit),
                params.seed + i,
                starts[i],
                ends_at,
                i,
            )
            jobs.append((inst, pool.apply_async(_search_part, args)))
        for i, (inst, job) in enumerate(jobs):
            while not job.ready() and time.time() < give_up:
                if params.should_stop is not None and params.should_stop():
                    event.set()
                if time.time() > ends_at:
                    # A part still building its model or first solution: stop it.
                    event.set()
                job.wait(0.05)
                drain()
            drain()
            routes = job.get() if job.ready() else reported.get(i)
            found = [] if routes is None else tours_from_routes(inst, routes)
            # The part's share of the first plan, untrimmed, when the search did not do
            # better (it did not finish in time, or the model's shift limits trimmed it).
            first_v, found_v = _value(ctx, firsts[i]), _value(ctx, found)
            stages.note(
                f"part {i}",
                first_plan=f"{first_v[0]} priority, {-first_v[1]:.0f} min",
                search=("none" if job.ready() else "given up")
                if routes is None
                else ("" if job.ready() else "given up, its last report ")
                + f"{found_v[0]} priority, {-found_v[1]:.0f} min",
            )
            if first_v > found_v:
                found = firsts[i]
                kept += 1
            tours.extend(found)
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
    finally:
        pool.terminate()
        pool.join()
    stages.done("search", priority=_value(ctx, tours)[0], kept_first_plan=kept)
    # What the parts left out is inserted by the planner's final insertion pass, in every
    # able team shift of any part, by the deadline.
    return tours, source
