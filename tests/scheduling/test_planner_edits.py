"""Re-planning with minimal change, manual edits, and recomputed figures."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from planner_factories import AFTERNOON, FAST, MORNING, at, near, problem, team, visit, window

from scheduling import EditedRoute, Problem, check, evaluate, replan, retime, solve
from scheduling.edits import LEFT_OUT_BY_HAND


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


# --- people already told: kept by their team at about their time ----------------------------


def _starts(plan) -> dict:
    return {s.visit: (r.team, s.start) for r in plan.routes for s in r.stops}


def test_replan_never_drops_a_told_visit_for_a_more_urgent_new_one():
    full = problem(
        [team("T1", max_visits=4)],
        [visit(f"R{i}", location=near(150 * i, 0), service_min=20) for i in range(1, 5)],
    )
    before = solve(full, FAST)
    assert before.stats.served == 4
    urgent = dataclasses.replace(
        full, visits=(*full.visits, visit("NEW", priority=5, location=near(300, 50)))
    )
    # Untold, the planner makes room for the priority-5 newcomer...
    free = replan(urgent, before, FAST)
    assert "NEW" in free.assignment()
    # ...told, every visit already announced stays and the newcomer waits.
    kept = replan(urgent, before, FAST, told={f"R{i}" for i in range(1, 5)})
    assert check(urgent, kept) == []
    assert "NEW" not in kept.assignment()
    assert set(kept.assignment()) == {f"R{i}" for i in range(1, 5)}


def test_replan_keeps_told_visits_with_their_team_within_half_an_hour():
    p = problem(
        [team("T1"), team("T2", start=near(1500, 0))],
        [visit(f"R{i}", location=near(200 * i, 100 * i), service_min=30) for i in range(1, 9)],
    )
    # T2's visits lie between T1's: taking them in would push T1's later visits back.
    before = retime(
        p,
        [
            EditedRoute("T1", ("R1", "R3", "R5", "R7")),
            EditedRoute("T2", ("R2", "R4", "R6", "R8")),
        ],
    ).plan
    assert before is not None
    told = {"R1", "R3", "R5", "R7"}
    changed = dataclasses.replace(p, teams=tuple(t for t in p.teams if t.id != "T2"))
    after = replan(changed, before, FAST, told=told)
    assert check(changed, after) == []
    assert after.stats.served > 4
    old, new = _starts(before), _starts(after)
    for vid in told:
        assert new[vid][0] == "T1"
        assert abs(new[vid][1] - old[vid][1]) <= timedelta(minutes=30)
    untold = replan(changed, before, FAST)
    moved = max(abs(_starts(untold)[v][1] - old[v][1]) for v in told if v in _starts(untold))
    # Without the promise the planner moves them further: the test measures something.
    assert moved > timedelta(minutes=30)


def test_replan_moves_a_told_visit_only_when_its_team_declined_it():
    p = _base()
    before = solve(p, FAST)
    declined, team_before = next(iter(before.assignment().items()))
    changed = dataclasses.replace(
        p,
        visits=tuple(
            dataclasses.replace(v, forbidden_teams={team_before}) if v.id == declined else v
            for v in p.visits
        ),
    )
    after = replan(changed, before, FAST, told=set(before.assignment()))
    assert check(changed, after) == []
    assert after.assignment().get(declined) not in (None, team_before)


def test_replan_leaves_out_what_the_coordinator_took_out():
    p = _base()
    before = solve(p, FAST)
    assert before.stats.served == 6
    after = replan(p, before, FAST, leave_out={"R3"})
    assert check(p, after) == []
    assert "R3" not in after.assignment()
    details = {u.visit: u.detail for u in after.unassigned}
    assert details["R3"] == LEFT_OUT_BY_HAND
    assert after.stats.served == 5


def test_replan_finds_a_route_by_its_time_when_a_day_is_taken_out():
    both = (MORNING, AFTERNOON)
    p = problem(
        [team("T1", shifts=both), team("T2", shifts=both, start=near(900, 0))],
        [
            *[
                visit(f"M{i}", location=near(150 * i, 0), windows=(window(7, 30, 11, 0),))
                for i in range(1, 4)
            ],
            *[
                visit(f"A{i}", location=near(0, 150 * i), windows=(window(14, 0, 17, 0),))
                for i in range(1, 4)
            ],
        ],
    )
    before = solve(p, FAST)
    afternoon = {s.visit for r in before.routes if r.shift == 1 for s in r.stops}
    assert afternoon
    # T1 cannot come in the morning any more: its afternoon is now its shift 0.
    changed = dataclasses.replace(
        p,
        teams=tuple(
            dataclasses.replace(t, shifts=(AFTERNOON,)) if t.id == "T1" else t for t in p.teams
        ),
    )
    after = replan(changed, before, FAST, told=afternoon)
    assert check(changed, after) == []
    old, new = _starts(before), _starts(after)
    for vid in afternoon:
        assert new[vid][0] == old[vid][0]
        assert abs(new[vid][1] - old[vid][1]) <= timedelta(minutes=30)
