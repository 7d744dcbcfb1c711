"""The Solomon reader and a short solve of a real instance."""

from __future__ import annotations

import pytest

from scheduling import SolveParams, check, solve
from scheduling.bench import SolomonRow, solomon_distance, solomon_summary
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


def _row(name: str, vehicles: int, distance: float, bks_vehicles: int, bks: float) -> SolomonRow:
    return SolomonRow(name, vehicles, distance, 0, bks_vehicles, bks, 10.0, 0)


def test_summary_separates_the_gap_at_the_bks_fleet_from_the_overall_mean():
    rows = [
        _row("A", 10, 102.0, 10, 100.0),  # BKS fleet, +2 %
        _row("B", 10, 104.0, 10, 100.0),  # BKS fleet, +4 %
        _row("C", 13, 94.0, 11, 100.0),  # two vehicles more, -6 %
    ]
    assert solomon_summary(rows) == [
        "mean gap 0.00% over 3 instances; vehicles = BKS on 2, > BKS+1 on 1; invalid 0",
        "mean gap over the 2 instances solved with the BKS fleet: 3.00%",
        "vehicles in total 33 (BKS 31)",
        "over BKS+1: C",
    ]
