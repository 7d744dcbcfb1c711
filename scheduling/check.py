"""An independent checker: does a plan keep every rule of its problem?

It recomputes everything from the problem and never trusts the solver's numbers. It shares
no code with the solver: travel comes from the problem's matrix or from geopy's
``great_circle`` (same Earth radius as the solver, a different formula), times are compared
as exact date-times, and the plan's own figures (travel, distance, stats) are recomputed.

Tolerances, because plans are written to JSON with rounded figures:

* times: :data:`TIME_TOLERANCE_S` (one millisecond) — the solver rounds travel and service
  *up* to whole milliseconds, so its plans meet the exact-float rules with no tolerance;
* ``travel_min``: :data:`TRAVEL_TOLERANCE_MIN` per route (JSON keeps 3 decimals);
* ``distance_m``: one metre per route (JSON keeps whole metres);
* reasons: :data:`REASON_TOLERANCE_S` (see below).

The reason given for each visit left out is recomputed too, by this module's own rules
(not the solver's screening): ``no_skill``, ``forbidden``, ``no_window`` and
``unreachable`` must be true of the problem, and ``capacity`` is accepted only for a visit
some able team shift could make as its only stop (ignoring ``max_visits`` and load, which
are what ``capacity`` is about).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta

from geopy.distance import great_circle

from scheduling.model import REASONS, Plan, Problem, Route, Team, Violation, Visit

TIME_TOLERANCE_S = 0.001
TRAVEL_TOLERANCE_MIN = 0.01
REASON_TOLERANCE_S = 0.01
"""Width of the borderline band when recomputing a reason, in seconds. The solver rounds
every duration of a single-stop tour to whole milliseconds, inwards (travel and service
up, shift and window bounds towards their inside): a visit that fits alone by less than a
few milliseconds may be screened out. Inside this band either answer is accepted."""

_TOL = timedelta(seconds=TIME_TOLERANCE_S)


class _Travel:
    """Travel minutes and metres between named points, computed independently."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        m = problem.matrix
        self.index = {k: i for i, k in enumerate(m.ids)} if m is not None else None
        self.points: dict[str, tuple[float, float]] = {}
        for t in problem.teams:
            if t.start is not None:
                self.points[f"{t.id}:start"] = (t.start.lat, t.start.lng)
            if t.end is not None:
                self.points[f"{t.id}:end"] = (t.end.lat, t.end.lng)
        for v in problem.visits:
            if v.location is not None:
                self.points[v.id] = (v.location.lat, v.location.lng)

    def meters(self, a: str, b: str) -> float | None:
        m = self.problem.matrix
        if m is not None and self.index is not None:
            return None if m.meters is None else m.meters[self.index[a]][self.index[b]]
        km = great_circle(self.points[a], self.points[b]).km
        return km * 1000.0 * self.problem.travel.detour_factor

    def minutes(self, team: Team, a: str, b: str) -> float:
        m = self.problem.matrix
        if m is not None and self.index is not None:
            return m.minutes[self.index[a]][self.index[b]]
        meters = self.meters(a, b)
        assert meters is not None
        speed_m_per_min = self.problem.travel.speed_kmh[team.mode] * 1000.0 / 60.0
        return meters / speed_m_per_min


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _after(later: datetime, earlier: datetime, minutes: float = 0.0) -> bool:
    """``later >= earlier + minutes`` within the tolerance."""
    return later + _TOL >= earlier + timedelta(minutes=minutes)


