"""Insert left-out visits into finished tours where they still fit.

A visit the search leaves out is reported as ``capacity``: "it could be made alone, but
the teams able to make it are full". A time-limited search (or the parts of a decomposed
one) can leave out a visit that would still fit, so
before the planner uses that label it tries each such visit in every team shift that
screening found able to make it, at every position of the tour, and inserts it where it
fits at the least extra travel (most urgent visits first). A visit is labelled
``capacity`` only when no insertion is feasible.

The check is cheap because it never re-times a whole tour per candidate. For a fixed
order, waiting is allowed, so a tour's suffix is feasible exactly when the team reaches
its next point no later than a *latest arrival* found by one backward pass; and the team
is ready to leave each point at an *earliest departure* found by one forward pass. A
candidate (tour, position) is then feasible iff

    ready[g] + travel(g -> visit)  reaches an open window of the visit,
    its service ends inside the shift, and
    service end + travel(visit -> g + 1) <= latest[g],

which numpy evaluates for all candidates of a visit at once. The chosen insertion is
then timed by :func:`scheduling.timeline.build_route`, the one function that times tours,
so the plan is exactly as feasible as every other route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scheduling.model import Problem, Route, Visit
from scheduling.timeline import (
    Clock,
    TourFailure,
    build_route,
    earliest_start,
    service_ticks,
    shift_ticks,
    tour_points,
    window_ticks,
)
from scheduling.travel import Travel, end_id, minutes_to_ticks, start_id

_NEVER = np.iinfo(np.int64).max // 4
NEAR_TOURS = 40
"""Team shifts tried first for an insertion, by distance from their start point."""
MOVE_TRIES = 12
"""Less urgent visits taken out, one at a time, to make room elsewhere in their team's
tours when no exchange in place fits (:meth:`_Planner.replace`)."""
PUSH_TRIES = 12
"""Served visits a left-out one may take the place of, each moved elsewhere, per visit
(:meth:`_Planner.push`)."""
PUSH_MAX_FACTOR = 5.0
"""A push may add at most this many times the plan's travel per served visit (at 1,000
visits a push with no bound added 42 min per visit served, against 8.9 for the plan)."""


@dataclass
class PlacedTour:
    """A timed tour of the plan being assembled.

    ``requested`` maps visit ids to service starts (ticks) that must be kept, for the
    visits :func:`scheduling.replan` keeps fixed.
    """

    team: int
    shift: int
    visit_ids: list[str]
    route: Route
    requested: dict[str, int] = field(default_factory=dict)


def _latest_start(bound: int, windows: Sequence[tuple[int, int]], restricted: bool) -> int:
    """The latest moment <= ``bound`` inside a window, or ``-_NEVER``."""
    if not restricted:
        return bound
    best = -_NEVER
    for a, b in windows:
        if a <= bound:
            best = max(best, min(b, bound))
    return best


@dataclass(frozen=True)
class _Gaps:
    """The places between consecutive points of one tour, with their timing slack.

    Gap ``g`` goes from point ``g`` (0 is the start point) to point ``g + 1`` (the last
    is the end point, or the open end for a team without one).
    """

    frm: np.ndarray  # point index of the gap's origin
    to: np.ndarray  # point index of the gap's destination; -1 for the open end
    ready: np.ndarray  # earliest departure from the origin, ticks
    latest: np.ndarray  # latest arrival at the destination, ticks
    arc: np.ndarray  # current travel over the gap, ticks
    t1: int  # shift end, ticks


class _Planner:
    """State of the insertion pass over one plan."""

    def __init__(
        self,
        problem: Problem,
        travel: Travel,
        clock: Clock,
        tours: dict[tuple[int, int], PlacedTour],
    ) -> None:
        self.problem = problem
        self.travel = travel
        self.clock = clock
        self.tours = tours
        keys = [v.id for v in problem.visits]
        for t in problem.teams:
            keys.append(start_id(t.id))
            if problem.team_has_end(t):
                keys.append(end_id(t.id))
        self.index = {k: i for i, k in enumerate(keys)}
        self.points = travel.points(keys)
        self.gaps: dict[tuple[int, int], _Gaps] = {}
        self.touched: set[int] = set()  # teams whose tours changed (see ``fill_until``)
        self.count: dict[int, int] = {}
        self.load: dict[tuple[int, int], int] = {}
        for key, tour in tours.items():
            self.count[key[0]] = self.count.get(key[0], 0) + len(tour.visit_ids)
            self.load[key] = sum(problem.visit(v).demand for v in tour.visit_ids)
        self.limit = {ti: t.max_visits for ti, t in enumerate(problem.teams)}
        self.capped = {ti for ti, t in enumerate(problem.teams) if t.capacity is not None}
        self.starts = travel.points([start_id(t.id) for t in problem.teams])
        self.nearest: dict[str, list[tuple[int, int]]] = {}
        self.order = {v.id: i for i, v in enumerate(problem.visits)}

    def _gaps(self, key: tuple[int, int]) -> _Gaps:
        cached = self.gaps.get(key)
        if cached is not None:
            return cached
        problem, clock = self.problem, self.clock
        ti, si = key
        team = problem.teams[ti]
        tour = self.tours.get(key)
        ids = tour.visit_ids if tour is not None else []
        requested = tour.requested if tour is not None else {}
        pts = tour_points(problem, team, ids)
        minutes = self.travel.minutes_pairs(self.travel.mode_of(team), pts[:-1], pts[1:])
        arcs = [int(x) for x in minutes_to_ticks(minutes)] if len(pts) > 1 else []
        has_end = problem.team_has_end(team)
        if not has_end:
            arcs.append(0)
        t0, t1 = shift_ticks(clock, team, si)
        visits = [problem.visit(v) for v in ids]
        services = [service_ticks(v) for v in visits]
        windows = [window_ticks(clock, v) for v in visits]
        n = len(ids)
        ready = [t0]
        t = t0
        for i, v in enumerate(visits):
            arrive = t + arcs[i]
            start = requested.get(v.id)
            if start is None:
                start = earliest_start(arrive, windows[i], bool(v.windows))
            # An untimeable tour cannot occur here (it was timed); arriving never helps.
            t = (arrive if start is None else start) + services[i]
            ready.append(t)
        latest = [0] * (n + 1)
        latest[n] = t1
        for i in range(n - 1, -1, -1):
            bound = latest[i + 1] - arcs[i + 1] - services[i]
            fixed = requested.get(ids[i])
            if fixed is not None:
                latest[i] = fixed if fixed <= bound else -_NEVER
            else:
                latest[i] = _latest_start(bound, windows[i], bool(visits[i].windows))
        idx = [self.index[p] for p in pts]
        gaps = _Gaps(
            frm=np.array(idx[: n + 1], dtype=np.int64),
            to=np.array(idx[1:] if has_end else [*idx[1:], -1], dtype=np.int64),
            ready=np.array(ready, dtype=np.int64),
            latest=np.array(latest, dtype=np.int64),
            arc=np.array(arcs, dtype=np.int64),
            t1=t1,
        )
        self.gaps[key] = gaps
        return gaps

    def _has_room(self, key: tuple[int, int], demand: int) -> bool:
        ti = key[0]
        limit = self.limit[ti]
        if limit is not None and self.count.get(ti, 0) >= limit:
            return False
        if ti not in self.capped:
            return True
        capacity = self.problem.teams[ti].capacity
        return capacity is None or self.load.get(key, 0) + demand <= capacity

    def _by_distance(self, visit_id: str, options: Sequence[tuple[int, int]]) -> list:
        """The options, nearest team start point first (computed once per visit)."""
        cached = self.nearest.get(visit_id)
        if cached is not None and len(cached) == len(options):
            return cached
        teams = np.array([ti for ti, _ in options], dtype=np.int64)
        mode = self.travel.mode_of(self.problem.teams[options[0][0]])
        near = self.travel.one_to_many(mode, visit_id, self.starts, outbound=False)[teams]
        ordered = [options[i] for i in np.argsort(near, kind="stable")]
        self.nearest[visit_id] = ordered
        return ordered

    def insert(self, visit_id: str, options: Sequence[tuple[int, int]]) -> bool:
        """Insert the visit at its cheapest feasible place among ``options``; say if done.

        The :data:`NEAR_TOURS` team shifts that start nearest are tried first; the others
        only when none of those can take the visit, so that a visit is left out only when
        it fits nowhere.
        """
        if not options:
            return False
        v = self.problem.visit(visit_id)
        keys = [k for k in self._by_distance(visit_id, options) if self._has_room(k, v.demand)]
        if not keys:
            return False
        if len(keys) > NEAR_TOURS and self._insert(v, keys[:NEAR_TOURS]):
            return True
        return self._insert(v, keys if len(keys) <= NEAR_TOURS else keys[NEAR_TOURS:])

    def _insert(self, v: Visit, keys: Sequence[tuple[int, int]]) -> bool:
        problem, travel = self.problem, self.travel
        wins = window_ticks(self.clock, v)
        restricted = bool(v.windows)
        if restricted and not wins:
            return False
        service = service_ticks(v)
        gaps = [self._gaps(k) for k in keys]
        sizes = np.array([g.frm.size for g in gaps])
        frm = np.concatenate([g.frm for g in gaps])
        to = np.concatenate([g.to for g in gaps])
        ready = np.concatenate([g.ready for g in gaps])
        latest = np.concatenate([g.latest for g in gaps])
        arc = np.concatenate([g.arc for g in gaps])
        t1 = np.repeat([g.t1 for g in gaps], sizes)
        modes = np.repeat([travel.mode_of(problem.teams[k[0]]) for k in keys], sizes)
        into, out = self._ticks(v.id, frm, to, modes)
        feasible = _fits(ready + into, out, latest, t1, wins, restricted, service)
        if not feasible.any():
            return False
        cost = into + out - arc
        owner = np.repeat(np.arange(len(keys)), sizes)
        position = np.arange(frm.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        for g in np.nonzero(feasible)[0][np.argsort(cost[feasible], kind="stable")]:
            key = keys[int(owner[g])]
            if self._place(key, v.id, int(position[g])):
                return True
        return False

    def _ticks(
        self, visit_id: str, frm: np.ndarray, to: np.ndarray, modes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Travel ticks from each ``frm`` point to the visit and on to each ``to`` point."""
        travel = self.travel
        into = np.zeros(frm.size, dtype=np.int64)
        out = np.zeros(frm.size, dtype=np.int64)
        # Travel to and from the points of these tours only, not to every point.
        near = np.unique(np.concatenate([frm, to[to >= 0]]))
        points = self.points.take(near)
        frm_at = np.searchsorted(near, frm)
        to_at = np.searchsorted(near, np.maximum(to, 0))
        for mode in dict.fromkeys(modes.tolist()):
            m = modes == mode
            to_v = minutes_to_ticks(travel.one_to_many(mode, visit_id, points, outbound=False))
            from_v = minutes_to_ticks(travel.one_to_many(mode, visit_id, points))
            into[m] = to_v[frm_at[m]]
            out[m] = np.where(to[m] >= 0, from_v[to_at[m]], 0)
        return into, out

    def _in_place(
        self, visit_id: str, options: Sequence[tuple[int, int]], lower: bool
    ) -> tuple[list[tuple[tuple[int, int], int, str]], Any, Any, Any] | None:
        """The served visits whose place a left-out visit could take, and where it fits.

        In the :data:`NEAR_TOURS` nearest team shifts able to make it, every unpinned
        visit (of lower priority only, with ``lower``) not kept in place by ``replan`` is a
        candidate; the left-out visit fits in its place when it is reached in time and the
        rest of the tour stays as it is (one vectorised test covers all candidates).
        Returns the candidates (tour, position, visit id), which of them fit, their
        priorities and the extra travel ticks, or ``None`` when there is no candidate.
        """
        problem = self.problem
        v = problem.visit(visit_id)
        wins = window_ticks(self.clock, v)
        restricted = bool(v.windows)
        if not options or (restricted and not wins):
            return None
        rows: list[tuple[tuple[int, int], int, str]] = []
        cols: list[tuple[int, int, int, int, int, str, int]] = []
        for key in self._by_distance(visit_id, options)[:NEAR_TOURS]:
            tour = self.tours.get(key)
            if tour is None:
                continue
            g = None
            capacity = problem.teams[key[0]].capacity
            for j, u in enumerate(tour.visit_ids):
                w = problem.visit(u)
                if (lower and w.priority >= v.priority) or w.pinned_team is not None:
                    continue
                if u in tour.requested:
                    continue
                if capacity is not None and self.load.get(key, 0) - w.demand + v.demand > capacity:
                    continue
                g = g or self._gaps(key)
                rows.append((key, j, u))
                cols.append(
                    (
                        int(g.frm[j]),
                        int(g.to[j + 1]),
                        int(g.ready[j]),
                        int(g.latest[j + 1]),
                        g.t1,
                        self.travel.mode_of(problem.teams[key[0]]),
                        int(g.arc[j] + g.arc[j + 1]),
                    )
                )
        if not rows:
            return None
        frm, to, ready, latest, t1, modes, arc = (np.array(c) for c in zip(*cols, strict=True))
        into, out = self._ticks(visit_id, frm, to, modes)
        feasible = _fits(ready + into, out, latest, t1, wins, restricted, service_ticks(v))
        prio = np.array([problem.visit(u).priority for _, _, u in rows])
        return rows, feasible, prio, into + out - arc

    def replace(self, visit_id: str, options: Sequence[tuple[int, int]]) -> str | None:
        """Serve a left-out visit in a less urgent visit's place; return the one taken out.

        The candidates are those of :meth:`_in_place` of lower priority: the least urgent
        one the visit fits in place of goes first, then the least extra travel. When no
        exchange in place fits, the :data:`MOVE_TRIES` least urgent candidates are taken
        out one at a time and the visit inserted anywhere in the room that frees in their
        team. The visit taken out is then to be tried elsewhere; served priority only
        grows. Returns ``None``, leaving the plan as it was, when no exchange fits.
        """
        found = self._in_place(visit_id, options, lower=True)
        if found is None:
            return None
        rows, feasible, prio, extra = found
        for i in np.nonzero(feasible)[0][np.lexsort((extra[feasible], prio[feasible]))]:
            key, j, u = rows[int(i)]
            if self._swap(key, j, visit_id):
                return u
        # Elsewhere in the same team: take the candidate out, then insert the visit at its
        # best place in the room that frees (a few candidates, least urgent first).
        order = np.lexsort((extra, prio))[:MOVE_TRIES]
        before = self._state()
        for i in order:
            key, _, u = rows[int(i)]
            same_team = [k for k in options if k[0] == key[0]]
            if self._remove(key, u) and self.insert(visit_id, same_team):
                return u
            self._restore(before)
        return None

    def push(
        self,
        visit_id: str,
        options: Sequence[tuple[int, int]],
        allowed: Mapping[str, Sequence[tuple[int, int]]],
    ) -> str | None:
        """Serve a left-out visit in a served visit's place, that one moving elsewhere.

        Any candidate of :meth:`_in_place` (whatever its priority) the visit fits in place
        of is tried, least extra travel in place first, at most :data:`PUSH_TRIES`: the
        visit takes its place and the one pushed out is inserted at its cheapest place in
        another tour (or elsewhere in its own); of the moves that fit and add at most
        :data:`PUSH_MAX_FACTOR` times the plan's travel per served visit, the one adding
        the least travel is kept. Nothing is left out, so served priority grows by
        the visit's. Returns the visit moved, or ``None``, leaving the plan as it was.
        """
        found = self._in_place(visit_id, options, lower=False)
        if found is None:
            return None
        rows, feasible, _, extra = found
        before = self._state()
        travel = self._travel()
        served = sum(len(t.visit_ids) for t in self.tours.values())
        bound = PUSH_MAX_FACTOR * travel / max(1, served)
        best: tuple[float, str, tuple] | None = None
        tries = np.nonzero(feasible)[0][np.argsort(extra[feasible], kind="stable")]
        for i in tries[:PUSH_TRIES]:
            key, j, u = rows[int(i)]
            if self._swap(key, j, visit_id) and self.insert(u, allowed.get(u, ())):
                added = self._travel() - travel
                if added <= bound and (best is None or added < best[0]):
                    best = (added, u, self._state())
            self._restore(before)
        if best is None:
            return None
        self._restore(best[2])
        return best[1]

    def _travel(self) -> float:
        return sum(t.route.travel_min for t in self.tours.values())

    def _time(self, key: tuple[int, int], ids: list[str], requested: dict[str, Any]) -> Any:
        """Time team shift ``key``'s tour of ``ids`` (a route, or a ``TourFailure``)."""
        ti, si = key
        return build_route(
            self.problem,
            self.travel,
            self.clock,
            self.problem.teams[ti],
            si,
            ids,
            requested=[requested.get(x) for x in ids] if requested else None,
        )

    def _swap(self, key: tuple[int, int], pos: int, visit_id: str) -> bool:
        """Time the tour with the visit in place of the one at ``pos``; keep it if it can."""
        problem = self.problem
        ti, si = key
        tour = self.tours[key]
        ids = list(tour.visit_ids)
        old = problem.visit(ids[pos])
        ids[pos] = visit_id
        requested = tour.requested
        route = self._time(key, ids, requested)
        if isinstance(route, TourFailure):
            return False
        self.tours[key] = PlacedTour(ti, si, ids, route, dict(requested))
        self.gaps.pop(key, None)
        self.touched.add(ti)
        self.load[key] = self.load.get(key, 0) - old.demand + problem.visit(visit_id).demand
        return True

    def _state(self) -> tuple:
        return dict(self.tours), dict(self.gaps), dict(self.count), dict(self.load)

    def _restore(self, state: tuple) -> None:
        # In place: ``fill``'s caller holds the tours dict.
        for mine, saved in zip((self.tours, self.gaps, self.count, self.load), state, strict=True):
            mine.clear()
            mine.update(saved)

    def _remove(self, key: tuple[int, int], visit_id: str) -> bool:
        """Take a visit out of a tour and re-time it; say if done."""
        problem = self.problem
        ti, si = key
        tour = self.tours[key]
        ids = [v for v in tour.visit_ids if v != visit_id]
        requested = {v: t for v, t in tour.requested.items() if v != visit_id}
        if ids:
            route = self._time(key, ids, requested)
            # Without the triangle inequality (a matrix) a shorter tour can be later.
            if isinstance(route, TourFailure):
                return False
            self.tours[key] = PlacedTour(ti, si, ids, route, requested)
        else:
            del self.tours[key]
        self.gaps.pop(key, None)
        self.touched.add(ti)
        self.count[ti] -= 1
        self.load[key] = self.load.get(key, 0) - problem.visit(visit_id).demand
        return True

    def give_way(self, visit_id: str, options: Sequence[tuple[int, int]]) -> list[str] | None:
        """Make room for a pinned visit in its team by taking out unpinned visits.

        Tries taking out one visit (least urgent first), then takes them out one after
        the other until the pinned visit fits. Visits kept in place by ``replan`` and other
        pinned visits never give way. Returns the visits taken out (to be inserted
        elsewhere if they fit), or ``None``, leaving the plan as it was, when the visit
        fits nowhere even so.
        """
        problem = self.problem
        teams = {ti for ti, _ in options}
        order = {v.id: i for i, v in enumerate(problem.visits)}
        movable = sorted(
            (
                (problem.visit(u).priority, order[u], key, u)
                for key, tour in self.tours.items()
                if key[0] in teams
                for u in tour.visit_ids
                if problem.visit(u).pinned_team is None and u not in tour.requested
            ),
        )
        if not movable:
            return None
        before = self._state()
        for _, _, key, u in movable:
            if self._remove(key, u) and self.insert(visit_id, options):
                return [u]
            self._restore(before)
        removed = []
        for _, _, key, u in movable:
            if key in self.tours and self._remove(key, u):
                removed.append(u)
                if self.insert(visit_id, options):
                    return removed
        self._restore(before)
        return None

    def _place(self, key: tuple[int, int], visit_id: str, pos: int) -> bool:
        """Time the tour with the visit at ``pos``; keep it if it can be timed."""
        problem = self.problem
        ti, si = key
        tour = self.tours.get(key)
        ids = list(tour.visit_ids) if tour is not None else []
        requested = dict(tour.requested) if tour is not None else {}
        ids.insert(pos, visit_id)
        route = self._time(key, ids, requested)
        if isinstance(route, TourFailure):
            return False
        self.tours[key] = PlacedTour(ti, si, ids, route, requested)
        self.gaps.pop(key, None)
        self.touched.add(ti)
        self.count[ti] = self.count.get(ti, 0) + 1
        self.load[key] = self.load.get(key, 0) + problem.visit(visit_id).demand
        return True


