"""JSON forms: version 1 files load, round-trips are exact, bad input says where."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from planner_factories import FAST, MORNING, OFFICE, problem, team, visit, window

from scheduling import Matrix, Plan, Problem, ProblemError, SolveParams, check, solve
from scheduling.model import DEFAULT_DETOUR_FACTOR

ISSUE_PROBLEM = {
    "version": 1,
    "travel": {"detour_factor": 1.3, "speed_kmh": {"walk": 4.5, "bicycle": 12, "motorbike": 22}},
    "teams": [
        {
            "id": "T1",
            "members": ["V1", "V2"],
            "skills": ["vneid", "epayment"],
            "languages": ["vi"],
            "mode": "motorbike",
            "start": {"lat": 16.4637, "lng": 107.5909},
            "end": None,
            "shifts": [{"start": "2026-11-28T07:30:00+07:00", "end": "2026-11-28T11:00:00+07:00"}],
            "max_visits": 8,
        }
    ],
    "visits": [
        {
            "id": "R17",
            "location": {"lat": 16.4712, "lng": 107.6011},
            "service_min": 30,
            "skills": ["vneid"],
            "languages": [],
            "priority": 3,
            "windows": [{"start": "2026-11-28T07:30:00+07:00", "end": "2026-11-28T17:00:00+07:00"}],
            "pinned_team": None,
            "forbidden_teams": [],
        }
    ],
    "matrix": None,
}

ISSUE_PLAN = {
    "version": 1,
    "routes": [
        {
            "team": "T1",
            "stops": [
                {
                    "visit": "R17",
                    "arrival": "2026-11-28T07:48:00+07:00",
                    "start": "2026-11-28T07:48:00+07:00",
                    "end": "2026-11-28T08:18:00+07:00",
                }
            ],
            "travel_min": 42.5,
            "distance_m": 12345,
        }
    ],
    "unassigned": [{"visit": "R3", "reason": "no_skill", "detail": "no team has the skill vneid"}],
    "stats": {"served": 1, "served_priority": 3, "travel_min": 42.5, "solve_s": 9.8},
}


def test_issue_example_problem_loads_and_solves():
    p = Problem.from_json(ISSUE_PROBLEM)
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment() == {"R17": "T1"}


def test_issue_example_plan_loads_with_shift_zero_by_default():
    plan = Plan.from_json(ISSUE_PLAN)
    assert plan.routes[0].shift == 0
    assert plan.routes[0].depart is None
    assert plan.unassigned[0].reason == "no_skill"


def test_problem_round_trips_through_json_text():
    p = problem(
        [team("T1", capacity=5, max_visits=3)],
        [
            visit(
                "R1",
                windows=(window(8, 0, 9, 0), window(10, 0, 10, 30)),
                demand=2,
                priority=4,
                forbidden_teams={"T9"},
            )
        ],
    )
    again = Problem.from_json(json.loads(json.dumps(p.to_json())))
    assert again == p


def test_plan_round_trips_through_json_text():
    p = problem([team("T1")], [visit("R1"), visit("R2", skills={"x"})])
    plan = solve(p, FAST)
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again.routes[0].stops == plan.routes[0].stops
    assert again.unassigned == plan.unassigned
    assert check(p, again) == []


def _broken(path: list, value) -> dict:
    data = copy.deepcopy(ISSUE_PROBLEM)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["visits", 0, "priority"],
            7,
            "visits[0]: visit 'R17' priority: expected a whole number 1-5, got 7",
        ),
        (["visits", 0, "priority"], 0, "1-5"),
        (
            ["teams", 0, "shifts", 0, "start"],
            "Saturday",
            "teams[0].shifts[0].start: 'Saturday' is not an ISO 8601",
        ),
        (["teams", 0, "shifts", 0, "end"], "2026-11-28T11:00:00", "has no UTC offset"),
        (["visits", 0, "pinned_team"], "T404", "visit 'R17' pinned_team: unknown team 'T404'"),
        (["teams", 0, "mode"], "helicopter", "unknown mode 'helicopter'"),
        (["visits", 0, "location"], {"lat": 95, "lng": 0}, "visits[0].location: lat: 95"),
        (["visits", 0, "service_min"], -5, "service_min: expected minutes >= 0"),
        (
            ["visits", 0, "windows"],
            [{"start": "2026-11-28T12:00:00+07:00", "end": "2026-11-28T08:00:00+07:00"}],
            "window ends",
        ),
        (["teams"], "T1", "teams: expected a list"),
        (["version"], 2, "only version 1"),
    ],
)
def test_malformed_problem_raises_problem_error_naming_the_field(path, value, message):
    with pytest.raises(ProblemError) as err:
        Problem.from_json(_broken(path, value))
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_duplicate_visit_ids_are_refused():
    data = copy.deepcopy(ISSUE_PROBLEM)
    data["visits"].append(copy.deepcopy(data["visits"][0]))
    with pytest.raises(ProblemError, match="visit id 'R17' appears twice"):
        Problem.from_json(data)


def test_matrix_must_name_every_team_start_and_visit():
    data = copy.deepcopy(ISSUE_PROBLEM)
    data["matrix"] = {"ids": ["R17"], "minutes": [[0]]}
    with pytest.raises(ProblemError, match="'T1:start'"):
        Problem.from_json(data)


def test_problem_with_matrix_uses_its_minutes_and_end_points():
    data = copy.deepcopy(ISSUE_PROBLEM)
    data["matrix"] = {
        "ids": ["T1:start", "T1:end", "R17"],
        "minutes": [[0, 0, 10], [0, 0, 0], [0, 15, 0]],
    }
    p = Problem.from_json(data)
    plan = solve(p, FAST)
    assert check(p, plan) == []
    route = plan.routes[0]
    assert route.travel_min == pytest.approx(25.0)
    assert route.distance_m is None
    assert (route.finish - route.stops[0].end).total_seconds() == 15 * 60


def test_morning_shift_constant_is_aware():
    assert MORNING.start.utcoffset() is not None


def _with_matrix_and_end(ids: list[str]) -> dict:
    data = copy.deepcopy(ISSUE_PROBLEM)
    data["teams"][0]["end"] = {"lat": 16.4637, "lng": 107.5909}
    data["matrix"] = {"ids": ids, "minutes": [[0] * len(ids) for _ in ids]}
    return data


def test_matrix_must_name_the_end_point_of_a_team_with_an_end_location():
    data = _with_matrix_and_end(["T1:start", "R17"])
    with pytest.raises(ProblemError) as err:
        Problem.from_json(data)
    message = str(err.value)
    assert "'T1:end'" in message and "end location" in message
    assert "\n" not in message


def test_team_with_an_end_location_and_its_matrix_end_point_solves():
    p = Problem.from_json(_with_matrix_and_end(["T1:start", "T1:end", "R17"]))
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assignment() == {"R17": "T1"}


def test_problem_built_in_python_refuses_a_matrix_without_the_end_point():
    with pytest.raises(ProblemError, match="'T1:end'"):
        problem(
            [team("T1", start=None, end=OFFICE)],
            [visit("R1", location=None)],
            matrix=Matrix(("T1:start", "R1"), ((0, 5), (5, 0))),
        )


def test_partial_speeds_override_only_the_modes_given():
    data = copy.deepcopy(ISSUE_PROBLEM)
    data["travel"] = {"speed_kmh": {"walk": 5}}
    p = Problem.from_json(data)
    assert p.travel.speed_kmh == {"walk": 5.0, "bicycle": 12.0, "motorbike": 22.0}
    assert p.travel.detour_factor == DEFAULT_DETOUR_FACTOR
    data["travel"] = {"speed_kmh": {"cyclo": 8}}
    speeds = Problem.from_json(data).travel.speed_kmh
    assert speeds == {"walk": 4.5, "bicycle": 12.0, "motorbike": 22.0, "cyclo": 8.0}


EXAMPLES = Path(__file__).resolve().parents[2] / "scheduling" / "examples"


def test_example_files_load_and_the_plan_is_what_the_documented_command_gives():
    # docs/scheduling.md: python -m scheduling solve scheduling/examples/problem.json
    #     -o scheduling/examples/plan.json --seed 0 --solutions 100
    p = Problem.from_json(json.loads((EXAMPLES / "problem.json").read_text(encoding="utf-8")))
    written = json.loads((EXAMPLES / "plan.json").read_text(encoding="utf-8"))
    assert check(p, Plan.from_json(written)) == []
    fresh = solve(p, SolveParams(seed=0, solution_limit=100)).to_json()
    for doc in (written, fresh):
        del doc["stats"]["solve_s"]  # wall-clock time
    assert fresh == written
