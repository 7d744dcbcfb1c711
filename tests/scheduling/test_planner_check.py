"""The independent checker finds each kind of broken rule in a tampered plan, and false
reasons for visits left out."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from datetime import timedelta
from pathlib import Path

from planner_factories import FAST, MORNING, near, problem, team, visit, window

from scheduling import Matrix, Plan, Stats, Unassigned, check, solve


def _solved():
    p = problem(
        [
            team("T1", max_visits=3, end=near(0, 0)),
            team("T2", skills={"other"}, start=near(900, 0)),
        ],
        [
            visit("R1", location=near(400, 0), skills={"vneid"}),
            visit("R2", location=near(0, 400), skills={"vneid"}, windows=(window(7, 30, 10, 0),)),
        ],
    )
    plan = solve(p, FAST)
    assert check(p, plan) == []
    return p, plan


def _codes(p, plan) -> set[str]:
    return {v.code for v in check(p, plan)}


def _with_route(plan, **changes):
    r = dataclasses.replace(plan.routes[0], **changes)
    return dataclasses.replace(plan, routes=(r, *plan.routes[1:]))


def test_checker_catches_a_visit_given_to_a_team_without_the_skill():
    p, plan = _solved()
    assert "skill" in _codes(p, _with_route(plan, team="T2"))


def test_checker_catches_a_stop_reached_faster_than_travel_allows():
    p, plan = _solved()
    stops = list(plan.routes[0].stops)
    s = stops[0]
    early = s.arrival - timedelta(minutes=5)
    stops[0] = dataclasses.replace(s, arrival=early, start=early, end=early + (s.end - s.start))
    assert "travel" in _codes(p, _with_route(plan, stops=tuple(stops), depart=None))


def test_checker_catches_a_service_outside_its_window():
    p, plan = _solved()
    shifted = []
    for s in plan.routes[0].stops:
        d = timedelta(hours=3) if s.visit == "R2" else timedelta(0)
        shifted.append(
            dataclasses.replace(s, arrival=s.arrival + d, start=s.start + d, end=s.end + d)
        )
    assert "window" in _codes(p, _with_route(plan, stops=tuple(shifted)))


def test_checker_catches_a_missing_visit_and_a_duplicate():
    p, plan = _solved()
    r = plan.routes[0]
    assert "missing" in _codes(p, _with_route(plan, stops=r.stops[:1]))
    dup = dataclasses.replace(plan, unassigned=(Unassigned(r.stops[0].visit, "capacity", ""),))
    assert "duplicate" in _codes(p, dup)


def test_checker_catches_wrong_stats_and_route_travel():
    p, plan = _solved()
    wrong = dataclasses.replace(plan, stats=dataclasses.replace(plan.stats, served_priority=99))
    assert "stats" in _codes(p, wrong)
    assert "route_travel" in _codes(p, _with_route(plan, travel_min=plan.routes[0].travel_min + 5))


def test_checker_catches_too_many_visits_and_unknown_reasons():
    p, plan = _solved()
    tight = dataclasses.replace(
        p, teams=(dataclasses.replace(p.teams[0], max_visits=1), p.teams[1])
    )
    assert "max_visits" in _codes(tight, plan)
    bad = dataclasses.replace(plan, unassigned=(Unassigned("X", "bad_luck", ""),))
    assert {"reason", "unknown_visit"} <= _codes(p, bad)


def test_checker_catches_an_end_point_reached_after_the_shift():
    p, plan = _solved()
    far = dataclasses.replace(
        p, teams=(dataclasses.replace(p.teams[0], end=near(60_000, 0)), p.teams[1])
    )
    assert "end_point" in _codes(far, plan)


# --------------------------------------------------------------------------- reasons


def _left_out(p, reason: str) -> Plan:
    """A plan serving nothing that gives every visit the same reason."""
    return Plan((), tuple(Unassigned(v.id, reason, "") for v in p.visits), Stats(0, 0, 0.0))


def _reason_violations(p, plan) -> dict[str, str]:
    return {v.visit: v.message for v in check(p, plan) if v.code == "reason"}


def test_checker_refuses_no_skill_when_a_team_has_the_skill_and_language():
    p = problem([team("T1", skills={"vneid"}, languages={"vi"})], [visit("R1", skills={"vneid"})])
    found = _reason_violations(p, _left_out(p, "no_skill"))
    assert set(found) == {"R1"}
    assert "T1" in found["R1"]


def test_checker_accepts_no_skill_for_a_pinned_team_without_the_language():
    p = problem(
        [team("T1", languages={"vi"}), team("T2", languages={"km"})],
        [visit("R1", languages={"km"}, pinned_team="T1")],
    )
    assert check(p, _left_out(p, "no_skill")) == []
    assert set(_reason_violations(p, _left_out(p, "capacity"))) == {"R1"}


def test_checker_refuses_forbidden_when_an_able_team_is_allowed():
    p = problem(
        [team("T1"), team("T2")],
        [visit("R1", forbidden_teams={"T1"}), visit("R2", forbidden_teams={"T1", "T2"})],
    )
    assert set(_reason_violations(p, _left_out(p, "forbidden"))) == {"R1"}


def test_checker_refuses_no_window_when_a_window_meets_a_shift():
    p = problem(
        [team("T1", shifts=(MORNING,))],
        [
            visit("open", windows=(window(8, 0, 9, 0),)),
            visit("evening", windows=(window(18, 0, 19, 0),)),
            visit("too_long", service_min=300),
        ],
    )
    assert set(_reason_violations(p, _left_out(p, "no_window"))) == {"open"}
    assert set(_reason_violations(p, _left_out(p, "capacity"))) == {"evening", "too_long"}


def test_checker_refuses_unreachable_when_a_team_can_get_there_in_time():
    p = problem(
        [team("T1", mode="walk")],
        [
            visit("near", location=near(500, 0), windows=(window(8, 0, 10, 0),)),
            visit("far", location=near(40_000, 0), windows=(window(8, 0, 10, 0),)),
        ],
    )
    assert set(_reason_violations(p, _left_out(p, "unreachable"))) == {"near"}
    assert set(_reason_violations(p, _left_out(p, "capacity"))) == {"far"}


def test_checker_counts_the_way_to_the_end_point_when_recomputing_reasons():
    # 2 km out on foot is about 35 min; 25 km back to the end point is about 7 h.
    p = problem(
        [team("T1", mode="walk", end=near(25_000, 0))],
        [visit("R1", location=near(2000, 0))],
    )
    assert check(p, _left_out(p, "unreachable")) == []
    assert set(_reason_violations(p, _left_out(p, "capacity"))) == {"R1"}


def test_checker_accepts_either_reason_at_the_exact_limit_of_a_shift():
    # Matrix travel: 180 min out + 30 min of service fills the 210-min shift exactly, so the
    # solver's millisecond rounding may go either way.
    ids = ["T1:start", "R1", "R2"]
    minutes = [[0, 180, 100], [180, 0, 0], [100, 0, 0]]
    p = problem(
        [team("T1", start=None)],
        [visit("R1", location=None), visit("R2", location=None)],
        matrix=Matrix(ids, minutes),
    )
    assert check(p, _left_out(p, "capacity")) == []
    assert set(_reason_violations(p, _left_out(p, "unreachable"))) == {"R2"}


def test_checker_shares_no_code_with_the_solver():
    # scheduling.check is also the name of the function the package exports.
    source = importlib.import_module("scheduling.check").__file__
    tree = ast.parse(Path(source).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    ours = {m for m in imported if m.split(".")[0] == "scheduling"}
    assert ours == {"scheduling.model"}