def _fits(
    arrive: np.ndarray,
    out: np.ndarray,
    latest: np.ndarray,
    t1: np.ndarray,
    wins: Sequence[tuple[int, int]],
    restricted: bool,
    service: int,
) -> np.ndarray:
    """Which candidate places are feasible: the visit's window, the shift, and the rest."""
    if restricted:
        start = np.full(arrive.size, _NEVER, dtype=np.int64)
        for a, b in wins:  # sorted: the first open window gives the earliest start
            ok = (start == _NEVER) & (arrive <= b)
            start = np.where(ok, np.maximum(arrive, a), start)
    else:
        start = arrive
    end = start + service
    return (start != _NEVER) & (end <= t1) & (end + out <= latest)


def fill(
    problem: Problem,
    travel: Travel,
    clock: Clock,
    allowed: Mapping[str, Sequence[tuple[int, int]]],
    tours: dict[tuple[int, int], PlacedTour],
    left: Sequence[str],
    until: float | None = None,
    now: Callable[[], float] = time.monotonic,
    swap: bool = True,
) -> list[str]:
    """Insert left-out visits wherever they still fit; return the ids inserted.

    The same as :func:`fill_until`, without the visits the deadline left untried.
    """
    return fill_until(problem, travel, clock, allowed, tours, left, until, now, swap).inserted


