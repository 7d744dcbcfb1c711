"""Every stage of a solve ends by its deadline and leaves a valid plan with reasons.

Logical checks, not timings: an injected clock or a deadline already passed must stop the
stage at once, and what it returns must still be a plan ``check`` accepts, every visit
served or given a reason.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest
from planner_factories import AFTERNOON, FAST, MORNING, near, problem, team, visit

from scheduling import check, solve
from scheduling import decompose as decompose_mod
from scheduling import firstplan as firstplan_mod
from scheduling.firstplan import bounded
from scheduling.insertion import PlacedTour, fill_until
from scheduling.planner import assemble
from scheduling.reasons import CAPACITY_DETAIL, UNTRIED_DETAIL
from scheduling.tours import Context, Tour

TIMED = replace(FAST, solution_limit=None, time_limit_s=3)


def crowded_problem():
    """Two teams of two shifts, room for 16 of 30 visits."""
    teams = [team(f"T{i}", shifts=(MORNING, AFTERNOON), max_visits=8) for i in range(2)]
    vs = [
        visit(f"V{i:02d}", location=near(150 * (i % 6), 120 * (i // 6)), priority=1 + i % 5)
        for i in range(30)
    ]
    return problem(teams, vs)


def spread_problem():
    """Two clusters 4 km apart, two teams each, five visits per team: 24 visits."""
    teams = [
        team(f"T{i}", start=near(4000 * (i % 2), 0), max_visits=5, shifts=(MORNING, AFTERNOON))
        for i in range(4)
    ]
    vs = [
        visit(f"V{i:02d}", location=near(4000 * (i % 2) + 150 * (i // 2), 120), priority=1 + i % 5)
        for i in range(24)
    ]
    return problem(teams, vs)


def every_visit_accounted(p, plan) -> bool:
    served = {s.visit for r in plan.routes for s in r.stops}
    left = {u.visit for u in plan.unassigned}
    return served.isdisjoint(left) and served | left == {v.id for v in p.visits}


def test_insertion_stops_at_its_deadline_on_an_injected_clock():
    p = crowded_problem()
    ctx = Context(p)
    ticks = itertools.count()  # each look at the clock is one second later
    tours: dict = {}
    left = [v.id for v in p.visits]
    done = fill_until(
        p,
        ctx.travel,
        ctx.clock,
        ctx.screening.allowed,
        tours,
        left,
        until=2.5,
        now=lambda: next(ticks),
    )
    # The clock reads 0, 1 and 2 before the first three visits, then 3: past the deadline.
    assert len(done.inserted) == 3
    assert len(done.untried) == 27
    assert not set(done.inserted) & set(done.untried)
    assert sum(len(t.visit_ids) for t in tours.values()) == 3


def test_insertion_without_a_deadline_tries_everything():
    p = crowded_problem()
    ctx = Context(p)
    tours: dict = {}
    done = fill_until(
        p, ctx.travel, ctx.clock, ctx.screening.allowed, tours, [v.id for v in p.visits]
    )
    assert done.untried == []
    assert len(done.inserted) == 16  # both teams full


def test_a_passed_deadline_leaves_visits_untried_with_their_reason():
    p = crowded_problem()
    ctx = Context(p)
    plan = assemble(ctx, [], until=time.monotonic() - 1.0)
    assert check(p, plan) == []
    assert plan.routes == () or all(not r.stops for r in plan.routes)
    assert {u.reason for u in plan.unassigned} == {"capacity"}
    assert {u.detail for u in plan.unassigned} == {UNTRIED_DETAIL}
    # With time, the same pass fills both teams and says why the rest is out.
    full = assemble(ctx, [])
    assert full.stats.served == 16
    assert {u.detail for u in full.unassigned} == {CAPACITY_DETAIL}


@pytest.mark.parametrize("decompose_above", [10, 1200])
def test_a_tiny_time_limit_returns_a_valid_plan(decompose_above):
    p = spread_problem()
    plan = solve(p, replace(TIMED, time_limit_s=0.05, decompose_above=decompose_above))
    assert check(p, plan) == []
    assert every_visit_accounted(p, plan)
    assert all(u.reason == "capacity" for u in plan.unassigned)


def _sleep_then(value: str) -> str:
    time.sleep(60)
    return value


def test_a_bounded_call_is_ended_at_its_deadline():
    assert bounded(_sleep_then, ("late",), time.monotonic() + 0.2) is None
    assert bounded(str.upper, ("early",), time.monotonic() + 30) == "EARLY"


def test_decomposed_problem_without_time_for_vroom_starts_from_greedy(monkeypatch):
    # VROOM has no time, neither for the whole problem nor for a part of it.
    monkeypatch.setattr(firstplan_mod, "VROOM_PAIRS_PER_S", 0)
    p = spread_problem()
    plan = solve(p, replace(TIMED, time_limit_s=6, decompose_above=10))
    assert plan.stats.first_plan == "greedy"
    assert check(p, plan) == []
    # Four teams of five: twenty visits, the four least urgent left out.
    assert plan.stats.served == 20
    assert sorted(p.visit(u.visit).priority for u in plan.unassigned) == [1, 1, 1, 1]


def test_parts_without_time_to_search_keep_the_first_plan(monkeypatch):
    # VROOM has no time, neither for the whole problem nor for a part of it.
    monkeypatch.setattr(firstplan_mod, "VROOM_PAIRS_PER_S", 0)
    monkeypatch.setattr(decompose_mod, "MIN_PART_S", 1e9)
    p = spread_problem()
    plan = solve(p, replace(TIMED, time_limit_s=6, decompose_above=10))
    assert plan.stats.first_plan == "greedy"
    assert check(p, plan) == []
    assert plan.stats.served == 20


def test_a_left_out_urgent_visit_takes_the_place_of_a_less_urgent_one():
    t = team("T1", max_visits=2)
    vs = [
        visit("L1", location=near(100, 100), priority=1),
        visit("L2", location=near(200, 100), priority=2),
        visit("H", location=near(300, 100), priority=5),
    ]
    p = problem([t], vs)
    ctx = Context(p)
    plan = assemble(ctx, [Tour(0, 0, ["L1", "L2"])])
    assert check(p, plan) == []
    assert {s.visit for r in plan.routes for s in r.stops} == {"L2", "H"}
    assert [(u.visit, u.reason) for u in plan.unassigned] == [("L1", "capacity")]
    # Without exchanges the tour stays as the search left it.
    kept = assemble(ctx, [Tour(0, 0, ["L1", "L2"])], fill_left=False)
    assert kept.stats.served_priority == 3
    placed = {(0, 0): PlacedTour(0, 0, ["L1", "L2"], kept.routes[0])}
    done = fill_until(p, ctx.travel, ctx.clock, ctx.screening.allowed, placed, ["H"], swap=False)
    assert done.inserted == []
    assert placed[(0, 0)].visit_ids == ["L1", "L2"]


def test_a_part_search_is_stopped_by_the_wall_clock(monkeypatch):
    # OR-Tools' own time limit let a part's search run far past its budget on a loaded
    # machine: the part also looks at the wall clock. Here each reading of the clock is
    # half a second later, so a 5 s search ends after a few dozen looks, not 5 s.
    from types import SimpleNamespace

    from scheduling.firstplan import greedy_placed, to_routes
    from scheduling.instance import Instance
    from scheduling.solver import Budget, Weights
    from scheduling.tours import tours_from_routes

    p = spread_problem()
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    start = to_routes(ctx, inst, greedy_placed(ctx))
    readings = []

    def monotonic() -> float:
        readings.append(None)
        return 0.5 * len(readings)

    monkeypatch.setattr(decompose_mod, "time", SimpleNamespace(monotonic=monotonic, time=time.time))
    weights = Weights.for_instance(inst, False, True)
    routes = decompose_mod._search_part(inst, weights, False, Budget(5.0, None), 0, start)
    assert len(readings) > 10  # the search looked at the clock until past its end
    assert len(readings) < 100
    assert routes is not None
    plan = assemble(ctx, tours_from_routes(inst, routes), fill_left=False)
    assert check(p, plan) == []
    assert plan.stats.served == sum(len(r) for r in start)


def _push_problem(b_start_m: float):
    """Team A alone may make Y; X may be made by A or B; A makes one visit at most."""
    teams = [
        team("A", max_visits=1, skills=frozenset({"vneid", "ramp"})),
        team("B", start=near(0, b_start_m)),
    ]
    vs = [visit("X", priority=1), visit("Y", priority=1, skills=frozenset({"ramp"}))]
    p = problem(teams, vs)
    ctx = Context(p)
    allowed = ctx.screening.allowed
    tours: dict = {}
    # X first in A's tour: A is then full, and Y is of no higher priority than X.
    fill_until(p, ctx.travel, ctx.clock, {"X": [(0, 0)]}, tours, ["X"])
    assert tours[(0, 0)].visit_ids == ["X"]
    return p, ctx, allowed, tours


def test_a_left_out_visit_takes_a_served_ones_place_that_moves_elsewhere():
    p, ctx, allowed, tours = _push_problem(b_start_m=0)
    done = fill_until(p, ctx.travel, ctx.clock, allowed, tours, ["Y"])
    assert done.inserted == ["Y"]
    assert tours[(0, 0)].visit_ids == ["Y"]
    assert tours[(1, 0)].visit_ids == ["X"]


def test_a_push_adding_too_much_travel_is_not_made():
    # B starts 40 km away: moving X there adds far more than five times the plan's
    # travel per served visit, so Y stays out and X stays with A.
    p, ctx, allowed, tours = _push_problem(b_start_m=40_000)
    assert (1, 0) in allowed["X"]
    done = fill_until(p, ctx.travel, ctx.clock, allowed, tours, ["Y"])
    assert done.inserted == []
    assert tours[(0, 0)].visit_ids == ["X"]
    assert (1, 0) not in tours
