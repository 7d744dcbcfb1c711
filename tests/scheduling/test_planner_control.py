"""Progress reports, early stop, reproducible runs, and both cores."""

from __future__ import annotations

import time

from planner_factories import FAST, near, problem, team, visit

from scheduling import SolveParams, check, solve


def _medium():
    return problem(
        [team(f"T{k}", start=near(300 * k, -200 * k)) for k in range(4)],
        [
            visit(
                f"R{i}",
                location=near(137 * i % 2000, 91 * i % 1500),
                service_min=15,
                priority=1 + i % 5,
            )
            for i in range(30)
        ],
    )


def test_progress_reports_improving_objectives_with_elapsed_time():
    seen = []
    p = _medium()
    plan = solve(p, SolveParams(time_limit_s=1.5, workers=1, progress=seen.append))
    assert check(p, plan) == []
    assert seen, "no progress reported"
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(seen, seen[1:], strict=False))
    keys = [(-s.served_priority, s.travel_min) for s in seen]
    assert keys == sorted(keys, reverse=True) or keys[-1] <= keys[0]
    assert seen[-1].served == plan.stats.served


def test_should_stop_ends_the_search_early_with_the_best_plan():
    p = _medium()
    t = time.monotonic()
    plan = solve(
        p, SolveParams(time_limit_s=30, workers=1, should_stop=lambda: time.monotonic() - t > 0.5)
    )
    assert time.monotonic() - t < 5
    assert check(p, plan) == []
    assert plan.stats.served > 0


def test_should_stop_also_stops_the_second_worker():
    p = _medium()
    t = time.monotonic()
    plan = solve(
        p, SolveParams(time_limit_s=30, workers=2, should_stop=lambda: time.monotonic() - t > 1.0)
    )
    assert time.monotonic() - t < 10
    assert check(p, plan) == []


def test_same_seed_and_solution_budget_give_the_same_plan():
    p = _medium()
    params = SolveParams(time_limit_s=60, workers=1, seed=7, solution_limit=200)
    a, b = solve(p, params), solve(p, params)
    assert check(p, a) == []
    assert [r.visit_ids for r in a.routes] == [r.visit_ids for r in b.routes]


def test_two_workers_with_a_solution_budget_are_reproducible():
    p = _medium()
    params = SolveParams(time_limit_s=60, workers=2, seed=3, solution_limit=150)
    a, b = solve(p, params), solve(p, params)
    assert check(p, a) == []
    assert [r.visit_ids for r in a.routes] == [r.visit_ids for r in b.routes]


def test_large_problem_is_decomposed_and_still_valid():
    p = _medium()
    plan = solve(p, SolveParams(time_limit_s=6, workers=2, decompose_above=10))
    assert check(p, plan) == []
    assert plan.stats.served >= 20


def test_fast_params_are_single_worker():
    assert FAST.workers == 1