@dataclass(frozen=True)
class Filled:
    """What :func:`fill_until` did: the visits inserted, and those it had no time to try."""

    inserted: list[str]
    untried: list[str]


def fill_until(
    problem: Problem,
    travel: Travel,
    clock: Clock,
    allowed: Mapping[str, Sequence[tuple[int, int]]],
    tours: dict[tuple[int, int], PlacedTour],
    left: Sequence[str],
    until: float | None = None,
    now: Callable[[], float] = time.monotonic,
    swap: bool = True,
) -> Filled:
    """Insert left-out visits wherever they still fit, until a deadline.

    Parameters
    ----------
    problem : Problem
    travel : Travel
    clock : Clock
    allowed : mapping of visit id to (team index, shift index) pairs
        The team shifts screening found able to make each visit alone.
    tours : dict of (team index, shift index) to PlacedTour
        The plan's timed tours; updated in place (always a valid plan, also when the
        deadline ends the pass).
    left : sequence of str
        Ids of visits the plan leaves out although screening allows them.
    until : float or None
        A ``now()`` value after which no further visit is tried.
    now : callable
        The clock ``until`` is read on (``time.monotonic``; tests pass their own).
    swap : bool
        Then let a visit that fits nowhere take the place of a less urgent one in a
        nearby tour (:meth:`_Planner.replace`); the one taken out is tried again
        everywhere. Last, a visit still left out may take any served visit's place when
        that one can be moved to another place (:meth:`_Planner.push`).

    Returns
    -------
    Filled
        The visits inserted, and the visits of ``left`` not placed that the deadline left
        untried (or whose teams changed after they were tried). Every other visit of
        ``left`` has no feasible insertion in the final tours (the teams able to make it
        are full).
    """
    if not left:
        return Filled([], [])
    planner = _Planner(problem, travel, clock, tours)
    order = {v.id: i for i, v in enumerate(problem.visits)}

    def urgency(vid: str) -> tuple[bool, int, int]:
        v = problem.visit(vid)
        return (v.pinned_team is None, -v.priority, order[vid])

    pending = sorted(dict.fromkeys(left), key=urgency)
    inserted: list[str] = []
    untried: list[str] = []
    teams_of: dict[str, frozenset[int]] = {}
    # An insertion only tightens its own tour and uses up its team's room, so a visit
    # that did not fit still does not, except with a matrix that breaks the triangle
    # inequality, where the new stop can open a shortcut: repeat until nothing more fits,
    # trying again only the visits of the teams that changed (nothing else can change
    # the answer for a visit). A pinned visit that does not fit pushes unpinned visits
    # out of its team, and they are tried again everywhere.
    while pending:
        failed: list[str] = []
        pushed: list[str] = []
        planner.touched.clear()
        for i, vid in enumerate(pending):
            if until is not None and now() > until:
                untried = pending[i:]
                break
            options = allowed.get(vid, ())
            if planner.insert(vid, options):
                inserted.append(vid)
                continue
            out = None
            if problem.visit(vid).pinned_team is not None:
                out = planner.give_way(vid, options)
            if out is None:
                failed.append(vid)
                continue
            inserted.append(vid)
            pushed.extend(out)
        if untried:
            untried.extend(pushed)
            break
        retry = list(pushed)
        for vid in failed:
            teams = teams_of.get(vid)
            if teams is None:
                teams = teams_of[vid] = frozenset(ti for ti, _ in allowed.get(vid, ()))
            if not teams.isdisjoint(planner.touched):
                retry.append(vid)
        pending = sorted(dict.fromkeys(retry), key=urgency)
    # Then a visit that fits nowhere may take a less urgent one's place; the one taken
    # out is tried everywhere, and may take a still less urgent one's place in the next
    # round. Served priority grows with every exchange, so the rounds end.
    wanted = set(left)
    stop = bool(untried)
    while swap and not stop:
        placed_now = {v for t in tours.values() for v in t.visit_ids}
        out_now = sorted((v for v in wanted if v not in placed_now), key=urgency)
        changed = False
        for vid in out_now:
            if until is not None and now() > until:
                # What is left was tried in every able shift: its ``capacity`` holds.
                stop = True
                break
            taken = planner.replace(vid, allowed.get(vid, ()))
            if taken is None:
                continue
            changed = True
            inserted.append(vid)
            placed_now.add(vid)
            placed_now.discard(taken)
            wanted.add(taken)
            if planner.insert(taken, allowed.get(taken, ())):
                placed_now.add(taken)
        if not changed:
            break
    # Last, a visit still left out may take any served visit's place when that one fits
    # elsewhere: the exchanges above never serve a visit of the lowest priority, and
    # nothing is left out here, so served priority grows with every move.
    while swap and not stop:
        placed_now = {v for t in tours.values() for v in t.visit_ids}
        changed = False
        for vid in sorted((v for v in wanted if v not in placed_now), key=urgency):
            if until is not None and now() > until:
                stop = True
                break
            if planner.push(vid, allowed.get(vid, ()), allowed) is not None:
                changed = True
                inserted.append(vid)
        if not changed:
            break
    # A visit inserted and later pushed out by a pinned one may not have found a place.
    placed = {v for t in tours.values() for v in t.visit_ids}
    return Filled(
        [v for v in dict.fromkeys(inserted) if v in placed],
        [v for v in dict.fromkeys(untried) if v not in placed],
    )
