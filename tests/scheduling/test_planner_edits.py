"""Re-planning with minimal change, manual edits, and recomputed figures."""

from __future__ import annotations

import dataclasses

from planner_factories import FAST, at, near, problem, team, visit, window

from scheduling import EditedRoute, Problem, check, evaluate, replan, retime, solve


def _base() -> Problem:
    return problem(
        [team("T1"), team("T2", start=near(1500, 0))],
        [visit(f"R{i}", location=near(200 * i, 100 * i), service_min=20) for i in range(1, 7)],
    )


def test_replan_without_changes_keeps_every_assignment():
    p = _base()
    before = solve(p, FAST)
    after = replan(p, before, FAST)
    assert check(p, after) == []
    assert after.assignment() == before.assignment()


def test_replan_after_a_team_is_removed_re_places_its_visits_and_keeps_the_rest():
    p = _base()
    before = solve(p, FAST)
    gone = before.routes[0].team
    stay = {v: t for v, t in before.assignment().items() if t != gone}
    changed = dataclasses.replace(p, teams=tuple(t for t in p.teams if t.id != gone))
    after = replan(changed, before, FAST)
    assert check(changed, after) == []
    assert all(after.assignment().get(v) == t for v, t in stay.items())
    assert after.stats.served == before.stats.served


def test_replan_inserts_a_new_visit_without_moving_the_others():
    p = _base()
    before = solve(p, FAST)
    grown = dataclasses.replace(p, visits=(*p.visits, visit("NEW", location=near(300, 300))))
    after = replan(grown, before, FAST)
    assert check(grown, after) == []
    assert "NEW" in after.assignment()
    assert all(after.assignment()[v] == t for v, t in before.assignment().items())


def test_replan_moves_a_declined_visit_and_keeps_confirmed_ones_in_place():
    p = _base()
    before = solve(p, FAST)
    declined, team_before = next(iter(before.assignment().items()))
    confirmed = {s.visit: s for r in before.routes for s in r.stops if s.visit != declined}
    changed = dataclasses.replace(
        p,
        visits=tuple(
            dataclasses.replace(v, forbidden_teams={team_before}) if v.id == declined else v
            for v in p.visits
        ),
    )
    after = replan(changed, before, FAST, keep_fixed=set(confirmed))
    assert check(changed, after) == []
    assert after.assignment().get(declined) not in (team_before,)
    new_stops = {s.visit: s for r in after.routes for s in r.stops}
    for vid, stop in confirmed.items():
        assert new_stops[vid].start == stop.start
        assert after.assignment()[vid] == before.assignment()[vid]


def test_retime_gives_earliest_times_for_an_edited_order():
    p = _base()
    edited = [EditedRoute("T1", ("R3", "R1", "R2"))]
    result = retime(p, edited)
    assert result.ok and result.violations == ()
    assert check(p, result.plan) == []
    assert result.plan.route_of("T1").visit_ids == ("R3", "R1", "R2")
    assert result.plan.stats.served == 3


def test_retime_honours_a_requested_start_time():
    p = _base()
    result = retime(p, [EditedRoute("T1", ("R1", "R2"), requested_start={"R2": at(10, 0)})])
    assert result.ok
    assert check(p, result.plan) == []
    assert result.plan.route_of("T1").stops[1].start == at(10, 0)


def test_retime_refuses_a_team_without_the_skill():
    p = problem([team("T1", skills={"vneid"})], [visit("R1", skills={"epayment"})])
    result = retime(p, [EditedRoute("T1", ("R1",))])
    assert result.plan is None
    assert [v.code for v in result.violations] == ["skill"]


def test_retime_refuses_a_start_outside_the_window():
    p = problem([team("T1")], [visit("R1", windows=(window(8, 0, 9, 0),))])
    result = retime(p, [EditedRoute("T1", ("R1",), requested_start={"R1": at(9, 30)})])
    assert result.plan is None
    assert result.violations[0].code == "window"


def test_retime_refuses_a_route_that_overruns_the_shift():
    p = problem([team("T1")], [visit(f"R{i}", service_min=60) for i in range(4)])
    result = retime(p, [EditedRoute("T1", ("R0", "R1", "R2", "R3"))])
    assert result.plan is None
    assert result.violations[0].code == "shift"


def test_retime_refuses_a_visit_twice_and_unknown_ids():
    p = problem([team("T1")], [visit("R1")])
    result = retime(p, [EditedRoute("T1", ("R1", "R1")), EditedRoute("T9", ("R1",))])
    codes = sorted(v.code for v in result.violations)
    assert codes == ["duplicate", "unknown_team"]


def test_retime_refuses_forbidden_and_pinned_and_max_visits():
    p = problem(
        [team("T1", max_visits=1), team("T2")],
        [visit("A", forbidden_teams={"T1"}), visit("B", pinned_team="T2"), visit("C")],
    )
    result = retime(p, [EditedRoute("T1", ("A", "B", "C"))])
    codes = sorted(v.code for v in result.violations)
    assert codes == ["forbidden", "max_visits", "pinned"]


def test_evaluate_recomputes_figures_ignoring_the_plan_numbers():
    p = _base()
    plan = solve(p, FAST)
    tampered = dataclasses.replace(
        plan, stats=dataclasses.replace(plan.stats, travel_min=0.0, served=0)
    )
    stats = evaluate(p, tampered)
    assert stats.served == plan.stats.served
    assert abs(stats.travel_min - plan.stats.travel_min) < 1e-6


def test_replan_moves_a_newly_pinned_visit_and_keeps_every_other_team():
    p = _base()
    before = solve(p, FAST)
    assert check(p, before) == []
    teams = before.assignment()
    pinned, old_team = next(iter(teams.items()))
    new_team = next(t.id for t in p.teams if t.id != old_team)
    changed = dataclasses.replace(
        p,
        visits=tuple(
            dataclasses.replace(v, pinned_team=new_team) if v.id == pinned else v for v in p.visits
        ),
    )
    after = replan(changed, before, FAST)
    assert check(changed, after) == []
    assert after.assignment()[pinned] == new_team
    others = {v: t for v, t in teams.items() if v != pinned}
    assert {v: after.assignment().get(v) for v in others} == others
