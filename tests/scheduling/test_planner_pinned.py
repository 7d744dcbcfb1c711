"""Pinned means kept: a pinned visit is served by its team before any priority.

Small named problems; every plan is accepted by the independent checker.
"""

from __future__ import annotations

import dataclasses

from planner_factories import FAST, at, near, problem, team, visit, window

from scheduling import Shift, SolveParams, check, solve
from scheduling.instance import Instance
from scheduling.planner import assemble
from scheduling.solver import Weights
from scheduling.tours import Context, Tour


def unassigned(plan) -> dict[str, tuple[str, str]]:
    return {u.visit: (u.reason, u.detail) for u in plan.unassigned}


def test_full_team_lets_an_unpinned_visit_go_for_its_pinned_visit():
    # T1 takes two visits; two urgent unpinned ones would fill it, but R3 is pinned to it.
    p = problem(
        [team("T1", max_visits=2)],
        [
            visit("R1", priority=5),
            visit("R2", priority=5),
            visit("R3", priority=1, pinned_team="T1"),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment()["R3"] == "T1"
    assert plan.stats.served == 2
    assert len(unassigned(plan)) == 1


def test_full_team_by_time_makes_room_for_its_pinned_visit():
    # A one-hour shift: two 30-minute urgent visits, or one of them and the pinned one.
    short = Shift(at(8), at(9, 10))
    p = problem(
        [team("T1", shifts=(short,))],
        [
            visit("R1", priority=5, location=near(100, 0)),
            visit("R2", priority=5, location=near(0, 100)),
            visit("P", priority=1, location=near(2000, 2000), pinned_team="T1"),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment().get("P") == "T1"


def test_other_team_takes_what_the_pinned_team_gives_up():
    p = problem(
        [team("T1", max_visits=1), team("T2", start=near(800, 800), max_visits=1)],
        [visit("R1", priority=5, location=near(50, 50)), visit("P", priority=1, pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment() == {"P": "T1", "R1": "T2"}


def test_pinned_visits_beyond_their_team_limit_leave_the_least_urgent_out_naming_the_team():
    p = problem(
        [team("T1", max_visits=1), team("T2")],
        [visit("P1", priority=1, pinned_team="T1"), visit("P2", priority=4, pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment() == {"P2": "T1"}
    reason, detail = unassigned(plan)["P1"]
    assert reason == "capacity"
    assert "pinned to team T1" in detail


def test_pinned_visit_outside_its_team_shifts_is_no_window_naming_the_team():
    p = problem(
        [team("T1"), team("T2", shifts=(Shift(at(14), at(17)),))],
        [visit("R1", windows=(window(15, 0, 16, 0),), pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    reason, detail = unassigned(plan)["R1"]
    assert reason == "no_window"
    assert "pinned team T1" in detail


def test_pinned_visit_out_of_reach_of_its_team_is_unreachable_naming_the_team():
    # 60 km on foot: T1 cannot get there in its shift; the motorbike team could.
    p = problem(
        [team("T1", mode="walk"), team("T2")],
        [visit("R1", location=near(20_000, 0), pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    reason, detail = unassigned(plan)["R1"]
    assert reason == "unreachable"
    assert "pinned team T1" in detail


def test_pinned_visit_whose_team_declined_is_forbidden_naming_the_team():
    p = problem(
        [team("T1"), team("T2")],
        [visit("R1", pinned_team="T1", forbidden_teams={"T1"})],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    reason, detail = unassigned(plan)["R1"]
    assert reason == "forbidden"
    assert "team T1" in detail


def test_leaving_out_a_pinned_visit_costs_more_than_all_priorities():
    p = problem(
        [team("T1")],
        [visit(f"R{i}", priority=5) for i in range(5)] + [visit("P", pinned_team="T1")],
    )
    ctx = Context(p)
    inst = Instance.build(p, ctx.travel, ctx.clock, ctx.screening)
    w = Weights.for_instance(inst, False, True)
    nodes = range(inst.n_visits)
    pinned = [n for n in nodes if inst.is_pinned(n)]
    others = [n for n in nodes if not inst.is_pinned(n)]
    assert len(pinned) == 1
    assert w.penalty(inst, pinned[0]) > sum(w.penalty(inst, n) for n in others)


def test_final_insertion_pushes_unpinned_visits_out_for_a_pinned_one():
    # The tours a search (or a decomposed part) might leave: T1 full with unpinned visits.
    p = problem(
        [team("T1", max_visits=2), team("T2", start=near(900, 0), max_visits=2)],
        [
            visit("R1", priority=5, location=near(100, 0)),
            visit("R2", priority=3, location=near(0, 100)),
            visit("P", priority=1, location=near(100, 100), pinned_team="T1"),
        ],
    )
    ctx = Context(p)
    plan = assemble(ctx, [Tour(0, 0, ["R1", "R2"])])
    assert check(p, plan) == []
    served = plan.assignment()
    assert served["P"] == "T1"
    # The visit that gave way (the least urgent) found a place with the other team.
    assert served["R2"] == "T2"
    assert served["R1"] == "T1"


def test_decomposed_problem_keeps_a_pinned_visit_far_from_its_team():
    # Two clusters 4 km apart, one team each; P lies in T2's cluster but is pinned to T1,
    # which its own cluster's urgent visits would fill.
    far = near(4000, 0)
    visits = [visit(f"A{i}", priority=5, location=near(60 * i, 0)) for i in range(3)]
    visits += [visit(f"B{i}", priority=5, location=near(4000 + 60 * i, 0)) for i in range(3)]
    visits.append(visit("P", priority=1, location=near(4000, 100), pinned_team="T1"))
    p = problem(
        [team("T1", max_visits=3), team("T2", start=far, max_visits=3)],
        visits,
    )
    params = SolveParams(time_limit_s=8, workers=1, solution_limit=200, decompose_above=4)
    plan = solve(p, params)
    assert check(p, plan) == []
    assert plan.assignment().get("P") == "T1"


def test_replan_keeps_a_confirmed_visit_rather_than_giving_it_away_for_a_pin():
    from scheduling import replan

    p = problem(
        [team("T1", max_visits=1)],
        [visit("R1", priority=5), visit("P", priority=1)],
    )
    first = solve(p, FAST)
    assert first.assignment() == {"R1": "T1"}
    pinned = dataclasses.replace(
        p,
        visits=tuple(
            dataclasses.replace(v, pinned_team="T1") if v.id == "P" else v for v in p.visits
        ),
    )
    after = replan(pinned, first, FAST, keep_fixed={"R1"})
    assert check(pinned, after) == []
    assert after.assignment() == {"R1": "T1"}
    assert unassigned(after)["P"][0] == "capacity"
