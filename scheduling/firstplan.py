"""A first plan for the OR-Tools search (``SolveParams.first_plan``).

OR-Tools' own first solution (PATH_CHEAPEST_ARC) is built arc by arc and the guided local
search then spends much of its time repairing it. Starting instead from a good complete
plan leaves the whole search to improve it. Two makers:

* ``vroom``: VROOM through ``pyvroom`` (a main dependency; optional at run time). VROOM
  has no limit shared by several vehicles: a team's ``max_visits`` is shared out among its
  shifts by length (as the model itself does above 200 visit nodes), which VROOM's plan
  then keeps as it is; up to 200 nodes, where the model shares the limit exactly, a
  *relaxation* (every shift may take the team's whole ``max_visits``) is solved too and
  the better plan after the repair below is kept (see :func:`_vroom_routes`). VROOM
  gets ``first_plan_share`` of the time limit, with exploration level 1 above
  :data:`VROOM_LIGHT_ABOVE` nodes (at level 5 a 1,000-visit weekend took 103 s for a
  60 s limit: VROOM checks its timeout only between searches).
* ``greedy``: cheapest insertion from empty tours (:func:`scheduling.insertion.fill`),
  pinned visits first, then most urgent first.

``auto`` (the default) uses VROOM when ``pyvroom`` can be imported and greedy insertion
otherwise; with a ``solution_limit`` (deterministic runs) it uses none, since VROOM's
plan depends on its timeout, and with ``minimize_vehicles`` (Solomon's fewest tours, whose
portfolio was measured without one) none too.

Repair, in the instance's own terms, so that OR-Tools accepts the plan as it is:

1. the tours are timed by :func:`scheduling.timeline.build_route` (a stop that cannot be
   timed is dropped) and left-out visits that still fit are inserted;
2. a team over its ``max_visits`` over all its shifts, or a shift over its share
   (:func:`scheduling.solver.shift_caps`, which the model uses above 200 visits), drops
   its least urgent unpinned visits;
3. every visit goes to the node of its window that the tour reaches in time.

The routes are then read with ``ReadAssignmentFromRoutes``; when OR-Tools refuses them
(which would make it start from nothing without a word), VROOM's plan falls back to the
greedy one, and that to none. The maker that was used is recorded in
``Plan.stats.first_plan``.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import warnings
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from scheduling.insertion import PlacedTour, fill
from scheduling.instance import Instance
from scheduling.model import Problem
from scheduling.params import SolveParams
from scheduling.solver import EXACT_SHARED_LIMIT_VISITS, Model, Weights, shift_caps
from scheduling.timeline import TourFailure, build_route
from scheduling.tours import Context, Tour

FIRST_PLANS = ("auto", "vroom", "greedy", "none")
VROOM_LIGHT_ABOVE = 600
"""Above this many nodes VROOM runs at exploration level 1 instead of 5."""


def has_pyvroom() -> bool:
    """Whether ``pyvroom`` can be imported."""
    try:
        import vroom  # noqa: F401
    except ImportError:
        return False
    return True


def choose(params: SolveParams, inst: Instance) -> str:
    """Which first plan to make for this solve: ``vroom``, ``greedy`` or ``none``."""
    mode = params.first_plan
    if mode not in FIRST_PLANS:
        raise ValueError(f"first_plan must be one of {', '.join(FIRST_PLANS)}, not {mode!r}")
    if mode == "none" or inst.n_visits == 0 or inst.fixed:
        return "none"
    if mode == "auto":
        # Deterministic runs, and Solomon's fewest-tours search (measured without one).
        if params.solution_limit is not None or params.minimize_vehicles:
            return "none"
        return "vroom" if has_pyvroom() else "greedy"
    if mode == "vroom" and not has_pyvroom():
        return "greedy"
    return mode


def choose_large(params: SolveParams) -> str:
    """The first plan of a decomposed problem: ``vroom``, ``greedy`` or ``none``.

    With ``vroom`` the decomposition falls back to greedy insertion when VROOM has no time
    for the problem (see :func:`vroom_in_time`) or is ended before it has a plan.
    """
    mode = params.first_plan
    if mode not in FIRST_PLANS:
        raise ValueError(f"first_plan must be one of {', '.join(FIRST_PLANS)}, not {mode!r}")
    if mode in ("none", "greedy"):
        return mode
    if mode == "auto" and (params.solution_limit is not None or params.minimize_vehicles):
        return "none"
    return "vroom" if has_pyvroom() else "none"


VROOM_PAIRS_PER_S = 150_000
"""VROOM is not started with less than a second per this many (visit, team shift) pairs:
its first plan alone took 6.9 s for 1,000 visits and about 375 shifts, 11.2 s for 1,500
and about 500 (exploration level 1, 2 threads, a loaded machine, whatever the timeout),
and was not ready after 6 minutes for 5,000 visits and about 2,500 shifts. It was 50,000
until VROOM at 1,000 visits / 10 s was seen ending by itself in 5 s (2,815 priority
against greedy insertion's 2,691, load 3): a VROOM plan cut short costs only its share,
greedy insertion then being the first plan."""


def vroom_in_time(ctx: Context, seconds: float) -> bool:
    """Whether VROOM is worth starting on this problem for this many seconds."""
    shifts = sum(len(t.shifts) for t in ctx.problem.teams)
    return seconds * VROOM_PAIRS_PER_S >= len(ctx.screening.allowed) * shifts


VROOM_TIMEOUT_SHARE = 0.75
"""VROOM's own timeout, as a share of the time it is given: VROOM checks its timeout only
between searches, so it is asked to stop early and ended at the full time if it has not."""


def _vroom_order(
    ctx: Context,
    seconds: float,
    nodes: int,
    share_limits: bool,
    visit_ids: Collection[str] | None = None,
    team_indices: Sequence[int] | None = None,
) -> list[Tour]:
    from datetime import timedelta

    from scheduling.vroom_bridge import VROOM_EXPLORATION, VROOM_THREADS, vroom_input

    inp, vehicles, visit_of = vroom_input(
        ctx, share_limits=share_limits, visit_ids=visit_ids, team_indices=team_indices
    )
    sol = inp.solve(
        exploration_level=1 if nodes > VROOM_LIGHT_ABOVE else VROOM_EXPLORATION,
        nb_threads=VROOM_THREADS,
        timeout=timedelta(seconds=max(0.1, seconds)),
    )
    order: dict[int, list[str]] = {}
    for route in sol.to_dict().get("routes", []):
        vid = int(route["vehicle"])
        for s in route["steps"]:
            if s.get("type") == "job":
                order.setdefault(vid, []).append(visit_of[int(s["id"])])
    return [Tour(vehicles[k][0], vehicles[k][1], ids) for k, ids in sorted(order.items()) if ids]


def _child_main(send: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        send.send(fn(*args))
    finally:
        send.close()


def bounded(fn: Callable[..., Any], args: tuple, until: float) -> Any | None:
    """``fn(*args)`` in a forked child process, ended at ``until`` (``time.monotonic()``).

    Returns the result, or ``None`` when the child did not finish in time (or failed).
    Where ``fork`` is not available the call runs in this process, unbounded.
    """
    try:
        ctx = mp.get_context("fork")
    except ValueError:  # pragma: no cover - not on Linux
        return fn(*args)
    recv, send = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12 warns about forking a process with threads; the child only runs
        # VROOM's C++ code and sends its result back.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = ctx.Process(target=_child_main, args=(send, fn, args), daemon=True)
        child.start()
    send.close()
    result = None
    try:
        if recv.poll(max(0.0, until - time.monotonic())):
            result = recv.recv()
    except (EOFError, OSError):
        result = None
    finally:
        recv.close()
        if child.is_alive():
            child.kill()
        child.join()
    return result


def vroom_tours(ctx: Context, seconds: float, nodes: int, share_limits: bool) -> list[Tour] | None:
    """VROOM's tours, or ``None`` if it found none within ``seconds`` (building included).

    Without ``share_limits`` every shift may take its team's whole limit. VROOM runs in a
    child process that is ended when the time is up: its timeout is only checked between
    its searches (at 1,500 visits and exploration level 1 its first plan alone took 7-11 s
    whatever the timeout).
    """
    until = time.monotonic() + seconds
    return bounded(_vroom_order, (ctx, seconds * VROOM_TIMEOUT_SHARE, nodes, share_limits), until)


def _timed(ctx: Context, tours: Sequence[Tour]) -> dict[tuple[int, int], PlacedTour]:
    """Time the tours, dropping any stop that cannot be timed."""
    problem = ctx.problem
    placed: dict[tuple[int, int], PlacedTour] = {}
    for tour in tours:
        team = problem.teams[tour.team]
        ids = list(tour.visit_ids)
        while ids:
            route = build_route(problem, ctx.travel, ctx.clock, team, tour.shift, ids)
            if not isinstance(route, TourFailure):
                placed[(tour.team, tour.shift)] = PlacedTour(tour.team, tour.shift, ids, route)
                break
            del ids[min(route.position, len(ids) - 1)]
    return placed


def _trim(ids: list[str], limit: int, problem: Problem) -> list[str]:
    """Keep at most ``limit`` visits, dropping the least urgent unpinned ones first."""
    if len(ids) <= limit:
        return ids
    order = sorted(
        range(len(ids)),
        key=lambda i: (
            problem.visit(ids[i]).pinned_team is not None,
            problem.visit(ids[i]).priority,
            -i,
        ),
    )
    drop = set(order[: len(ids) - limit])
    return [v for i, v in enumerate(ids) if i not in drop]


def caps_following(inst: Instance, placed: dict[tuple[int, int], PlacedTour]) -> list[int]:
    """Per-shift visit limits that keep a first plan whole (see ``Instance.vehicle_caps``).

    Each shift may make the visits the plan gives it, and the room its team has left is
    shared out among the team's shifts by length, so a team's shifts still make at most
    ``max_visits`` together.
    """
    caps = [min(inst.max_visits.get(v.team, inst.n_visits), inst.n_visits) for v in inst.vehicles]
    by_team: dict[int, list[int]] = {}
    for k, v in enumerate(inst.vehicles):
        by_team.setdefault(v.team, []).append(k)
    for team, ks in by_team.items():
        limit = inst.max_visits.get(team)
        if limit is None:
            continue
        used = []
        for k in ks:
            p = placed.get((inst.vehicles[k].team, inst.vehicles[k].shift))
            used.append(0 if p is None else len(p.visit_ids))
        room = max(0, limit - sum(used))
        lengths = np.array([max(1, inst.vehicles[k].t1 - inst.vehicles[k].t0) for k in ks], float)
        share = lengths / lengths.sum() * room
        extra = np.floor(share).astype(int)
        for j in np.argsort(-(share - extra), kind="stable")[: room - int(extra.sum())]:
            extra[j] += 1
        for k, u, e in zip(ks, used, extra, strict=True):
            caps[k] = min(u + int(e), inst.n_visits)
    return caps


def to_routes(
    ctx: Context, inst: Instance, placed: dict[tuple[int, int], PlacedTour]
) -> list[list[int]]:
    """The placed tours as routes of instance nodes, under the model's visit limits."""
    problem = ctx.problem
    caps = shift_caps(inst)
    per_vehicle: dict[int, list[str]] = {}
    for (ti, si), p in placed.items():
        k = inst.vehicle_index(ti, si)
        if k is not None:
            per_vehicle[k] = _trim(list(p.visit_ids), caps[k], problem)
    # A team's limit over all its shifts: trim its longest tours first.
    for team, limit in inst.max_visits.items():
        ks = [k for k in per_vehicle if inst.vehicles[k].team == team]
        while sum(len(per_vehicle[k]) for k in ks) > limit:
            k = max(ks, key=lambda x: len(per_vehicle[x]))
            per_vehicle[k] = _trim(per_vehicle[k], len(per_vehicle[k]) - 1, problem)
    nodes_of: dict[str, list[int]] = {}
    for n, vid in enumerate(inst.visit_ids):
        nodes_of.setdefault(vid, []).append(n)
    routes: list[list[int]] = [[] for _ in inst.vehicles]
    for k, ids in per_vehicle.items():
        v = inst.vehicles[k]
        m = inst.ticks[v.mode]
        t, at = v.t0, v.start_node
        for vid in ids:
            best = None
            for n in nodes_of.get(vid, ()):
                if k not in inst.allowed[n]:
                    continue
                arrive = t + int(inst.service[at]) + int(m[at, n])
                a, b = inst.windows[n][0] if inst.windows[n] else (v.t0, v.t1)
                start = max(arrive, a)
                fits = start <= b and start + int(inst.service[n]) <= v.t1
                if fits and (best is None or start < best[1]):
                    best = (n, start)
            if best is None:  # not reachable in the instance's terms: leave it out
                continue
            routes[k].append(best[0])
            at, t = best[0], best[1]
    return routes


def greedy_placed(ctx: Context, until: float | None = None) -> dict[tuple[int, int], PlacedTour]:
    """Cheapest insertion from empty tours (the visits tried by ``until``, if given)."""
    problem = ctx.problem
    placed: dict[tuple[int, int], PlacedTour] = {}
    left = [v.id for v in problem.visits if v.id in ctx.screening.allowed]
    fill(problem, ctx.travel, ctx.clock, ctx.screening.allowed, placed, left, until)
    return placed


def make(
    ctx: Context, inst: Instance, params: SolveParams, time_s: float
) -> tuple[list[list[int]] | None, str]:
    """Make the first plan; return its routes (instance nodes) and its maker's name.

    VROOM gets ``first_plan_share`` of ``time_s``; greedy insertion, the floor, ends at
    twice that share at the latest, or a quarter of the share after a VROOM plan (a plan
    of the visits tried by then). Returns
    ``(None, "none")`` when no first plan is wanted or none was accepted.
    """
    maker = choose(params, inst)
    if maker == "none":
        return None, "none"
    entered = time.monotonic()
    until = entered + time_s * params.first_plan_share
    floor_until = entered + 2 * time_s * params.first_plan_share
    weights = Weights.for_instance(
        inst,
        params.minimize_vehicles,
        params.balance,
        int(round(params.vehicle_fixed_cost_min * 60_000)),
    )
    balance = params.balance and weights.balance_weight > 1
    if inst.n_visits > EXACT_SHARED_LIMIT_VISITS:
        return _make_shared(ctx, inst, weights, balance, maker, entered, until, floor_until)
    judge = Model(inst, weights, balance)
    found: list[tuple[list[list[int]], str]] = []
    if maker == "vroom" and vroom_in_time(ctx, until - entered):
        routes = _vroom_routes(ctx, inst, judge, until)
        if routes is not None:
            found.append((routes, "vroom"))
    # Greedy insertion is a floor: on a loaded machine VROOM's share of the time can end
    # before it reaches greedy's priority, and the search rarely wins back what its start
    # left out. Beside a VROOM plan it gets a quarter of VROOM's share (on a loaded machine
    # it once took 14 s of a 60 s limit at 1,000 visits); a plan cut short by that serves
    # less and is not chosen.
    floor = floor_until if not found else time.monotonic() + 0.25 * (until - entered)
    routes = to_routes(ctx, inst, greedy_placed(ctx, max(floor, time.monotonic() + 0.1)))
    if judge.assignment_from(routes) is not None:
        found.append((routes, "greedy"))
    if not found:
        return None, "none"
    # Greedy's only when it serves more priority: the search shortens travel well, but
    # rarely wins back priority a first plan left out (VROOM's comes first: kept on a tie).
    return max(found, key=lambda f: _value(inst, f[0])[0])


def _make_shared(
    ctx: Context,
    inst: Instance,
    weights: Weights,
    balance: bool,
    maker: str,
    entered: float,
    until: float,
    floor_until: float,
) -> tuple[list[list[int]] | None, str]:
    """The first plan above EXACT_SHARED_LIMIT_VISITS, where the model shares a team's
    ``max_visits`` among its shifts: the better plan (VROOM's or greedy's, by served
    priority) decides that sharing (``inst.vehicle_caps``), so the search starts from all
    of it instead of a plan trimmed to shares by shift length (at 1,000 visits the trim
    cost greedy's plan about 350 of its 2,690 priority)."""
    problem = ctx.problem
    found: list[tuple[dict[tuple[int, int], PlacedTour], str]] = []
    share = until - entered
    if maker == "vroom" and vroom_in_time(ctx, share):
        placed = vroom_placed(ctx, share, inst.n_nodes, True, until + 0.1 * share)
        if placed:
            found.append((placed, "vroom"))
    floor = floor_until if not found else time.monotonic() + 0.25 * share
    found.append((greedy_placed(ctx, max(floor, time.monotonic() + 0.1)), "greedy"))

    def priority(placed: dict[tuple[int, int], PlacedTour]) -> int:
        return sum(problem.visit(v).priority for p in placed.values() for v in p.visit_ids)

    # VROOM's first on a tie (max keeps the first).
    for placed, name in sorted(found, key=lambda f: -priority(f[0])):
        inst.vehicle_caps = caps_following(inst, placed)
        routes = to_routes(ctx, inst, placed)
        if Model(inst, weights, balance).assignment_from(routes) is not None:
            return routes, name
    inst.vehicle_caps = None
    return None, "none"


def _value(inst: Instance, routes: list[list[int]]) -> tuple[int, int]:
    """Served priority (more is better), then travel ticks (less): a key to maximise."""
    prio = sum(int(inst.priority[n]) for r in routes for n in r)
    ticks = 0
    for k, r in enumerate(routes):
        if r:
            v = inst.vehicles[k]
            path = [v.start_node, *r, v.end_node]
            ticks += int(inst.ticks[v.mode][path[:-1], path[1:]].sum())
    return prio, -ticks


def _vroom_routes(
    ctx: Context, inst: Instance, judge: Model, until: float
) -> list[list[int]] | None:
    """VROOM's best plan the judge accepts, repaired; ``None`` if there is none.

    With limits shared out among the shifts VROOM's plan is valid as it is. Up to
    :data:`scheduling.solver.EXACT_SHARED_LIMIT_VISITS` visit nodes the model shares a
    team's limit exactly, so the relaxation (every shift may take the whole limit, then
    trimmed) is tried too, with half of the time each, and the better plan kept.
    """
    variants = [True, False] if inst.n_visits <= EXACT_SHARED_LIMIT_VISITS else [True]
    best: list[list[int]] | None = None
    for i, share in enumerate(variants):
        left = until - time.monotonic()
        seconds = left / (len(variants) - i)
        placed = vroom_placed(ctx, seconds, inst.n_nodes, share, until + 0.1 * seconds)
        if not placed:
            continue
        routes = to_routes(ctx, inst, placed)
        if judge.assignment_from(routes) is None:
            continue
        if best is None or _value(inst, routes) > _value(inst, best):
            best = routes
    return best


def vroom_placed(
    ctx: Context,
    seconds: float,
    nodes: int,
    share_limits: bool = True,
    fill_until: float | None = None,
) -> dict[tuple[int, int], PlacedTour]:
    """VROOM's plan timed in the problem's own terms, under the team limits, then filled.

    Stops that cannot be timed are dropped, teams over ``max_visits`` drop their least
    urgent unpinned visits, and left-out visits that still fit are inserted (cheapest
    insertion, pinned first). Used for the first plan of one instance and of a
    decomposed problem (:func:`scheduling.decompose.solve_large`).
    """
    tours = vroom_tours(ctx, seconds, nodes, share_limits)
    if tours is None:
        return {}
    return _placed_from(ctx, tours, fill_until)


def vroom_parts_placed(
    ctx: Context,
    parts: Sequence[tuple[Collection[str], Sequence[int]]],
    seconds: float,
    fill_until: float | None = None,
) -> dict[tuple[int, int], PlacedTour]:
    """VROOM on each part of a large problem (its visits and teams), one after the other,
    the tours put together, timed, trimmed and filled as :func:`vroom_placed` does.

    Each part gets its share of what is left of ``seconds`` by its number of visits; a part
    VROOM has no time for (:data:`VROOM_PAIRS_PER_S`), or that is ended before it has a
    plan, has no tours (the fill then inserts what it can of its visits).
    """
    ends = time.monotonic() + seconds
    shifts_of = [len(t.shifts) for t in ctx.problem.teams]
    left_visits = sum(len(v) for v, _ in parts)
    tours: list[Tour] = []
    for vids, tis in parts:
        if not vids or not tis:
            continue
        left = ends - time.monotonic()
        mine = left * len(vids) / max(1, left_visits)
        left_visits -= len(vids)
        if mine * VROOM_PAIRS_PER_S < len(vids) * sum(shifts_of[t] for t in tis):
            continue
        until = time.monotonic() + mine
        args = (ctx, mine * VROOM_TIMEOUT_SHARE, len(vids) + len(tis), True, vids, tis)
        found = bounded(_vroom_order, args, until)
        if found:
            tours.extend(found)
    if not tours:
        return {}
    return _placed_from(ctx, tours, fill_until)


def _placed_from(
    ctx: Context, tours: Sequence[Tour], fill_until: float | None
) -> dict[tuple[int, int], PlacedTour]:
    placed = _timed(ctx, tours)
    served = {v for p in placed.values() for v in p.visit_ids}
    left_out = [
        v.id for v in ctx.problem.visits if v.id in ctx.screening.allowed and v.id not in served
    ]
    # Trim first, so that what is inserted after respects the team limits.
    _trim_teams(ctx, placed)
    fill(ctx.problem, ctx.travel, ctx.clock, ctx.screening.allowed, placed, left_out, fill_until)
    return placed


def _trim_teams(ctx: Context, placed: dict[tuple[int, int], PlacedTour]) -> None:
    """Bring each team under its ``max_visits`` (VROOM's relaxation ignores the sharing)."""
    problem = ctx.problem
    for ti, team in enumerate(problem.teams):
        if team.max_visits is None:
            continue
        keys = [k for k in placed if k[0] == ti]
        while sum(len(placed[k].visit_ids) for k in keys) > team.max_visits:
            k = max(keys, key=lambda x: len(placed[x].visit_ids))
            ids = _trim(list(placed[k].visit_ids), len(placed[k].visit_ids) - 1, problem)
            retimed = _timed(ctx, [Tour(ti, k[1], ids)])
            if k in retimed:
                placed[k] = retimed[k]
            else:
                del placed[k]
                keys.remove(k)
