"""The command line, run as a subprocess exactly as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from planner_factories import near, problem, team, visit
from test_planner_json import ISSUE_PROBLEM

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scheduling", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_solve_writes_a_plan_that_check_accepts(tmp_path):
    problem = tmp_path / "problem.json"
    plan = tmp_path / "plan.json"
    problem.write_text(json.dumps(ISSUE_PROBLEM))
    solved = run("solve", str(problem), "-o", str(plan), "--time-limit", "2", "--seed", "1")
    assert solved.returncode == 0, solved.stderr
    assert json.loads(plan.read_text())["stats"]["served"] == 1
    checked = run("check", str(problem), str(plan))
    assert checked.returncode == 0
    assert "plan is valid" in checked.stdout


def test_solve_without_output_prints_the_plan_json(tmp_path):
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(ISSUE_PROBLEM))
    solved = run("solve", str(problem), "--time-limit", "1")
    assert solved.returncode == 0
    assert json.loads(solved.stdout)["version"] == 1


def test_check_prints_violations_and_exits_1(tmp_path):
    problem = tmp_path / "problem.json"
    plan = tmp_path / "plan.json"
    problem.write_text(json.dumps(ISSUE_PROBLEM))
    plan.write_text(json.dumps({"version": 1, "routes": [], "unassigned": [], "stats": {}}))
    checked = run("check", str(problem), str(plan))
    assert checked.returncode == 1
    assert "missing: visit R17" in checked.stdout


def test_bad_files_give_one_clear_line_and_exit_2(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = dict(ISSUE_PROBLEM, visits=[dict(ISSUE_PROBLEM["visits"][0], priority=9)])
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(bad))
    for args in (
        ("solve", str(tmp_path / "absent.json")),
        ("solve", str(broken)),
        ("solve", str(invalid)),
        ("check", str(invalid), str(broken)),
    ):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert "priority" in run("solve", str(invalid)).stderr


def test_bench_solomon_prints_rows_and_writes_json(solomon_dir, tmp_path):
    out = tmp_path / "bench.json"
    result = run(
        "bench",
        "solomon",
        str(solomon_dir),
        "--instances",
        "C101",
        "--time-limit",
        "6",  # room for a loaded machine: the bench fails on a plan that leaves a customer out
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "C101" in result.stdout and "mean gap" in result.stdout
    rows = json.loads(out.read_text())
    assert set(rows[0]) == {"instance", "vehicles", "distance", "seconds", "routes"}
    assert sorted(n for r in rows[0]["routes"] for n in r) == list(range(1, 101))


def test_bench_solomon_with_unknown_instance_exits_2(solomon_dir):
    result = run("bench", "solomon", str(solomon_dir), "--instances", "X999")
    assert result.returncode == 2
    assert "X999" in result.stderr


def test_bench_scale_runs_a_small_size():
    result = run("bench", "scale", "--sizes", "40", "--time-limit", "2")
    assert result.returncode == 0, result.stderr
    assert "yes" in result.stdout


def test_matrix_without_the_end_point_of_a_team_gives_one_line_and_exit_2(tmp_path):
    data = dict(
        ISSUE_PROBLEM,
        teams=[dict(ISSUE_PROBLEM["teams"][0], end={"lat": 16.46, "lng": 107.59})],
        matrix={"ids": ["T1:start", "R17"], "minutes": [[0, 5], [5, 0]]},
    )
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(data))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "routes": [], "unassigned": [], "stats": {}}))
    for args in (("solve", str(problem)), ("check", str(problem), str(plan))):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: {problem}: matrix ids: missing 'T1:end' for team 'T1', "
            "which has an end location"
        ]


def _medium_problem_json() -> dict:
    p = problem(
        [team(f"T{k}", start=near(300 * k, -200 * k), max_visits=6) for k in range(4)],
        [
            visit(f"R{i}", location=near(137 * i % 2000, 91 * i % 1500), priority=1 + i % 5)
            for i in range(30)
        ],
    )
    return p.to_json()


def test_solve_with_a_seed_and_a_solution_limit_gives_the_same_plan_every_run(tmp_path):
    problem_path = tmp_path / "problem.json"
    problem_path.write_text(json.dumps(_medium_problem_json()))
    plans = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        args = ("solve", str(problem_path), "-o", str(out), "--seed", "5", "--solutions", "150")
        result = run(*args, "--time-limit", "60")
        assert result.returncode == 0, result.stderr
        plan = json.loads(out.read_text())
        # solve_s is wall-clock time, the one figure that may differ.
        del plan["stats"]["solve_s"]
        plans.append(plan)
    assert plans[0] == plans[1]
    assert plans[0]["stats"]["served"] > 0
    assert run("check", str(problem_path), str(tmp_path / "a.json")).returncode == 0


def test_solve_refuses_a_solution_limit_below_one(tmp_path):
    problem_path = tmp_path / "problem.json"
    problem_path.write_text(json.dumps(ISSUE_PROBLEM))
    result = run("solve", str(problem_path), "--solutions", "0")
    assert result.returncode == 2
    assert "--solutions" in result.stderr
