"""Fleet minimisation (``minimize_vehicles``): the route elimination and its two workers."""

from __future__ import annotations

import time

import numpy as np
from planner_factories import AFTERNOON, MORNING, near, problem, team, visit, window

from scheduling import SolveParams, check, solve
from scheduling.instance import Instance
from scheduling.planner import Context
from scheduling.solomon import read_instance
from scheduling.solver import (
    INT64_SAFE,
    Budget,
    Hooks,
    Model,
    SearchConfig,
    Weights,
    _eliminate,
    _solve,
    fleet_bound,
    tours_needed,
)


def _instance(p) -> Instance:
    ctx = Context(p)
    return Instance.build(p, ctx.travel, ctx.clock, ctx.screening)


def _plan_with_spare_tours(inst: Instance, weights: Weights) -> list[list[int]]:
    """A first solution only (no local search): more tours than needed, reproducibly."""
    model = Model(inst, weights, balance=False)
    sol = _solve(model, SearchConfig(first="SAVINGS"), Budget(5.0, solutions=1))
    return model.routes_of(sol.Value)


def test_elimination_empties_a_tour_of_a_solomon_plan_and_keeps_every_customer(solomon_dir):
    inst = _instance(read_instance(solomon_dir / "R101.txt").to_problem())
    weights = Weights.for_instance(inst, minimize_vehicles=True, balance=False)
    routes = _plan_with_spare_tours(inst, weights)
    used = [k for k, r in enumerate(routes) if r]
    assert sum(len(r) for r in routes) == inst.n_visits
    drop = min(used, key=lambda k: len(routes[k]))
    trial = [[] if k == drop else list(r) for k, r in enumerate(routes)]
    judge = Model(inst, weights, balance=False)
    got = _eliminate(
        judge, SearchConfig(), trial, len(used) - 1, inst.n_visits, Budget(20.0), Hooks()
    )
    assert got is not None
    assert sum(1 for r in got if r) <= len(used) - 1
    assert sorted(n for r in got for n in r) == list(range(inst.n_visits))
    assert judge.assignment_from(got) is not None  # feasible as it is


def test_elimination_gives_up_when_the_visits_cannot_fit_in_fewer_tours():
    # Two visits at the same moment, far apart: they need two teams.
    p = problem(
        [team("T1"), team("T2")],
        [
            visit("A", location=near(3000, 0), windows=(window(8, 0, 8, 5),)),
            visit("B", location=near(-3000, 0), windows=(window(8, 0, 8, 5),)),
        ],
    )
    inst = _instance(p)
    weights = Weights.for_instance(inst, minimize_vehicles=True, balance=False)
    judge = Model(inst, weights, balance=False)
    routes = _plan_with_spare_tours(inst, weights)
    assert sum(1 for r in routes if r) == 2
    trial = [r if k == 0 else [] for k, r in enumerate(routes)]
    started = time.monotonic()
    got = _eliminate(judge, SearchConfig(), trial, 1, 2, Budget(0.5), Hooks())
    assert got is None
    assert time.monotonic() - started < 3


def test_elimination_stops_when_asked():
    p = problem(
        [team(f"T{k}") for k in range(3)],
        [visit(f"R{i}", location=near(200 * i, -150 * i), service_min=20) for i in range(9)],
    )
    inst = _instance(p)
    weights = Weights.for_instance(inst, minimize_vehicles=True, balance=False)
    judge = Model(inst, weights, balance=False)
    trial = [[] for _ in inst.vehicles]
    got = _eliminate(judge, SearchConfig(), trial, 1, 10**6, Budget(30.0), Hooks(stop=lambda: True))
    assert got is None


def test_weighted_penalties_stay_within_the_objective_bound():
    # The elimination multiplies disjunction penalties; with priorities 5 the plain ones
    # already use most of the int64 room, so the weights must be capped, not overflow.
    p = problem(
        [team("T1"), team("T2")],
        [visit(f"R{i}", location=near(300 * i, 0), priority=5) for i in range(4)],
    )
    inst = _instance(p)
    weights = Weights.for_instance(inst, minimize_vehicles=True, balance=True)
    assert weights.priority_unit * (int(inst.priority.sum()) + 1) < INT64_SAFE
    judge = Model(inst, weights, balance=True)
    trial = [[] for _ in inst.vehicles]
    got = _eliminate(
        judge, SearchConfig(), trial, 1, int(inst.priority.sum()), Budget(5.0), Hooks()
    )
    assert got is not None and judge.assignment_from(got) is not None


def test_fleet_bound_is_demand_over_the_largest_capacity(solomon_dir):
    r1 = _instance(read_instance(solomon_dir / "R101.txt").to_problem())
    r2 = _instance(read_instance(solomon_dir / "R201.txt").to_problem())
    assert fleet_bound(r1) == int(np.ceil(r1.demand.sum() / 200))
    assert fleet_bound(r2) == 2
    door = _instance(problem([team("T1"), team("T2")], [visit("R1")]))
    assert fleet_bound(door) == 2  # no demand: the vehicles


def test_tours_needed_is_a_lower_bound_from_the_load_served(solomon_dir):
    c1 = _instance(read_instance(solomon_dir / "C101.txt").to_problem())
    everyone = [list(range(c1.n_visits))]
    assert tours_needed(c1, everyone) == int(np.ceil(c1.demand[: c1.n_visits].sum() / 200))
    assert tours_needed(c1, [[0], [1]]) == 1
    assert tours_needed(c1, []) == 1
    door = _instance(problem([team("T1"), team("T2")], [visit("R1"), visit("R2")]))
    assert tours_needed(door, [[0, 1]]) == 1  # no capacity: one tour may carry anything


def _door_to_door():
    teams = [team("T1"), team("T2", shifts=(MORNING, AFTERNOON)), team("T3", skills=frozenset())]
    teams += [team(f"U{k}", start=near(400 * k, 300)) for k in range(3)]
    visits = [
        visit(
            f"R{i}",
            location=near(137 * i % 2500, 91 * i % 1800),
            service_min=20,
            priority=1 + i % 5,
            windows=(window(8, 0, 10, 30),) if i % 3 == 0 else (),
        )
        for i in range(24)
    ]
    visits.append(visit("S", skills=frozenset({"epayment"})))  # no team has the skill
    return problem(teams, visits)


def test_minimize_vehicles_on_a_door_to_door_problem_with_both_workers():
    p = _door_to_door()
    plain = solve(p, SolveParams(time_limit_s=4, workers=2))
    fewest = solve(p, SolveParams(time_limit_s=4, workers=2, minimize_vehicles=True))
    assert check(p, plain) == []
    assert check(p, fewest) == []
    # Everything that can be served is served (priority comes before the fleet), and
    # with fewer or as many tours as when only travel counts.
    assert plain.stats.served == fewest.stats.served == 24
    assert len(fewest.routes) <= len(plain.routes)
    assert {u.visit for u in fewest.unassigned} >= {"S"}


def test_minimize_vehicles_search_stops_early_when_asked():
    p = _door_to_door()
    t = time.monotonic()
    plan = solve(
        p,
        SolveParams(
            time_limit_s=30,
            workers=2,
            minimize_vehicles=True,
            should_stop=lambda: time.monotonic() - t > 1.5,
        ),
    )
    # Far below the 30 s limit (a generous margin: the machine may be busy).
    assert time.monotonic() - t < 20
    assert check(p, plan) == []