def check(problem: Problem, plan: Plan) -> list[Violation]:
    """Return every rule the plan breaks; an empty list means the plan is valid.

    Parameters
    ----------
    problem : Problem
    plan : Plan

    Returns
    -------
    list of Violation
        Codes: ``unknown_team``, ``unknown_visit``, ``shift``, ``duplicate``,
        ``missing``, ``reason`` (an unknown reason, or one the problem contradicts),
        ``skill``, ``language``, ``pinned``, ``forbidden``,
        ``window``, ``arrival``, ``service``, ``travel``, ``end_point``, ``finish``,
        ``max_visits``, ``load``, ``route_travel``, ``route_distance``, ``stats``.
    """
    out: list[Violation] = []
    teams = {t.id: t for t in problem.teams}
    visits = {v.id: v for v in problem.visits}
    travel = _Travel(problem)
    seen: Counter[str] = Counter()
    tours: Counter[tuple[str, int]] = Counter()
    per_team: Counter[str] = Counter()
    total_travel = 0.0
    total_dist: float | None = 0.0

    for route in plan.routes:
        team = teams.get(route.team)
        if team is None:
            out.append(
                Violation("unknown_team", f"route of unknown team {route.team!r}", route.team)
            )
            continue
        if not 0 <= route.shift < len(team.shifts):
            out.append(Violation("shift", f"team {team.id} has no shift {route.shift}", team.id))
            continue
        tours[(team.id, route.shift)] += 1
        if tours[(team.id, route.shift)] == 2:
            out.append(
                Violation(
                    "duplicate", f"team {team.id} has two routes for shift {route.shift}", team.id
                )
            )
        known = []
        for stop in route.stops:
            seen[stop.visit] += 1
            if stop.visit not in visits:
                out.append(
                    Violation("unknown_visit", f"unknown visit {stop.visit!r}", team.id, stop.visit)
                )
            else:
                known.append(stop)
        per_team[team.id] += len(route.stops)
        travelled, dist = _check_route(problem, travel, team, route, known, visits, out)
        total_travel += travelled
        if dist is None or total_dist is None:
            total_dist = None
        else:
            total_dist += dist

    for u in plan.unassigned:
        seen[u.visit] += 1
        if u.visit not in visits:
            out.append(
                Violation(
                    "unknown_visit", f"unknown visit {u.visit!r} in unassigned", None, u.visit
                )
            )
        if u.reason not in REASONS:
            out.append(
                Violation("reason", f"visit {u.visit}: unknown reason {u.reason!r}", None, u.visit)
            )
        elif u.visit in visits:
            accepted, fact = _true_reasons(problem, travel, visits[u.visit])
            if u.reason not in accepted:
                out.append(
                    Violation(
                        "reason",
                        f"visit {u.visit} is left out as {u.reason!r}, but {fact}",
                        None,
                        u.visit,
                    )
                )
    for vid, n in seen.items():
        if n > 1:
            out.append(
                Violation("duplicate", f"visit {vid} appears {n} times in the plan", None, vid)
            )
    for vid in visits:
        if vid not in seen:
            out.append(
                Violation("missing", f"visit {vid} is neither in a route nor unassigned", None, vid)
            )
    for tid, n in per_team.items():
        limit = teams[tid].max_visits
        if limit is not None and n > limit:
            out.append(
                Violation("max_visits", f"team {tid} makes {n} visits, more than its {limit}", tid)
            )
    _check_stats(problem, plan, visits, total_travel, total_dist, out)
    return out


