"""The first plan the OR-Tools search starts from (``SolveParams.first_plan``).

VROOM's relaxation lets every shift of a team take the team's whole ``max_visits``: the
repair must bring it back under the shared limit, or OR-Tools refuses the plan. Without
``pyvroom`` the planner falls back to greedy insertion.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from planner_factories import AFTERNOON, FAST, MORNING, near, problem, team, visit

from scheduling import check, solve
from scheduling.firstplan import choose, make
from scheduling.instance import Instance
from scheduling.model import Plan
from scheduling.solver import Model, Weights
from scheduling.tours import Context

TIMED = replace(FAST, solution_limit=None, time_limit_s=3)


def two_shift_problem(limit: int = 3):
    """One team, two shifts, a shared limit of ``limit`` visits, eight visits nearby."""
    t = team("T1", shifts=(MORNING, AFTERNOON), max_visits=limit)
    vs = [visit(f"V{i}", location=near(200 * i, 100), priority=1 + i % 5) for i in range(8)]
    return problem([t], vs)


def blocked_vroom(monkeypatch):
    # ``import vroom`` raises ImportError when its sys.modules entry is None.
    monkeypatch.setitem(sys.modules, "vroom", None)


def test_greedy_first_plan_is_recorded_and_valid():
    p = two_shift_problem()
    plan = solve(p, replace(TIMED, first_plan="greedy"))
    assert plan.stats.first_plan == "greedy"
    assert check(p, plan) == []
    assert plan.stats.served == 3  # the shared limit, not 3 per shift


def test_vroom_relaxation_is_repaired_under_the_shared_limit():
    pytest.importorskip("vroom")
    p = two_shift_problem(limit=3)
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    routes, source = make(ctx, inst, replace(TIMED, first_plan="vroom"), 2.0)
    assert source == "vroom"
    assert routes is not None and sum(len(r) for r in routes) == 3
    # The most urgent visits are kept when the relaxation has to give way.
    kept = sorted(int(inst.priority[n]) for r in routes for n in r)
    assert kept == [3, 4, 5]
    weights = Weights.for_instance(inst, False, True)
    assert Model(inst, weights, True).assignment_from(routes) is not None


def test_auto_uses_vroom_when_installed():
    pytest.importorskip("vroom")
    p = two_shift_problem()
    plan = solve(p, TIMED)
    assert plan.stats.first_plan == "vroom"
    assert check(p, plan) == []


def test_vroom_plan_below_greedy_insertion_gives_way_to_it(monkeypatch):
    # VROOM cut short (a loaded machine, a small share of the time) may serve less than
    # greedy insertion: the search then starts from greedy's plan, never from the worse one.
    import scheduling.firstplan as firstplan

    p = two_shift_problem()
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    monkeypatch.setattr(firstplan, "_vroom_routes", lambda *a: [[] for _ in inst.vehicles])
    routes, source = make(ctx, inst, replace(TIMED, first_plan="vroom"), 2.0)
    assert source == "greedy"
    assert routes is not None and sum(len(r) for r in routes) == 3


def test_without_pyvroom_auto_and_vroom_fall_back_to_greedy(monkeypatch):
    blocked_vroom(monkeypatch)
    p = two_shift_problem()
    for asked in ("auto", "vroom"):
        plan = solve(p, replace(TIMED, first_plan=asked))
        assert plan.stats.first_plan == "greedy"
        assert check(p, plan) == []
        assert plan.stats.served == 3


def test_solution_limit_means_no_first_plan_unless_asked():
    p = two_shift_problem()
    assert solve(p, FAST).stats.first_plan == "none"
    assert solve(p, replace(FAST, first_plan="greedy")).stats.first_plan == "greedy"


def test_unknown_first_plan_is_refused():
    p = two_shift_problem()
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    with pytest.raises(ValueError, match="first_plan"):
        choose(replace(FAST, first_plan="best"), inst)


def test_first_plan_survives_json():
    p = two_shift_problem()
    plan = solve(p, replace(TIMED, first_plan="greedy"))
    again = Plan.from_json(plan.to_json())
    assert again.stats.first_plan == "greedy"


def spread_problem():
    """Four teams on two sides of town, 24 visits: decomposed when ``decompose_above`` < 24."""
    teams = [
        team(f"T{i}", start=near(4000 * (i % 2), 0), shifts=(MORNING,), max_visits=5)
        for i in range(4)
    ]
    vs = [
        visit(f"V{i:02d}", location=near(4000 * (i % 2) + 150 * (i // 2), 120), priority=1 + i % 5)
        for i in range(24)
    ]
    return problem(teams, vs)


def test_decomposed_problem_starts_from_vroom_and_keeps_its_priority():
    pytest.importorskip("vroom")
    p = spread_problem()
    params = replace(TIMED, time_limit_s=6, decompose_above=10)
    plan = solve(p, params)
    assert plan.stats.first_plan == "vroom"
    assert check(p, plan) == []
    # Four teams of five: twenty visits, the four least urgent left out.
    assert plan.stats.served == 20
    left = sorted(p.visit(u.visit).priority for u in plan.unassigned)
    assert left == [1, 1, 1, 1]


def test_decomposed_problem_without_pyvroom_has_no_first_plan(monkeypatch):
    blocked_vroom(monkeypatch)
    p = spread_problem()
    plan = solve(p, replace(TIMED, time_limit_s=6, decompose_above=10))
    assert plan.stats.first_plan == "none"
    assert check(p, plan) == []
    assert plan.stats.served == 20


def test_vroom_by_part_keeps_each_part_to_its_teams():
    # Two parts, one per side of town, each with the two teams that start there: each
    # part's visits are planned by VROOM with its own teams only, and the plans together
    # are a valid first plan of the whole problem.
    pytest.importorskip("vroom")
    from scheduling.firstplan import vroom_parts_placed

    p = spread_problem()
    ctx = Context(p)
    west = [v.id for i, v in enumerate(p.visits) if i % 2 == 0]
    east = [v.id for i, v in enumerate(p.visits) if i % 2 == 1]
    placed = vroom_parts_placed(ctx, [(west, [0, 2]), (east, [1, 3])], 4.0)
    served = {v: key[0] for key, t in placed.items() for v in t.visit_ids}
    assert len(served) == 20
    assert all(served[v] in (0, 2) for v in west if v in served)
    assert all(served[v] in (1, 3) for v in east if v in served)


def test_vroom_part_leaves_out_visits_none_of_its_teams_may_make():
    pytest.importorskip("vroom")
    from scheduling.vroom_bridge import vroom_input

    p = spread_problem()
    pinned = replace(p.visits[0], pinned_team="T1")  # T1 is team 1, not in the part
    p = replace(p, visits=(pinned, *p.visits[1:]))
    ctx = Context(p)
    ids = [v.id for v in p.visits[:6]]
    _, vehicles, visit_of = vroom_input(ctx, visit_ids=set(ids), team_indices=[0, 2])
    assert sorted({ti for ti, _ in vehicles}) == [0, 2]
    assert visit_of == ids[1:]


@pytest.mark.parametrize("by_part", ["always", "fallback"])
def test_decomposed_problem_starts_from_vroom_by_part_or_whole(monkeypatch, by_part):
    pytest.importorskip("vroom")
    import scheduling.decompose as decompose

    monkeypatch.setattr(decompose, "VROOM_BY_PART", by_part)
    p = spread_problem()
    plan = solve(p, replace(TIMED, time_limit_s=6, decompose_above=10))
    assert plan.stats.first_plan == "vroom"
    assert check(p, plan) == []
    assert plan.stats.served == 20
    assert sorted(p.visit(u.visit).priority for u in plan.unassigned) == [1, 1, 1, 1]


def test_a_part_search_reports_its_best_routes_as_it_goes(monkeypatch):
    # A part given up after the end keeps the routes its search last reported: the
    # reports are the part's own routes (instance nodes, not the permuted ones).
    import queue

    import scheduling.decompose as decompose

    p = spread_problem()
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    reports: queue.Queue = queue.Queue()
    monkeypatch.setattr(decompose, "REPORT_EVERY_S", 0.0)
    decompose._init_worker(None, reports)
    try:
        w = Weights.for_instance(inst, False, True)
        found = decompose._search_part(inst, w, False, decompose.Budget(2.0), 3, None, None, 7)
    finally:
        decompose._init_worker(None, None)
    assert found is not None
    got = []
    while not reports.empty():
        got.append(reports.get())
    assert got and all(i == 7 for i, _ in got)
    last = got[-1][1]
    assert sum(len(r) for r in last) == sum(len(r) for r in found)
    weights = Weights.for_instance(inst, False, True)
    assert Model(inst, weights, False).assignment_from(last) is not None
