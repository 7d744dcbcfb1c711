"""Integer time: converting date-times to solver ticks and timing a tour.

:func:`time_tour` is the one place that turns an ordered list of visits into times. The
solver's plans, :func:`scheduling.retime` and :func:`scheduling.replan` all use it, so a
route is timed the same way whoever proposed its order. The earliest-start rule it applies
(start each service as soon as the team is there and a window is open) is optimal for a
fixed order: if any timing of the order is feasible, this one is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from scheduling.model import Problem, Route, Stop, Team, Visit
from scheduling.travel import TICKS_PER_MIN, Travel, end_id, minutes_to_ticks, start_id

_US_PER_TICK = 60_000_000 // TICKS_PER_MIN


@dataclass(frozen=True)
class Clock:
    """Converts aware date-times to integer ticks from an origin and back."""

    origin: datetime

    @classmethod
    def for_problem(cls, problem: Problem) -> Clock:
        """A clock whose origin is the earliest shift start (in UTC)."""
        starts = [s.start for t in problem.teams for s in t.shifts]
        origin = min(starts).astimezone(UTC) if starts else datetime(2000, 1, 1, tzinfo=UTC)
        return cls(origin)

    def _us(self, when: datetime) -> int:
        d = when - self.origin
        return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds

    def ceil(self, when: datetime) -> int:
        """Ticks from the origin, rounded up (for the start of an allowed interval)."""
        return -((-self._us(when)) // _US_PER_TICK)

    def floor(self, when: datetime) -> int:
        """Ticks from the origin, rounded down (for the end of an allowed interval)."""
        return self._us(when) // _US_PER_TICK

    def at(self, ticks: int, tz: timezone | None = None) -> datetime:
        """The date-time ``ticks`` after the origin, in time zone ``tz``."""
        when = self.origin + timedelta(microseconds=int(ticks) * _US_PER_TICK)
        return when.astimezone(tz) if tz is not None else when


def service_ticks(visit: Visit) -> int:
    """The visit's service duration in ticks, rounded up."""
    return int(minutes_to_ticks(visit.service_min))


def window_ticks(clock: Clock, visit: Visit) -> list[tuple[int, int]]:
    """The visit's windows as sorted tick intervals; ``[]`` means no restriction."""
    out = []
    for w in visit.windows:
        a, b = clock.ceil(w.start), clock.floor(w.end)
        if a <= b:
            out.append((a, b))
    out.sort()
    return out if visit.windows else []


def shift_ticks(clock: Clock, team: Team, shift: int) -> tuple[int, int]:
    """The shift as a tick interval."""
    s = team.shifts[shift]
    return clock.ceil(s.start), clock.floor(s.end)


@dataclass(frozen=True)
class TourTimes:
    """Times of a feasible tour, in ticks."""

    depart: int
    arrivals: list[int]
    starts: list[int]
    ends: list[int]
    finish: int


@dataclass(frozen=True)
class TourFailure:
    """Why a tour cannot be timed: ``position`` is the stop at fault (or ``len`` for the end)."""

    position: int
    code: str
    message: str


def earliest_start(
    arrival: int, windows: Sequence[tuple[int, int]], restricted: bool
) -> int | None:
    """The first moment >= ``arrival`` inside a window, or ``None``."""
    if not restricted:
        return arrival
    for a, b in windows:
        if arrival <= b:
            return max(arrival, a)
    return None


