"""The independent checker finds each kind of broken rule in a tampered plan."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from planner_factories import FAST, near, problem, team, visit, window

from scheduling import Unassigned, check, solve


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
