"""Team forming: minors always with an adult, complementary skills, neighbours."""

from __future__ import annotations

import pytest
from planner_factories import MORNING, near

from scheduling import ProblemError, Volunteer, form_teams


def v(vid, minor=False, skills=(), home=(0, 0), mode="walk", langs=("vi",)):
    return Volunteer(
        id=vid,
        skills=frozenset(skills),
        languages=frozenset(langs),
        is_minor=minor,
        home=near(*home),
        mode=mode,
    )


def test_minor_is_always_paired_with_an_adult_never_with_a_minor():
    vols = [
        v("M1", minor=True),
        v("M2", minor=True, home=(10, 0)),
        v("A1", home=(5000, 0)),
        v("A2", home=(6000, 0)),
    ]
    result = form_teams(vols, 2)
    for t in result.teams:
        minors = [m for m in t.members if m.startswith("M")]
        assert len(minors) <= 1
    assert sorted(m for t in result.teams for m in t.members) == ["A1", "A2", "M1", "M2"]


def test_minor_without_any_adult_is_left_unplaced_with_the_reason():
    result = form_teams([v("M1", minor=True), v("M2", minor=True)], 2)
    assert result.teams == ()
    assert {u.volunteer: u.reason for u in result.unplaced} == {
        "M1": "minor_without_adult",
        "M2": "minor_without_adult",
    }


def test_minor_never_goes_alone_when_teams_are_single():
    result = form_teams([v("A1"), v("M1", minor=True)], 1)
    assert [t.members for t in result.teams] == [("A1",)]
    assert result.unplaced[0].reason == "minor_without_adult"


def test_pairs_prefer_complementary_skills():
    vols = [
        v("A", skills={"vneid"}),
        v("B", skills={"vneid"}, home=(100, 0)),
        v("C", skills={"epayment"}, home=(200, 0)),
        v("D", skills={"epayment"}, home=(300, 0)),
    ]
    result = form_teams(vols, 2)
    assert all(t.skills == {"vneid", "epayment"} for t in result.teams)


def test_pairs_prefer_neighbours_when_skills_are_alike():
    vols = [v("A"), v("B", home=(20_000, 0)), v("C", home=(100, 0)), v("D", home=(20_100, 0))]
    result = form_teams(vols, 2)
    assert sorted(t.members for t in result.teams) == [("A", "C"), ("B", "D")]


def test_odd_adult_is_unplaced_or_alone_when_allowed():
    vols = [v("A"), v("B", home=(100, 0)), v("C", home=(200, 0))]
    strict = form_teams(vols, 2)
    assert [u.reason for u in strict.unplaced] == ["no_partner"]
    solo = form_teams(vols, 2, allow_solo=True)
    assert solo.unplaced == () and len(solo.teams) == 2


def test_pair_travels_at_the_slower_mode_and_forms_a_routable_team():
    result = form_teams([v("A", mode="motorbike"), v("B", mode="bicycle", home=(50, 0))], 2)
    draft = result.teams[0]
    assert draft.mode == "bicycle"
    team = draft.to_team([MORNING], max_visits=6)
    assert team.members == ("A", "B") and team.max_visits == 6


def test_forming_is_deterministic():
    vols = [
        v(f"V{i}", minor=i % 3 == 0, skills={f"s{i % 4}"}, home=(i * 137 % 900, i * 71 % 700))
        for i in range(30)
    ]
    assert form_teams(vols, 2) == form_teams(list(reversed(vols)), 2)


def test_unsupported_team_size_is_refused():
    with pytest.raises(ProblemError, match="team_size"):
        form_teams([v("A")], 3)
