"""Every visit left out carries the reason found by checks."""

from __future__ import annotations

import time

from planner_factories import AFTERNOON, FAST, MORNING, near, problem, team, visit, window

from scheduling import check, solve
from scheduling.planner import Context, Tour, assemble


def reasons(plan) -> dict[str, str]:
    return {u.visit: u.reason for u in plan.unassigned}


def test_visit_needing_a_skill_no_team_has_is_no_skill():
    p = problem([team("T1", skills={"vneid"})], [visit("R1", skills={"epayment"})])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "no_skill"}
    assert "epayment" in plan.unassigned[0].detail


def test_visit_in_a_language_no_team_speaks_is_no_skill():
    p = problem([team("T1", languages={"vi"})], [visit("R1", languages={"km"})])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "no_skill"}
    assert "km" in plan.unassigned[0].detail


def test_pinned_visit_whose_team_lacks_the_skill_is_no_skill():
    p = problem(
        [team("T1", skills={"vneid"}), team("T2", skills={"epayment"})],
        [visit("R1", skills={"epayment"}, pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "no_skill"}


def test_visit_whose_every_able_team_declined_is_forbidden():
    p = problem(
        [team("T1"), team("T2"), team("T3", skills={"other"})],
        [visit("R1", skills={"vneid"}, forbidden_teams={"T1", "T2"})],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "forbidden"}
    assert "T1" in plan.unassigned[0].detail


def test_visit_whose_windows_miss_every_shift_is_no_window():
    p = problem([team("T1", shifts=(MORNING,))], [visit("R1", windows=(window(18, 0, 19, 0),))])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "no_window"}


def test_visit_longer_than_every_shift_is_no_window():
    p = problem([team("T1", shifts=(MORNING,))], [visit("R1", service_min=300)])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "no_window"}


def test_visit_too_far_to_reach_within_its_window_is_unreachable():
    # 40 km away on foot: about 11.5 hours.
    p = problem(
        [team("T1", mode="walk", shifts=(MORNING, AFTERNOON))],
        [visit("R1", location=near(40_000, 0), windows=(window(8, 0, 10, 0),))],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R1": "unreachable"}


def test_feasible_visit_left_out_because_teams_are_full_is_capacity():
    p = problem(
        [team("T1", max_visits=1)],
        [visit("R1", priority=5), visit("R2", priority=1)],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert reasons(plan) == {"R2": "capacity"}
    assert plan.assignment() == {"R1": "T1"}


def test_every_visit_is_either_routed_or_unassigned_with_a_known_reason():
    p = problem(
        [team("T1", max_visits=2)],
        [
            visit("ok1", priority=2),
            visit("ok2", priority=2),
            visit("full", priority=1),
            visit("skill", skills={"x"}),
            visit("late", windows=(window(20, 0, 21, 0),)),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.stats.served + len(plan.unassigned) == 5
    assert reasons(plan) == {"full": "capacity", "skill": "no_skill", "late": "no_window"}


def test_visits_a_search_left_out_are_inserted_where_they_still_fit():
    # Tours from any source (here: none at all, as if the search found nothing in time)
    # go through the final insertion pass before a visit may be called `capacity`.
    p = problem(
        [team("T1", max_visits=2), team("T2", start=near(3000, 0), end=near(3000, 0))],
        [visit(f"R{i}", location=near(400 * i, 200), priority=1 + i) for i in range(4)],
    )
    seen = []
    plan = assemble(Context(p), [], progress=seen.append, started=time.monotonic())
    assert check(p, plan) == []
    assert plan.stats.served == 4
    assert plan.unassigned == ()
    # The better plan is reported like any improvement found by the search.
    assert [(s.served, s.served_priority) for s in seen] == [(4, 10)]


def test_a_visit_is_capacity_only_when_no_able_team_shift_has_room_for_it():
    # One team, back at the office by 11:00: three one-hour services fit in the morning,
    # a fourth does not; T2 lacks the skill.
    p = problem(
        [team("T1", end=near(0, 0)), team("T2", skills={"other"})],
        [
            visit(
                f"R{i}", location=near(300 * i, 0), service_min=60, priority=1 + i, skills={"vneid"}
            )
            for i in range(4)
        ],
    )
    partial = Tour(team=0, shift=0, visit_ids=["R3"])
    plan = assemble(Context(p), [partial])
    assert check(p, plan) == []
    assert plan.stats.served == 3
    assert "R3" in plan.assignment()
    assert reasons(plan) == {"R0": "capacity"}
