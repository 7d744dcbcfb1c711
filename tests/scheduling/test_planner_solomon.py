"""The Solomon reader and a short solve of a real instance."""

from __future__ import annotations

import pytest

from scheduling import SolveParams, check, solve
from scheduling.bench import solomon_distance
from scheduling.model import ProblemError
from scheduling.solomon import read_bks, read_instance


def test_reader_parses_vehicles_capacity_depot_and_customers(solomon_dir):
    inst = read_instance(solomon_dir / "R101.txt")
    assert inst.name == "R101"
    assert (inst.vehicles, inst.capacity) == (25, 200)
    assert (inst.depot.x, inst.depot.y, inst.depot.due) == (35, 35, 230)
    assert len(inst.customers) == 100
    first = inst.customers[0]
    assert (first.number, first.demand, first.ready, first.due, first.service) == (
        1,
        10,
        161,
        171,
        10,
    )


def test_instance_becomes_a_problem_with_full_precision_travel(solomon_dir):
    inst = read_instance(solomon_dir / "C101.txt")
    p = inst.to_problem()
    assert len(p.teams) == 25 and len(p.visits) == 100
    i = p.matrix.ids.index("1")
    j = p.matrix.ids.index("V1:start")
    assert p.matrix.minutes[j][i] == pytest.approx(inst.distance(inst.depot, inst.customers[0]))


def test_bks_table_has_both_objectives(solomon_dir):
    bks = read_bks(solomon_dir / "BKS.csv")
    assert bks[("C101", "vehicles-then-distance")].vehicles == 10
    assert ("R101", "distance") in bks


def test_short_solve_of_c101_serves_every_customer_validly(solomon_dir):
    inst = read_instance(solomon_dir / "C101.txt")
    p = inst.to_problem()
    plan = solve(p, SolveParams(time_limit_s=3, workers=1, minimize_vehicles=True, balance=False))
    assert check(p, plan) == []
    assert plan.unassigned == ()
    routes = [[int(s.visit) for s in r.stops] for r in plan.routes]
    assert solomon_distance(inst, routes) == pytest.approx(plan.stats.travel_min, rel=1e-9)


def test_reader_refuses_a_file_that_is_not_solomon(tmp_path):
    bad = tmp_path / "X.txt"
    bad.write_text("hello\n")
    with pytest.raises(ProblemError, match="not a Solomon instance"):
        read_instance(bad)