def time_tour(
    t0: int,
    t1: int,
    arcs: Sequence[int],
    services: Sequence[int],
    windows: Sequence[Sequence[tuple[int, int]]],
    restricted: Sequence[bool],
    requested: Sequence[int | None] | None = None,
    labels: Sequence[str] | None = None,
) -> TourTimes | TourFailure:
    """Time a tour at the earliest, or say where it breaks.

    Parameters
    ----------
    t0, t1 : int
        Shift start and end, ticks.
    arcs : sequence of int
        Travel ticks: start to stop 0, stop 0 to 1, ..., last stop to the end point (0 when
        the team has no end point). ``len(arcs) == len(services) + 1``.
    services : sequence of int
        Service ticks per stop.
    windows, restricted : per stop
        Window intervals in ticks; ``restricted[i]`` is False when the visit has no window.
    requested : per stop, optional
        A requested service start in ticks, or None for "as early as possible".
    labels : per stop, optional
        Names used in failure messages.
    """
    n = len(services)
    names = labels or [str(i) for i in range(n)]
    t = t0
    arrivals: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for i in range(n):
        arrive = t + int(arcs[i])
        start = earliest_start(arrive, windows[i], restricted[i])
        if start is None:
            return TourFailure(
                i, "window", f"{names[i]}: the team arrives after its last window closes"
            )
        want = requested[i] if requested is not None else None
        if want is not None:
            if want < arrive:
                return TourFailure(
                    i, "requested", f"{names[i]}: the requested start is before the team can arrive"
                )
            if restricted[i] and not any(a <= want <= b for a, b in windows[i]):
                return TourFailure(
                    i, "window", f"{names[i]}: the requested start is outside its windows"
                )
            start = want
        arrivals.append(arrive)
        starts.append(start)
        t = start + int(services[i])
        ends.append(t)
        if t > t1:
            return TourFailure(i, "shift", f"{names[i]}: the service ends after the shift ends")
    finish = t + int(arcs[n])
    if finish > t1:
        return TourFailure(n, "end", "the team cannot reach its end point before the shift ends")
    # Leave as late as the first service allows, so nobody waits at the first door.
    depart = t0 if n == 0 else max(t0, starts[0] - int(arcs[0]))
    if n:
        arrivals[0] = depart + int(arcs[0])
    return TourTimes(depart, arrivals, starts, ends, finish)


def tour_points(problem: Problem, team: Team, visit_ids: Sequence[str]) -> list[str]:
    """Point names of a tour: start, visits, and the end point if the team has one."""
    pts = [start_id(team.id), *visit_ids]
    if problem.team_has_end(team):
        pts.append(end_id(team.id))
    return pts


def build_route(
    problem: Problem,
    travel: Travel,
    clock: Clock,
    team: Team,
    shift: int,
    visit_ids: Sequence[str],
    *,
    arcs: Sequence[int] | None = None,
    requested: Sequence[int | None] | None = None,
) -> Route | TourFailure:
    """Time the visits in this order for the team's shift and make a :class:`Route`.

    ``arcs`` passes the solver's own tick matrix entries so the timing uses exactly the
    numbers the solver used; otherwise they are computed from ``travel``.
    """
    visits = [problem.visit(v) for v in visit_ids]
    pts = tour_points(problem, team, visit_ids)
    mode = travel.mode_of(team)
    minutes = travel.minutes_pairs(mode, pts[:-1], pts[1:]) if len(pts) > 1 else np.zeros(0)
    if arcs is None:
        arcs = [int(x) for x in minutes_to_ticks(minutes)]
    arcs = list(arcs)
    if not problem.team_has_end(team):
        arcs.append(0)
    t0, t1 = shift_ticks(clock, team, shift)
    times = time_tour(
        t0,
        t1,
        arcs,
        [service_ticks(v) for v in visits],
        [window_ticks(clock, v) for v in visits],
        [bool(v.windows) for v in visits],
        requested,
        [f"visit {v.id}" for v in visits],
    )
    if isinstance(times, TourFailure):
        return times
    tz = team.shifts[shift].start.tzinfo
    meters = travel.meters_pairs(pts[:-1], pts[1:]) if len(pts) > 1 else np.zeros(0)
    stops = tuple(
        Stop(
            visit=v.id,
            arrival=clock.at(a, tz),  # type: ignore[arg-type]
            start=clock.at(s, tz),  # type: ignore[arg-type]
            end=clock.at(e, tz),  # type: ignore[arg-type]
        )
        for v, a, s, e in zip(visits, times.arrivals, times.starts, times.ends, strict=True)
    )
    return Route(
        team=team.id,
        stops=stops,
        travel_min=float(np.sum(minutes)),
        distance_m=None if meters is None else int(round(float(np.sum(meters)))),
        shift=shift,
        depart=clock.at(times.depart, tz),  # type: ignore[arg-type]
        finish=clock.at(times.finish, tz),  # type: ignore[arg-type]
    )
