"""Random small problems always give plans the independent checker accepts."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_factories import AFTERNOON, MORNING, at, near, problem, team, visit

from scheduling import SolveParams, Window, check, solve
from scheduling.model import REASONS as REASONS_ALL

SKILLS = ["vneid", "dvc", "pay"]


@st.composite
def problems(draw):
    n_teams = draw(st.integers(1, 3))
    teams = []
    for k in range(n_teams):
        teams.append(
            team(
                f"T{k}",
                start=near(draw(st.integers(-3000, 3000)), draw(st.integers(-3000, 3000))),
                end=draw(st.sampled_from([None, near(0, 0)])),
                skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=3))),
                languages=frozenset(draw(st.sets(st.sampled_from(["vi", "km"]), min_size=1))),
                mode=draw(st.sampled_from(["walk", "bicycle", "motorbike"])),
                shifts=draw(st.sampled_from([(MORNING,), (AFTERNOON,), (MORNING, AFTERNOON)])),
                max_visits=draw(st.one_of(st.none(), st.integers(0, 4))),
            )
        )
    ids = [t.id for t in teams]
    visits = []
    for i in range(draw(st.integers(0, 9))):
        h = draw(st.integers(7, 16))
        windows = draw(
            st.sampled_from(
                [(), (Window(at(h), at(h, 45)),), (Window(at(8), at(9)), Window(at(15), at(16)))]
            )
        )
        visits.append(
            visit(
                f"R{i}",
                location=near(draw(st.integers(-4000, 4000)), draw(st.integers(-4000, 4000))),
                service_min=draw(st.sampled_from([10, 20, 45, 90])),
                skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
                languages=frozenset(draw(st.sets(st.sampled_from(["vi", "km"]), max_size=1))),
                priority=draw(st.integers(1, 5)),
                windows=windows,
                pinned_team=draw(st.one_of(st.none(), st.sampled_from(ids)))
                if draw(st.booleans())
                else None,
                forbidden_teams=frozenset(draw(st.sets(st.sampled_from(ids), max_size=2))),
            )
        )
    return problem(teams, visits)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_small_problems_give_plans_the_checker_accepts(p):
    plan = solve(p, SolveParams(time_limit_s=5, workers=1, solution_limit=100))
    assert check(p, plan) == []
    assert {u.reason for u in plan.unassigned} <= set(REASONS_ALL)
