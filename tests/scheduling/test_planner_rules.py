"""One small named problem per hard rule; every plan is accepted by the checker."""

from __future__ import annotations

import numpy as np
from planner_factories import (
    AFTERNOON,
    FAST,
    MORNING,
    at,
    near,
    problem,
    team,
    visit,
    window,
)

from scheduling import check, solve


def served_by(plan) -> dict[str, str]:
    return plan.assignment()


def test_visit_goes_only_to_a_team_with_every_skill_it_needs():
    p = problem(
        [team("T1", skills={"vneid"}), team("T2", skills={"vneid", "epayment"})],
        [visit("R1", skills={"vneid", "epayment"})],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert served_by(plan) == {"R1": "T2"}


def test_visit_with_languages_goes_to_a_team_speaking_one_of_them():
    p = problem(
        [team("T1", languages={"vi"}), team("T2", languages={"vi", "km"})],
        [visit("R1", languages={"km", "en"})],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert served_by(plan) == {"R1": "T2"}


def test_service_starts_inside_one_of_the_visit_windows():
    p = problem(
        [team("T1")],
        [visit("R1", windows=(window(8, 0, 8, 10), window(10, 0, 10, 30)))],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    stop = plan.routes[0].stops[0]
    assert at(8, 0) <= stop.start <= at(8, 10)


def test_visit_whose_only_window_falls_between_two_shifts_is_not_served():
    p = problem(
        [team("T1", shifts=(MORNING, AFTERNOON))],
        [visit("R1", windows=(window(11, 30, 13, 30),)), visit("R2")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert {u.visit: u.reason for u in plan.unassigned} == {"R1": "no_window"}


def test_team_with_two_shifts_makes_two_separate_tours():
    p = problem(
        [team("T1", shifts=(MORNING, AFTERNOON), mode="walk")],
        [
            visit("R1", windows=(window(8, 0, 9, 0),)),
            visit("R2", windows=(window(15, 0, 16, 0),)),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert sorted((r.shift, r.visit_ids) for r in plan.routes) == [(0, ("R1",)), (1, ("R2",))]


def test_team_with_an_end_point_reaches_it_before_the_shift_ends():
    far_end = near(20_000, 0)  # 20 km north: 26 km with detours, ~71 min by motorbike
    p = problem(
        [team("T1", end=far_end)],
        [visit("R1", service_min=60), visit("R2", service_min=60), visit("R3", service_min=60)],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    route = plan.routes[0]
    assert route.finish is not None and route.finish <= MORNING.end
    # 3.5 h shift: 71 min to the end point leaves room for two one-hour visits only.
    assert plan.stats.served == 2


def test_pinned_visit_stays_with_its_team():
    p = problem(
        [team("T1"), team("T2", start=near(600, 600))],
        [visit("R1", pinned_team="T1")],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert served_by(plan) == {"R1": "T1"}


def test_visit_never_goes_to_a_forbidden_team():
    p = problem(
        [team("T1", start=near(500, 500)), team("T2", start=near(-3000, 0))],
        [visit("R1", forbidden_teams={"T1"})],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert served_by(plan) == {"R1": "T2"}


def test_team_makes_at_most_max_visits_over_all_its_shifts():
    p = problem(
        [team("T1", shifts=(MORNING, AFTERNOON), max_visits=3)],
        [visit(f"R{i}", service_min=20) for i in range(6)],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.stats.served == 3
    assert {u.reason for u in plan.unassigned} == {"capacity"}


def test_highest_priorities_are_served_when_not_all_fit():
    # 70 minutes of shift, 25 min visits: only two fit; the two most urgent must be chosen
    # even though the others are closer.
    short = MORNING.__class__(at(8, 0), at(9, 10))
    p = problem(
        [team("T1", shifts=(short,))],
        [
            visit("near1", priority=1, location=near(100, 0), service_min=25),
            visit("near2", priority=2, location=near(0, 100), service_min=25),
            visit("far5", priority=5, location=near(1500, 0), service_min=25),
            visit("far4", priority=4, location=near(0, 1500), service_min=25),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert set(served_by(plan)) == {"far5", "far4"}
    assert plan.stats.served_priority == 9


def test_open_tour_ends_at_the_last_visit():
    p = problem([team("T1", end=None)], [visit("R1", service_min=30)])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    route = plan.routes[0]
    assert route.finish == route.stops[-1].end


def test_team_leaves_late_enough_not_to_wait_at_the_first_door():
    p = problem([team("T1")], [visit("R1", windows=(window(9, 0, 10, 0),))])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    stop = plan.routes[0].stops[0]
    assert stop.arrival == stop.start == at(9, 0)


def test_solomon_style_load_never_exceeds_capacity():
    p = problem(
        [team("T1", capacity=10), team("T2", capacity=10, start=near(50, 0))],
        [visit(f"R{i}", demand=4, service_min=5) for i in range(4)],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.stats.served == 4
    assert all(len(r.stops) <= 2 for r in plan.routes)


def test_visit_uses_its_later_window_when_the_first_cannot_be_reached():
    # 8 km by bicycle is about 52 min with detours: the 07:30-08:00 window is out of reach.
    p = problem(
        [team("T1", mode="bicycle", shifts=(MORNING, AFTERNOON))],
        [visit("R1", location=near(8000, 0), windows=(window(7, 30, 8, 0), window(15, 0, 16, 0)))],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    route = plan.routes[0]
    assert route.shift == 1 and at(15, 0) <= route.stops[0].start <= at(16, 0)


def test_large_instances_share_a_team_limit_out_among_its_shifts():
    from scheduling.instance import Instance, Vehicle
    from scheduling.solver import EXACT_SHARED_LIMIT_VISITS, shift_caps

    n = EXACT_SHARED_LIMIT_VISITS + 1
    inst = Instance(
        visit_ids=[f"R{i}" for i in range(n)],
        priority=np.ones(n, dtype=np.int64),
        service=np.zeros(n + 1, dtype=np.int64),
        demand=np.zeros(n + 1, dtype=np.int64),
        windows=[[] for _ in range(n)],
        allowed=[[0, 1] for _ in range(n)],
        vehicles=[Vehicle(0, 0, n, n, 0, 210, "walk"), Vehicle(0, 1, n, n, 400, 580, "walk")],
        ticks={},
        max_visits={0: 7},
    )
    caps = shift_caps(inst)
    assert sum(caps) == 7 and caps == [4, 3]
