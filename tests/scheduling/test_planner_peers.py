"""``bench peers``: ours against VROOM, PyVRP and greedy insertion, on tiny sizes.

The peers come with the ``bench`` extra; without them these tests skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from planner_factories import AFTERNOON, MORNING, near, problem, team, visit

from scheduling import check
from scheduling.bench import generate_weekend
from scheduling.tours import Context

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scheduling", "bench", "peers", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_weekend_generator_has_two_days_pins_and_declines():
    p = generate_weekend(300, 40, seed=0)
    days = {s.start.date() for t in p.teams for s in t.shifts}
    assert len(days) == 2
    assert any(len(t.shifts) > 2 for t in p.teams)
    pinned = [v for v in p.visits if v.pinned_team]
    assert pinned and any(v.forbidden_teams for v in p.visits)
    assert any(len(v.windows) == 3 for v in p.visits)
    assert generate_weekend(300, 40, seed=0) == p


def test_max_visits_is_shared_among_shifts_by_length():
    from scheduling.peers import shared_max_visits

    p = problem([team("T1", shifts=(MORNING, AFTERNOON), max_visits=5), team("T2")], [])
    assert shared_max_visits(p, 0) == [3, 2]  # 3.5 h and 3 h
    assert shared_max_visits(p, 1) == [None]


def test_vroom_plan_keeps_rules_and_pins():
    pytest.importorskip("vroom")
    from scheduling.peers import vroom_plan

    p = problem(
        [team("T1"), team("T2", start=near(300, 300), skills={"vneid", "epayment"})],
        [
            visit("R1", pinned_team="T1", location=near(320, 320)),
            visit("R2", skills={"epayment"}),
            visit("R3", forbidden_teams={"T2"}, location=near(310, 290)),
        ],
    )
    out = vroom_plan(Context(p), 2)
    assert out.plan is not None
    assert out.violations == 0
    assert check(p, out.plan) == []
    assert out.plan.assignment() == {"R1": "T1", "R2": "T2", "R3": "T1"}


def test_peers_command_prints_a_row_per_solver_and_writes_json(tmp_path):
    pytest.importorskip("vroom")
    out = tmp_path / "peers.json"
    done = run("--sizes", "15", "--time-limit", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["visits", "teams", "limit", "solver"]
    assert [ln.split()[3] for ln in lines[1:]] == ["ours", "vroom", "greedy"]
    rows = json.loads(out.read_text())
    assert {r["solver"] for r in rows} == {"ours", "vroom", "greedy"}
    assert all(r["violations"] == 0 and r["visits"] == 15 for r in rows)


def test_peers_command_runs_only_the_solvers_asked_and_prints_stages():
    pytest.importorskip("vroom")
    done = run("--sizes", "15", "--time-limit", "2", "--solvers", "ours,greedy", "--stages")
    assert done.returncode == 0, done.stderr
    assert [ln.split()[3] for ln in done.stdout.strip().splitlines()[1:]] == ["ours", "greedy"]
    stages = [ln.split()[1] for ln in done.stderr.splitlines() if ln.startswith("  stage")]
    assert stages[0] == "screening" and stages[-1] == "final"
    bad = run("--sizes", "15", "--solvers", "ours,cplex")
    assert bad.returncode == 2 and "--solvers" in bad.stderr and "cplex" in bad.stderr


def test_peers_command_on_solomon_compares_three_solvers(solomon_dir):
    pytest.importorskip("vroom")
    pytest.importorskip("pyvrp")
    done = run("--solomon", str(solomon_dir), "--instances", "C101", "--time-limit", "1")
    assert done.returncode == 0, done.stderr
    assert "pyvrp veh" in done.stdout and "vroom veh" in done.stdout
    assert done.stdout.splitlines()[1].startswith("C101")
    assert "tours in total: ours" in done.stdout


def test_peers_command_refuses_bad_sizes_and_unknown_instances(tmp_path):
    pytest.importorskip("vroom")
    bad = run("--sizes", "a,b")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --sizes")
    missing = run("--solomon", str(tmp_path), "--instances", "X1")
    assert missing.returncode == 2
    assert "no instance file for X1" in missing.stderr or "pyvrp" in missing.stderr


def test_peers_command_without_pyvroom_says_how_to_install(monkeypatch, capsys):
    from scheduling import peers
    from scheduling.__main__ import main

    monkeypatch.setattr(peers, "has_vroom", lambda: False)
    assert main(["bench", "peers", "--sizes", "10"]) == 2
    assert "pip install -e '.[bench]'" in capsys.readouterr().err


def test_peers_curve_prints_ours_and_vroom_at_each_limit(tmp_path):
    pytest.importorskip("vroom")
    out = tmp_path / "curve.json"
    res = run("--sizes", "20", "--curve", "1,2", "--json", str(out))
    assert res.returncode == 0, res.stderr
    rows = json.loads(out.read_text())
    assert [(r["limit_s"], r["solver"]) for r in rows] == [
        (1.0, "ours"),
        (1.0, "vroom"),
        (2.0, "ours"),
        (2.0, "vroom"),
    ]
    assert all(r["violations"] == 0 for r in rows)
    assert "vroom" in res.stdout and "min/visit" in res.stdout


def test_peers_curve_default_limits_and_bad_values():
    from scheduling.peers import curve_limits

    assert curve_limits(1000) == [5.0, 10.0, 30.0, 60.0]
    assert curve_limits(1500) == [5.0, 10.0, 30.0, 60.0, 120.0]
    pytest.importorskip("vroom")
    bad = run("--sizes", "20", "--curve", "5,x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --curve")