def _check_route(
    problem: Problem,
    travel: _Travel,
    team: Team,
    route: Route,
    stops: list,
    visits: dict[str, Visit],
    out: list[Violation],
) -> tuple[float, float | None]:
    shift = team.shifts[route.shift]
    tid = team.id
    here = f"{tid}:start"
    if route.depart is not None and not _after(route.depart, shift.start):
        out.append(Violation("shift", f"team {tid} leaves before its shift starts", tid))
    ready = max(route.depart or shift.start, shift.start)
    travelled = 0.0
    dist: float | None = 0.0
    load = 0
    for stop in stops:
        v = visits[stop.visit]
        vid = v.id
        load += v.demand
        if not v.skills <= team.skills:
            missing = ", ".join(sorted(v.skills - team.skills))
            out.append(Violation("skill", f"team {tid} lacks {missing} for visit {vid}", tid, vid))
        if v.languages and not v.languages & team.languages:
            out.append(
                Violation(
                    "language", f"team {tid} speaks none of the languages of visit {vid}", tid, vid
                )
            )
        if v.pinned_team is not None and v.pinned_team != tid:
            out.append(
                Violation(
                    "pinned", f"visit {vid} is pinned to {v.pinned_team}, not {tid}", tid, vid
                )
            )
        if tid in v.forbidden_teams:
            out.append(Violation("forbidden", f"team {tid} is forbidden for visit {vid}", tid, vid))
        leg = travel.minutes(team, here, vid)
        travelled += leg
        m = travel.meters(here, vid)
        dist = None if m is None or dist is None else dist + m
        if not _after(stop.arrival, ready, leg):
            out.append(
                Violation(
                    "travel",
                    f"team {tid} cannot reach visit {vid} by {stop.arrival.isoformat()} "
                    f"({leg:.2f} min of travel)",
                    tid,
                    vid,
                )
            )
        if not _after(stop.start, stop.arrival):
            out.append(
                Violation("arrival", f"visit {vid} starts before the team arrives", tid, vid)
            )
        if v.windows and not any(
            _after(stop.start, w.start) and _after(w.end, stop.start) for w in v.windows
        ):
            out.append(
                Violation(
                    "window",
                    f"visit {vid} starts at {stop.start.isoformat()}, outside its windows",
                    tid,
                    vid,
                )
            )
        if abs(_minutes(stop.end - stop.start) - v.service_min) * 60 > TIME_TOLERANCE_S:
            out.append(
                Violation(
                    "service",
                    f"visit {vid} lasts {_minutes(stop.end - stop.start):.2f} min, "
                    f"not {v.service_min:g}",
                    tid,
                    vid,
                )
            )
        if not _after(stop.start, shift.start) or not _after(shift.end, stop.end):
            out.append(
                Violation("shift", f"visit {vid} is outside the shift of team {tid}", tid, vid)
            )
        ready = max(stop.end, stop.start + timedelta(minutes=v.service_min))
        here = vid
    if problem.team_has_end(team):
        leg = travel.minutes(team, here, f"{tid}:end")
        travelled += leg
        m = travel.meters(here, f"{tid}:end")
        dist = None if m is None or dist is None else dist + m
        if not _after(shift.end, ready, leg):
            out.append(
                Violation(
                    "end_point", f"team {tid} cannot reach its end point before its shift ends", tid
                )
            )
        if route.finish is not None and not _after(route.finish, ready, leg):
            out.append(
                Violation(
                    "finish", f"team {tid} cannot reach its end point by its finish time", tid
                )
            )
    elif route.finish is not None and not _after(route.finish, ready):
        out.append(Violation("finish", f"team {tid} finishes before its last service ends", tid))
    if route.finish is not None and not _after(shift.end, route.finish):
        out.append(Violation("finish", f"team {tid} finishes after its shift ends", tid))
    if team.capacity is not None and load > team.capacity:
        out.append(
            Violation(
                "load", f"team {tid} carries {load}, more than its capacity {team.capacity}", tid
            )
        )
    if abs(route.travel_min - travelled) > TRAVEL_TOLERANCE_MIN:
        out.append(
            Violation(
                "route_travel",
                f"route of team {tid} says {route.travel_min:.3f} min of travel, "
                f"recomputed {travelled:.3f}",
                tid,
            )
        )
    if route.distance_m is not None and dist is not None and abs(route.distance_m - dist) > 1.0:
        out.append(
            Violation(
                "route_distance",
                f"route of team {tid} says {route.distance_m} m, recomputed {dist:.0f}",
                tid,
            )
        )
    return travelled, dist


def _check_stats(
    problem: Problem,
    plan: Plan,
    visits: dict[str, Visit],
    total_travel: float,
    total_dist: float | None,
    out: list[Violation],
) -> None:
    served = [s.visit for r in plan.routes for s in r.stops]
    st = plan.stats
    if st.served != len(served):
        out.append(
            Violation("stats", f"stats say {st.served} served, the routes hold {len(served)}")
        )
    prio = sum(visits[v].priority for v in served if v in visits)
    if st.served_priority != prio:
        out.append(
            Violation("stats", f"stats say served priority {st.served_priority}, recomputed {prio}")
        )
    tol = TRAVEL_TOLERANCE_MIN * (1 + len(plan.routes))
    if abs(st.travel_min - total_travel) > tol:
        out.append(
            Violation(
                "stats",
                f"stats say {st.travel_min:.3f} min of travel, recomputed {total_travel:.3f}",
            )
        )
    if (
        st.distance_m is not None
        and total_dist is not None
        and abs(st.distance_m - total_dist) > 1 + len(plan.routes)
    ):
        out.append(Violation("stats", f"stats say {st.distance_m} m, recomputed {total_dist:.0f}"))


