"""PyVRP as an engine of the portfolio (scheduling/pyvrp_bridge.py)."""

from __future__ import annotations

import logging

import pytest
from planner_factories import MORNING, near, problem, team, visit, window

from scheduling import SolveParams, check, solve
from scheduling.instance import Instance
from scheduling.planner import pyvrp_configs
from scheduling.pyvrp_bridge import misfit
from scheduling.solomon import Customer, SolomonInstance
from scheduling.solver import Budget, Hooks, Model, Weights
from scheduling.solver import pyvrp_search as search
from scheduling.tours import Context

pytest.importorskip("pyvrp")


def small_solomon() -> SolomonInstance:
    """12 customers around a depot, capacity 30: at least 3 tours by load, tight windows."""
    depot = Customer(0, 50, 50, 0, 0, 400, 0)
    spots = [
        (20, 30, 10, 20, 80),
        (25, 35, 10, 40, 120),
        (30, 20, 10, 90, 160),
        (70, 30, 10, 30, 90),
        (75, 25, 10, 60, 140),
        (80, 35, 10, 120, 200),
        (60, 80, 10, 20, 100),
        (55, 85, 10, 80, 150),
        (45, 90, 10, 140, 230),
        (20, 70, 5, 50, 130),
        (15, 75, 5, 100, 190),
        (85, 70, 5, 150, 260),
    ]
    customers = tuple(
        Customer(i + 1, x, y, d, r, due, 10) for i, (x, y, d, r, due) in enumerate(spots)
    )
    return SolomonInstance("TINY", 6, 30, depot, customers)


def instance_of(p) -> Instance:
    ctx = Context(p)
    return Instance.build(p, ctx.travel, ctx.clock, ctx.screening)


def test_a_solomon_like_instance_fits_and_pyvrp_serves_every_customer_feasibly():
    p = small_solomon().to_problem()
    inst = instance_of(p)
    assert misfit(inst) is None
    weights = Weights.for_instance(inst, minimize_vehicles=True, balance=False)
    found = search(inst, weights, False, Budget(1.0), Hooks(), 0, 0, True)
    assert found is not None
    served = sorted(n for r in found.routes for n in r)
    assert served == list(range(inst.n_visits))
    # Feasible for our own model (capacity, windows, shifts) and judged by its objective.
    a = Model(inst, weights, False).assignment_from(found.routes)
    assert a is not None and a.ObjectiveValue() == found.objective
    # Every tour within capacity (30) and at least the 3 tours the load needs.
    used = [r for r in found.routes if r]
    assert len(used) >= 3
    assert all(sum(int(inst.demand[n]) for n in r) <= 30 for r in used)


def test_the_planner_runs_pyvrp_in_its_portfolio_and_the_plan_checks(caplog):
    p = small_solomon().to_problem()
    params = SolveParams(time_limit_s=3, workers=2, minimize_vehicles=True, balance=False)
    assert pyvrp_configs(instance_of(p), params) is not None
    with caplog.at_level(logging.INFO, logger="scheduling.stages"):
        plan = solve(p, params)
    assert check(p, plan) == []
    assert plan.unassigned == ()
    assert any("portfolio: best plan from worker" in r.getMessage() for r in caplog.records)


def test_prizes_serve_the_more_urgent_visit_when_not_everything_fits():
    # One team, load 15 per tour: only one of the two visits (demand 10 each) fits.
    t = team("T1", capacity=15, skills=frozenset(), languages=frozenset())
    low = visit("low", location=near(300, 0), demand=10, priority=1)
    high = visit("high", location=near(-300, 0), demand=10, priority=5)
    p = problem([t], [low, high])
    inst = instance_of(p)
    assert misfit(inst) is None
    weights = Weights.for_instance(inst, minimize_vehicles=False, balance=True)
    found = search(inst, weights, True, Budget(0.5), Hooks(), 0, 0, False)
    assert found is not None
    served = [inst.visit_ids[n] for r in found.routes for n in r]
    assert served == ["high"]


def test_a_single_shift_max_visits_is_held():
    t = team("T1", max_visits=2, skills=frozenset(), languages=frozenset())
    visits = [visit(f"v{i}", location=near(100 * i, 50)) for i in range(4)]
    p = problem([t], visits)
    inst = instance_of(p)
    assert misfit(inst) is None
    weights = Weights.for_instance(inst, minimize_vehicles=False, balance=True)
    found = search(inst, weights, True, Budget(0.5), Hooks(), 0, 0, False)
    assert found is not None
    assert sum(len(r) for r in found.routes) == 2


def test_skills_and_pins_do_not_take_the_pyvrp_path():
    t1 = team("T1", skills=frozenset({"vneid"}))
    t2 = team("T2", skills=frozenset())
    params = SolveParams(time_limit_s=3, workers=2)
    skilled = problem([t1, t2], [visit("a", skills=frozenset({"vneid"})), visit("b")])
    assert "skills" in misfit(instance_of(skilled))
    assert pyvrp_configs(instance_of(skilled), params) is None
    pinned = problem([t1, t2], [visit("a", pinned_team="T2"), visit("b")])
    assert "pins" in misfit(instance_of(pinned))
    assert pyvrp_configs(instance_of(pinned), params) is None
    # The same teams without the skill and the pin fit.
    plain = problem([t1, t2], [visit("a"), visit("b")])
    assert misfit(instance_of(plain)) is None
    assert pyvrp_configs(instance_of(plain), params) is not None


def test_several_windows_and_a_shared_max_visits_do_not_fit():
    two = visit("a", windows=(window(8, 0, 9, 0), window(10, 0, 10, 30)))
    p = problem([team("T1")], [two, visit("b")])
    assert misfit(instance_of(p)) == "a visit with several windows"
    late = MORNING.__class__(MORNING.start.replace(hour=14), MORNING.end.replace(hour=17))
    shared = problem([team("T1", shifts=(MORNING, late), max_visits=3)], [visit("a")])
    assert misfit(instance_of(shared)) == "a max_visits shared by a team's shifts"


def test_pyvrp_off_a_solution_budget_or_one_worker_keep_or_tools_only():
    inst = instance_of(small_solomon().to_problem())
    assert pyvrp_configs(inst, SolveParams(pyvrp=False)) is None
    assert pyvrp_configs(inst, SolveParams(solution_limit=100)) is None
    assert pyvrp_configs(inst, SolveParams(workers=1)) is None
