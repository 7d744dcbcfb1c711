"""Team forming: volunteers into teams of one or two, before any routing.

For pairs the choice is a maximum-weight matching solved exactly with CP-SAT (one Boolean
per candidate pair, each volunteer in at most one pair). In order of importance:

1. every minor is paired with an adult (never two minors, never a minor alone: a minor
   without an adult partner is left unplaced);
2. as many volunteers as possible are paired;
3. complementary pairs: each distinct skill or language the pair covers counts as much as
   :data:`SKILL_KM` kilometres between homes;
4. homes near each other (great-circle distance).

1 and 2 are strict (their weights exceed anything below them). The search is single
threaded with a fixed seed, so the same volunteers always give the same teams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from scheduling.model import Location, ProblemError, Shift, Team
from scheduling.travel import haversine_m

MODE_ORDER = ("walk", "bicycle", "motorbike")
SKILL_KM = 2.0
"""One more skill or language covered by a pair is worth this many km of home distance."""
CANDIDATES_PER_VOLUNTEER = 30
"""Only each volunteer's nearest possible partners are considered (keeps the model small)."""


@dataclass(frozen=True)
class Volunteer:
    """A person who can join a team.

    Parameters
    ----------
    id : str
    skills, languages : frozenset of str
    is_minor : bool
        Under 18: never alone, never with another minor.
    home : Location or None
        Used to pair neighbours; ``None`` means unknown (treated as far from everyone).
    mode : str
        How the volunteer travels (``walk``, ``bicycle``, ``motorbike`` ...).
    """

    id: str
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    is_minor: bool = False
    home: Location | None = None
    mode: str = "walk"


@dataclass(frozen=True)
class TeamDraft:
    """A proposed team; :meth:`to_team` adds the shifts to make a routable :class:`Team`.

    ``mode`` is the slowest of the members' modes (they travel together); ``start`` is the
    home of the first member (the adult, in a pair with a minor) unless a meeting point is
    given to :func:`form_teams`.
    """

    id: str
    members: tuple[str, ...]
    skills: frozenset[str]
    languages: frozenset[str]
    mode: str
    start: Location | None
    distance_m: float = 0.0

    def to_team(
        self,
        shifts: Sequence[Shift],
        *,
        end: Location | None = None,
        max_visits: int | None = None,
    ) -> Team:
        """The routable team for these shifts."""
        return Team(
            id=self.id,
            members=self.members,
            skills=self.skills,
            languages=self.languages,
            mode=self.mode,
            start=self.start,
            end=end,
            shifts=tuple(shifts),
            max_visits=max_visits,
        )


@dataclass(frozen=True)
class Unplaced:
    """A volunteer left out, with ``reason`` ``minor_without_adult`` or ``no_partner``."""

    volunteer: str
    reason: str
    detail: str


@dataclass(frozen=True)
class TeamForming:
    """Result of :func:`form_teams`."""

    teams: tuple[TeamDraft, ...]
    unplaced: tuple[Unplaced, ...]


def _slowest(modes: Sequence[str]) -> str:
    known = [m for m in modes if m in MODE_ORDER]
    if not known:
        return modes[0]
    return min(known, key=MODE_ORDER.index)


def _draft(
    k: int, prefix: str, members: list[Volunteer], meeting: Location | None, dist: float
) -> TeamDraft:
    members = sorted(members, key=lambda v: (v.is_minor, v.id))
    return TeamDraft(
        id=f"{prefix}{k}",
        members=tuple(v.id for v in members),
        skills=frozenset().union(*(v.skills for v in members)),
        languages=frozenset().union(*(v.languages for v in members)),
        mode=_slowest([v.mode for v in members]),
        start=meeting if meeting is not None else members[0].home,
        distance_m=dist,
    )