# --------------------------------------------------------------------------- reasons


def _fit_margin_s(
    visit: Visit, shift_start: datetime, shift_end: datetime, out_min: float, back_min: float
) -> float:
    """How much room, in seconds, a single-stop tour has; negative when it does not fit.

    The team leaves at ``shift_start``, travels ``out_min``, starts the service inside a
    window (waiting if early), serves, travels ``back_min`` to its end point (0 without
    one) and must be there by ``shift_end``. The room is the length of the interval of
    feasible service starts, maximised over the windows; with ``out_min == back_min == 0``
    it answers "does any window meet the shift, travel ignored".
    """
    arrive = shift_start + timedelta(minutes=out_min)
    latest = shift_end - timedelta(minutes=visit.service_min + back_min)
    windows = [(w.start, w.end) for w in visit.windows] or [(arrive, latest)]
    return max((min(b, latest) - max(a, arrive)).total_seconds() for a, b in windows)


def _true_reasons(problem: Problem, travel: _Travel, visit: Visit) -> tuple[set[str], str]:
    """The reasons the problem supports for leaving ``visit`` out, and the deciding fact.

    The checks come in the documented order (``no_skill``, ``forbidden``, ``no_window``,
    ``unreachable``, else ``capacity``) and the first that holds is the reason. A timing
    check within :data:`REASON_TOLERANCE_S` of the limit accepts both answers, so the set
    may hold two or three reasons.
    """
    if visit.pinned_team is not None:
        candidates = [t for t in problem.teams if t.id == visit.pinned_team]
    else:
        candidates = list(problem.teams)
    able = [
        t
        for t in candidates
        if visit.skills <= t.skills and (not visit.languages or visit.languages & t.languages)
    ]
    if not able:
        who = "no team" if visit.pinned_team is None else f"not its pinned team {visit.pinned_team}"
        return {"no_skill"}, f"{who} has its skills and one of its languages"
    allowed = [t for t in able if t.id not in visit.forbidden_teams]
    if not allowed:
        return {"forbidden"}, "every team able to make it is in its forbidden_teams"
    tol = REASON_TOLERANCE_S
    best_window = best_reach = -math.inf
    window_team = reach_team = ""
    for team in allowed:
        out_min = back_min = None
        for si, shift in enumerate(team.shifts):
            room = _fit_margin_s(visit, shift.start, shift.end, 0.0, 0.0)
            if room > best_window:
                best_window, window_team = room, f"team {team.id} shift {si}"
            if room < -tol:
                continue  # travel only shrinks the room
            if out_min is None:
                out_min = travel.minutes(team, f"{team.id}:start", visit.id)
                back_min = (
                    travel.minutes(team, visit.id, f"{team.id}:end")
                    if problem.team_has_end(team)
                    else 0.0
                )
            room = _fit_margin_s(visit, shift.start, shift.end, out_min, back_min or 0.0)
            if room > best_reach:
                best_reach, reach_team = room, f"team {team.id} shift {si}"
            if room > tol:
                return {"capacity"}, f"{reach_team} could make it as its only stop"
    accepted: set[str] = set()
    if best_window <= tol:
        accepted.add("no_window")
    if best_window >= -tol:
        if best_reach <= tol:
            accepted.add("unreachable")
        if best_reach >= -tol:
            accepted.add("capacity")
    if best_window < -tol:
        fact = "no shift of a team able to make it meets its windows"
    elif best_reach < -tol:
        fact = f"{window_team} meets its windows, but no team can get there in time"
    else:
        fact = f"{reach_team} could just make it as its only stop"
    return accepted, fact
