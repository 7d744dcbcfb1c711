"""The integer instance the OR-Tools model is built from.

Nodes are numbered: the routed visits first, then one start node per team, one end node
per team that has an end point, and last one shared *open end* node reached at zero cost
from anywhere (the tour of a team without end point ends at its last visit). A team's
shifts are separate vehicles that share its start and end nodes.

The instance holds only numpy arrays and plain lists, so it pickles cheaply to worker
processes, and it knows nothing about OR-Tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from scheduling.model import Problem
from scheduling.reasons import Screening
from scheduling.timeline import Clock, service_ticks, shift_ticks, window_ticks
from scheduling.travel import Travel, end_id, minutes_to_ticks, start_id


@dataclass(frozen=True)
class Vehicle:
    """One shift of one team: a tour from ``start_node`` to ``end_node`` in ``[t0, t1]``."""

    team: int
    shift: int
    start_node: int
    end_node: int
    t0: int
    t1: int
    mode: str


@dataclass
class Instance:
    """Arrays the solver needs; see the module docstring for the node numbering.

    A visit with several windows has one node per usable window (same place, service and
    priority; ``visit_ids`` repeats its id); at most one of them is performed.
    """

    visit_ids: list[str]
    priority: np.ndarray  # per visit node
    service: np.ndarray  # per node, ticks
    demand: np.ndarray  # per node
    windows: list[list[tuple[int, int]]]  # per visit node: [] = unrestricted, or one window
    allowed: list[list[int]]  # per visit node, vehicle indices
    vehicles: list[Vehicle]
    ticks: dict[str, np.ndarray]  # per mode, node x node travel ticks
    max_visits: dict[int, int] = field(default_factory=dict)  # team -> limit over its shifts
    capacity: dict[int, int] = field(default_factory=dict)  # team -> load per tour
    fixed: dict[int, tuple[int, int]] = field(
        default_factory=dict
    )  # visit node -> (vehicle, start)
    previous: dict[int, int] = field(default_factory=dict)  # visit node -> vehicle before replan
    # Per visit node: the visit is pinned to a team (served before any priority).
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Per vehicle: how a team's ``max_visits`` is shared out among its shifts above
    # EXACT_SHARED_LIMIT_VISITS, when a first plan decided it (``None``: by shift length).
    vehicle_caps: list[int] | None = None

    @property
    def n_visits(self) -> int:
        return len(self.visit_ids)

    def is_pinned(self, node: int) -> bool:
        """Whether the visit of this node is pinned to its team."""
        return bool(self.pinned.size == self.n_visits and self.pinned[node])

    @property
    def n_nodes(self) -> int:
        return int(self.service.shape[0])

    @classmethod
    def build(
        cls,
        problem: Problem,
        travel: Travel,
        clock: Clock,
        screening: Screening,
        visit_ids: list[str] | None = None,
        team_indices: list[int] | None = None,
    ) -> Instance:
        """Build the instance for some visits and teams (all screened ones by default).

        Only visits that screening allows are routed; a visit's allowed vehicles are the
        screened team shifts among ``team_indices``.
        """
        teams = list(range(len(problem.teams))) if team_indices is None else list(team_indices)
        team_set = set(teams)
        if visit_ids is None:
            visit_ids = [v.id for v in problem.visits if v.id in screening.allowed]
        vehicles_of: dict[tuple[int, int], int] = {}
        vehicles: list[Vehicle] = []
        routed: list[str] = []
        allowed: list[list[int]] = []
        node_windows: list[list[tuple[int, int]]] = []
        by_id = {v.id: v for v in problem.visits}
        # Vehicle numbering first (nodes of team points come after the visits).
        order = [(ti, si) for ti in teams for si in range(len(problem.teams[ti].shifts))]
        for k, pair in enumerate(order):
            vehicles_of[pair] = k
        spans = [shift_ticks(clock, problem.teams[ti], si) for ti, si in order]
        for vid in visit_ids:
            vs = sorted(vehicles_of[p] for p in screening.allowed.get(vid, ()) if p[0] in team_set)
            if not vs:
                continue
            v = by_id[vid]
            wins = window_ticks(clock, v)
            if len(wins) <= 1:
                routed.append(vid)
                allowed.append(vs)
                node_windows.append(wins)
                continue
            # Several windows: one node per usable window, in one disjunction. Removing the
            # gaps from a cumul domain instead (RemoveInterval) costs time and memory in
            # proportion to the gap length in ticks: seconds per visit at 1 ms ticks.
            svc = service_ticks(v)
            for a, b in wins:
                ok = [k for k in vs if a <= spans[k][1] - svc and b >= spans[k][0]]
                if ok:
                    routed.append(vid)
                    allowed.append(ok)
                    node_windows.append([(a, b)])
        nv = len(routed)
        keys = list(routed)
        start_node: dict[int, int] = {}
        end_node: dict[int, int] = {}
        # Teams whose points coincide share one node (a depot in OR-Tools terms): fewer
        # nodes, and vehicles that differ only by shift fall into the same class.
        shared: dict[tuple, int] = {}
        for ti in teams:
            key = start_id(problem.teams[ti].id)
            sig = ("start", *travel.signature(key))
            if sig not in shared:
                shared[sig] = len(keys)
                keys.append(key)
            start_node[ti] = shared[sig]
        for ti in teams:
            if problem.team_has_end(problem.teams[ti]):
                key = end_id(problem.teams[ti].id)
                sig = ("end", *travel.signature(key))
                if sig not in shared:
                    shared[sig] = len(keys)
                    keys.append(key)
                end_node[ti] = shared[sig]
        open_node = len(keys)
        # The shared open end exists only if some team has no end point: a node that is no
        # vehicle's start or end would otherwise be a mandatory visit.
        n = open_node + (1 if len(end_node) < len(teams) else 0)
        for ti, si in order:
            team = problem.teams[ti]
            t0, t1 = shift_ticks(clock, team, si)
            vehicles.append(
                Vehicle(
                    ti,
                    si,
                    start_node[ti],
                    end_node.get(ti, open_node),
                    t0,
                    t1,
                    travel.mode_of(team),
                )
            )
        modes = sorted({v.mode for v in vehicles})
        ticks: dict[str, np.ndarray] = {}
        meters = None if travel.matrix is not None else travel.meters_matrix(keys)
        for mode in modes:
            m = np.zeros((n, n), dtype=np.int64)
            m[:open_node, :open_node] = minutes_to_ticks(travel.minutes_matrix(mode, keys, meters))
            # Nothing leaves an end point; start points are never entered.
            for node in set(end_node.values()):
                m[node, :] = 0
            ticks[mode] = m
        del meters
        visits = [by_id[v] for v in routed]
        service = np.zeros(n, dtype=np.int64)
        service[:nv] = [service_ticks(v) for v in visits]
        demand = np.zeros(n, dtype=np.int64)
        demand[:nv] = [v.demand for v in visits]
        return cls(
            visit_ids=routed,
            priority=np.array([v.priority for v in visits], dtype=np.int64),
            service=service,
            demand=demand,
            windows=node_windows,
            allowed=allowed,
            vehicles=vehicles,
            ticks=ticks,
            max_visits={
                ti: problem.teams[ti].max_visits
                for ti in teams
                if problem.teams[ti].max_visits is not None
            },
            capacity={
                ti: problem.teams[ti].capacity
                for ti in teams
                if problem.teams[ti].capacity is not None
            },
            pinned=np.array([v.pinned_team is not None for v in visits], dtype=bool),
        )

    def vehicle_index(self, team: int, shift: int) -> int | None:
        """The vehicle of a team shift, or ``None``."""
        for k, v in enumerate(self.vehicles):
            if v.team == team and v.shift == shift:
                return k
        return None

    def permuted(self, seed: int) -> tuple[Instance, np.ndarray]:
        """The same instance with visit nodes shuffled; returns it and ``perm``.

        Node ``i`` of the new instance is node ``perm[i]`` of this one. OR-Tools breaks
        ties by node order, so a different order is a cheap, reproducible diversification.
        """
        nv = self.n_visits
        rng = np.random.default_rng(seed)
        perm = np.arange(self.n_nodes)
        if seed != 0 and nv > 1:
            perm[:nv] = rng.permutation(nv)
        inv = np.empty_like(perm)
        inv[perm] = np.arange(perm.size)
        ticks = {m: a[np.ix_(perm, perm)] for m, a in self.ticks.items()}
        return (
            replace(
                self,
                visit_ids=[self.visit_ids[i] for i in perm[:nv]],
                priority=self.priority[perm[:nv]],
                service=self.service[perm],
                demand=self.demand[perm],
                windows=[self.windows[i] for i in perm[:nv]],
                allowed=[self.allowed[i] for i in perm[:nv]],
                ticks=ticks,
                fixed={int(inv[k]): v for k, v in self.fixed.items()},
                previous={int(inv[k]): v for k, v in self.previous.items()},
                pinned=self.pinned[perm[:nv]] if self.pinned.size == nv else self.pinned,
            ),
            perm,
        )