def form_teams(
    volunteers: Sequence[Volunteer],
    team_size: int = 2,
    *,
    allow_solo: bool = False,
    max_pair_km: float | None = None,
    meeting_point: Location | None = None,
    id_prefix: str = "T",
    time_limit_s: float = 10.0,
) -> TeamForming:
    """Form teams of ``team_size`` (1 or 2) volunteers.

    Parameters
    ----------
    volunteers : sequence of Volunteer
    team_size : int
        1: every adult alone (minors cannot go alone). 2: pairs, see the module docstring.
    allow_solo : bool
        With pairs, an adult left without partner becomes a team alone instead of unplaced.
    max_pair_km : float, optional
        Never pair volunteers whose homes are farther apart than this.
    meeting_point : Location, optional
        Start point of every team (for example the commune youth union office); by default
        a member's home.
    id_prefix : str
        Team ids are ``id_prefix`` + 1, 2, ... in the order of their first member's id.
    time_limit_s : float
        Limit for CP-SAT; the matching is normally proven optimal far sooner.

    Returns
    -------
    TeamForming
        Teams and the volunteers that could not be placed, with the reason.

    Raises
    ------
    ProblemError
        For a team size other than 1 or 2, or duplicate volunteer ids.
    """
    if team_size not in (1, 2):
        raise ProblemError(f"team_size: only 1 or 2 is supported, got {team_size!r}")
    vols = sorted(volunteers, key=lambda v: v.id)
    if len({v.id for v in vols}) != len(vols):
        raise ProblemError("volunteers: an id appears twice")
    groups: list[tuple[list[Volunteer], float]] = []
    unplaced: list[Unplaced] = []
    if team_size == 1:
        for v in vols:
            if v.is_minor:
                unplaced.append(Unplaced(v.id, "minor_without_adult", "a minor never goes alone"))
            else:
                groups.append(([v], 0.0))
    else:
        pairs, rest = _match(vols, max_pair_km, time_limit_s)
        groups.extend(pairs)
        for v in rest:
            if v.is_minor:
                unplaced.append(
                    Unplaced(
                        v.id, "minor_without_adult", "no adult is free to pair with this minor"
                    )
                )
            elif allow_solo:
                groups.append(([v], 0.0))
            else:
                unplaced.append(
                    Unplaced(v.id, "no_partner", "no partner is left for this volunteer")
                )
    groups.sort(key=lambda g: min(v.id for v in g[0]))
    teams = tuple(_draft(k + 1, id_prefix, g, meeting_point, d) for k, (g, d) in enumerate(groups))
    return TeamForming(teams, tuple(sorted(unplaced, key=lambda u: u.volunteer)))


def _match(
    vols: list[Volunteer], max_pair_km: float | None, time_limit_s: float
) -> tuple[list[tuple[list[Volunteer], float]], list[Volunteer]]:
    n = len(vols)
    if n < 2:
        return [], list(vols)
    far = 1e7  # metres: an unknown home is "far"
    lat = np.array([v.home.lat if v.home else 0.0 for v in vols])
    lng = np.array([v.home.lng if v.home else 0.0 for v in vols])
    known = np.array([v.home is not None for v in vols])
    dist = haversine_m(lat[:, None], lng[:, None], lat[None, :], lng[None, :])
    dist[~known, :] = far
    dist[:, ~known] = far
    minor = np.array([v.is_minor for v in vols])
    ok = ~(minor[:, None] & minor[None, :])
    np.fill_diagonal(ok, False)
    if max_pair_km is not None:
        ok &= dist <= max_pair_km * 1000.0
    cand: set[tuple[int, int]] = set()
    for i in range(n):
        js = np.nonzero(ok[i])[0]
        if js.size == 0:
            continue
        near = js[np.argsort(dist[i, js], kind="stable")[:CANDIDATES_PER_VOLUNTEER]]
        cand.update((min(i, int(j)), max(i, int(j))) for j in near)
    edges = sorted(cand)
    if not edges:
        return [], list(vols)
    # Scores in metres: complementarity minus distance, both bounded by max_score.
    cover = {
        (i, j): len(vols[i].skills | vols[j].skills) + len(vols[i].languages | vols[j].languages)
        for i, j in edges
    }
    dist_m = {e: int(min(far, dist[e])) for e in edges}
    soft = {e: int(SKILL_KM * 1000 * cover[e]) - dist_m[e] for e in edges}
    span = max(abs(x) for x in soft.values()) + 1
    pair_w = 2 * span * (n // 2 + 1)
    minor_w = pair_w * (n // 2 + 1)
    model = cp_model.CpModel()
    x = {e: model.NewBoolVar(f"p{e[0]}_{e[1]}") for e in edges}
    incident: dict[int, list] = {}
    for e, var in x.items():
        incident.setdefault(e[0], []).append(var)
        incident.setdefault(e[1], []).append(var)
    for vars_ in incident.values():
        model.AddAtMostOne(vars_)
    model.Maximize(
        sum(
            var * (pair_w + soft[e] + (minor_w if minor[e[0]] or minor[e[1]] else 0))
            for e, var in x.items()
        )
    )
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [], list(vols)
    pairs = []
    placed: set[int] = set()
    for e, var in x.items():
        if solver.Value(var):
            pairs.append(([vols[e[0]], vols[e[1]]], float(dist[e]) if dist[e] < far else 0.0))
            placed.update(e)
    return pairs, [v for i, v in enumerate(vols) if i not in placed]
