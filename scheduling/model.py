"""Plain data for the planner: the problem going in, the plan coming out.

Every class here is a frozen dataclass with no behaviour beyond validation and JSON
conversion, so the app, the CLI and the benchmarks can build problems without touching
OR-Tools. Times are timezone-aware ``datetime`` values; durations carry their unit in the
field name (``service_min``, ``travel_min``, ``distance_m``).

The JSON formats (version 1 and its documented extensions) are described in
``docs/scheduling.md``; :meth:`Problem.from_json` and :meth:`Plan.from_json` raise
:class:`ProblemError` with a message naming the offending field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

JSON_VERSION = 1
"""The version written by ``to_json`` and the only one ``from_json`` accepts."""

MODES = ("walk", "bicycle", "motorbike")
"""The travel modes of the default travel model; a problem may add others."""

DEFAULT_SPEED_KMH = {"walk": 4.5, "bicycle": 12.0, "motorbike": 22.0}
DEFAULT_DETOUR_FACTOR = 1.3

REASONS = ("no_skill", "no_window", "unreachable", "forbidden", "capacity")
"""Why a visit can be left out, from the most to the least fundamental."""


class ProblemError(ValueError):
    """A problem or plan that cannot be used as given; the message says what and where."""


# --------------------------------------------------------------------------- helpers


def _aware(value: datetime, where: str) -> datetime:
    if not isinstance(value, datetime):
        raise ProblemError(f"{where}: expected a date-time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ProblemError(f"{where}: the date-time {value.isoformat()} has no UTC offset")
    return value


def _frozen_strings(values: Iterable[str] | None, where: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        raise ProblemError(f"{where}: expected a list of strings, got the string {values!r}")
    out = []
    for v in values:
        if not isinstance(v, str) or not v:
            raise ProblemError(f"{where}: expected non-empty strings, got {v!r}")
        out.append(v)
    return frozenset(out)


def _tuple(values: Iterable[Any] | None) -> tuple[Any, ...]:
    return () if values is None else tuple(values)


# --------------------------------------------------------------------------- problem


@dataclass(frozen=True)
class Location:
    """A point on the Earth.

    Parameters
    ----------
    lat, lng : float
        Latitude and longitude in decimal degrees (WGS 84).
    """

    lat: float
    lng: float

    def __post_init__(self) -> None:
        for name, value, bound in (("lat", self.lat, 90.0), ("lng", self.lng, 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProblemError(f"{name}: expected a number, got {value!r}")
            if not math.isfinite(value) or abs(value) > bound:
                raise ProblemError(f"{name}: {value} is outside [-{bound:g}, {bound:g}]")


@dataclass(frozen=True)
class Window:
    """A time window during which a visit's service may start.

    Parameters
    ----------
    start, end : datetime
        Aware date-times; the service starts at a moment ``t`` with ``start <= t <= end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _aware(self.start, "window start")
        _aware(self.end, "window end")
        if self.end < self.start:
            raise ProblemError(
                f"window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )


@dataclass(frozen=True)
class Shift:
    """A block of time a team works, for example Saturday 07:30-11:00.

    Each shift is a separate tour: it leaves the team's start point no earlier than
    ``start`` and reaches the end point (or finishes its last service) by ``end``.

    Parameters
    ----------
    start, end : datetime
        Aware date-times, ``start < end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _aware(self.start, "shift start")
        _aware(self.end, "shift end")
        if self.end <= self.start:
            raise ProblemError(
                f"shift ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )


@dataclass(frozen=True)
class Team:
    """One volunteer or a pair that travels and visits together.

    Parameters
    ----------
    id : str
        Unique among teams. Must not contain ``":"`` (matrix ids use ``"<id>:start"``).
    members : tuple of str
        Volunteer ids, for information.
    skills, languages : frozenset of str
        What the members can do and speak, together.
    mode : str
        Travel mode, a key of ``TravelModel.speed_kmh`` (``walk``, ``bicycle``,
        ``motorbike`` by default). Ignored when the problem gives a matrix.
    start : Location or None
        Where every shift's tour begins. May be ``None`` only when the problem has a
        matrix (the matrix then has the id ``"<id>:start"``).
    end : Location or None
        Where every tour must end by the shift's end; ``None`` means the tour ends at its
        last visit (with a matrix: the team has an end point when the matrix has the id
        ``"<id>:end"``).
    shifts : tuple of Shift
        The tours the team can make, in any order; the plan refers to them by index.
    max_visits : int or None
        At most this many visits over all of the team's shifts; ``None`` for no limit.
    capacity : int or None
        Extension: at most this much visit ``demand`` per tour (used by Solomon).
    """

    id: str
    shifts: tuple[Shift, ...]
    start: Location | None = None
    end: Location | None = None
    members: tuple[str, ...] = ()
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    mode: str = "walk"
    max_visits: int | None = None
    capacity: int | None = None

    def __post_init__(self) -> None:
        where = f"team {self.id!r}"
        if not isinstance(self.id, str) or not self.id or ":" in self.id:
            raise ProblemError(f"team id {self.id!r}: expected a non-empty string without ':'")
        object.__setattr__(self, "shifts", _tuple(self.shifts))
        object.__setattr__(self, "members", _tuple(self.members))
        object.__setattr__(self, "skills", _frozen_strings(self.skills, f"{where} skills"))
        object.__setattr__(self, "languages", _frozen_strings(self.languages, f"{where} languages"))
        if not self.shifts:
            raise ProblemError(f"{where}: has no shift")
        for s in self.shifts:
            if not isinstance(s, Shift):
                raise ProblemError(f"{where}: shifts must be Shift objects, got {s!r}")
        for name in ("max_visits", "capacity"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ProblemError(f"{where} {name}: expected a whole number >= 0, got {value!r}")
        if not isinstance(self.mode, str) or not self.mode:
            raise ProblemError(f"{where} mode: expected a non-empty string, got {self.mode!r}")


@dataclass(frozen=True)
class Visit:
    """A household visit to place in a team's tour.

    Parameters
    ----------
    id : str
        Unique among visits; must not end in ``":start"`` or ``":end"``.
    location : Location or None
        Where the household is; may be ``None`` only when the problem has a matrix.
    service_min : float
        Minutes spent at the household (>= 0).
    skills : frozenset of str
        Skills the team must have, all of them.
    languages : frozenset of str
        If not empty, the team must speak at least one of them.
    priority : int
        1 (can wait) to 5 (most urgent). The planner maximises the sum of served priorities
        before anything else.
    windows : tuple of Window
        When the service may start; empty means any time inside the team's shift.
    pinned_team : str or None
        If set, only this team may make the visit.
    forbidden_teams : frozenset of str
        Teams that must never make this visit (for example a volunteer declined it).
        Ids of teams not in the problem are allowed and ignored.
    demand : int
        Extension: load taken from the team's ``capacity`` (Solomon demand); 0 by default.
    """

    id: str
    location: Location | None = None
    service_min: float = 0.0
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    priority: int = 1
    windows: tuple[Window, ...] = ()
    pinned_team: str | None = None
    forbidden_teams: frozenset[str] = frozenset()
    demand: int = 0

    def __post_init__(self) -> None:
        where = f"visit {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise ProblemError(f"visit id {self.id!r}: expected a non-empty string")
        if self.id.endswith((":start", ":end")):
            raise ProblemError(f"{where}: ids ending in ':start' or ':end' name team points")
        object.__setattr__(self, "windows", _tuple(self.windows))
        object.__setattr__(self, "skills", _frozen_strings(self.skills, f"{where} skills"))
        object.__setattr__(self, "languages", _frozen_strings(self.languages, f"{where} languages"))
        object.__setattr__(
            self,
            "forbidden_teams",
            _frozen_strings(self.forbidden_teams, f"{where} forbidden_teams"),
        )
        s = self.service_min
        if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or s < 0:
            raise ProblemError(f"{where} service_min: expected minutes >= 0, got {s!r}")
        p = self.priority
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 5:
            raise ProblemError(f"{where} priority: expected a whole number 1-5, got {p!r}")
        d = self.demand
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ProblemError(f"{where} demand: expected a whole number >= 0, got {d!r}")
        for w in self.windows:
            if not isinstance(w, Window):
                raise ProblemError(f"{where}: windows must be Window objects, got {w!r}")
        if self.pinned_team is not None and not isinstance(self.pinned_team, str):
            raise ProblemError(f"{where} pinned_team: expected a team id, got {self.pinned_team!r}")


@dataclass(frozen=True)
class TravelModel:
    """How long travel takes when no matrix is given.

    Travel time = great-circle distance x ``detour_factor`` / the mode's speed. The
    great-circle distance uses a spherical Earth of radius ``EARTH_RADIUS_KM`` (see
    :mod:`scheduling.travel`).

    Parameters
    ----------
    detour_factor : float
        Road distance over straight-line distance (>= 1).
    speed_kmh : Mapping of str to float
        Average speed per travel mode, in km/h.
    """

    detour_factor: float = DEFAULT_DETOUR_FACTOR
    speed_kmh: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SPEED_KMH))

    def __post_init__(self) -> None:
        df = self.detour_factor
        if isinstance(df, bool) or not isinstance(df, int | float) or not 1 <= df < 100:
            raise ProblemError(f"travel detour_factor: expected a number >= 1, got {df!r}")
        speeds = dict(self.speed_kmh)
        for mode, v in speeds.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1000:
                raise ProblemError(f"travel speed_kmh[{mode!r}]: expected km/h > 0, got {v!r}")
        object.__setattr__(self, "speed_kmh", speeds)


@dataclass(frozen=True)
class Matrix:
    """Explicit travel times that replace the travel model.

    Parameters
    ----------
    ids : tuple of str
        Row/column names: visit ids, and ``"<team>:start"`` / ``"<team>:end"`` for team
        points. Every team needs ``"<team>:start"``; ``"<team>:end"`` makes the end point
        mandatory for that team.
    minutes : tuple of tuple of float
        ``minutes[i][j]`` is the travel time from ``ids[i]`` to ``ids[j]``, >= 0.
    meters : tuple of tuple of float or None
        Extension: distances for ``Route.distance_m``; ``None`` leaves distances unknown.
    """

    ids: tuple[str, ...]
    minutes: tuple[tuple[float, ...], ...]
    meters: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(self.ids))
        n = len(self.ids)
        if len(set(self.ids)) != n:
            raise ProblemError("matrix ids: an id appears twice")
        for name in ("minutes", "meters"):
            rows = getattr(self, name)
            if rows is None:
                continue
            rows = tuple(tuple(float(x) for x in r) for r in rows)
            if len(rows) != n or any(len(r) != n for r in rows):
                raise ProblemError(f"matrix {name}: expected {n} rows of {n} numbers")
            for r in rows:
                for x in r:
                    if not math.isfinite(x) or x < 0:
                        raise ProblemError(f"matrix {name}: expected numbers >= 0, got {x!r}")
            object.__setattr__(self, name, rows)


@dataclass(frozen=True)
class Problem:
    """Teams, visits and how travel is measured.

    Parameters
    ----------
    teams : tuple of Team
    visits : tuple of Visit
    travel : TravelModel
        Used when ``matrix`` is ``None``.
    matrix : Matrix or None
        Explicit travel times in minutes; replaces the travel model.

    Raises
    ------
    ProblemError
        On duplicate ids, a pinned team that does not exist, an unknown travel mode,
        a missing location, or a missing matrix id (every visit, every team's
        ``"<team>:start"``, and ``"<team>:end"`` for a team with an ``end`` location).
    """

    teams: tuple[Team, ...]
    visits: tuple[Visit, ...]
    travel: TravelModel = field(default_factory=TravelModel)
    matrix: Matrix | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "teams", _tuple(self.teams))
        object.__setattr__(self, "visits", _tuple(self.visits))
        team_ids = [t.id for t in self.teams]
        _no_duplicates(team_ids, "team")
        _no_duplicates([v.id for v in self.visits], "visit")
        known = set(team_ids)
        matrix_ids = set(self.matrix.ids) if self.matrix is not None else None
        for t in self.teams:
            if matrix_ids is None:
                if t.start is None:
                    raise ProblemError(f"team {t.id!r}: has no start location")
                if t.mode not in self.travel.speed_kmh:
                    modes = ", ".join(sorted(self.travel.speed_kmh))
                    raise ProblemError(
                        f"team {t.id!r} mode: unknown mode {t.mode!r} (known: {modes})"
                    )
            else:
                if f"{t.id}:start" not in matrix_ids:
                    raise ProblemError(f"matrix ids: missing {t.id + ':start'!r} for team {t.id!r}")
                # The matrix replaces the travel model, so an end location has no travel
                # time to it unless the matrix names the end point too. Refusing it here
                # keeps solve() and check() from failing later on a missing matrix row.
                if t.end is not None and f"{t.id}:end" not in matrix_ids:
                    raise ProblemError(
                        f"matrix ids: missing {t.id + ':end'!r} for team {t.id!r}, "
                        "which has an end location"
                    )
        for v in self.visits:
            if v.pinned_team is not None and v.pinned_team not in known:
                raise ProblemError(f"visit {v.id!r} pinned_team: unknown team {v.pinned_team!r}")
            if matrix_ids is None and v.location is None:
                raise ProblemError(f"visit {v.id!r}: has no location")
            if matrix_ids is not None and v.id not in matrix_ids:
                raise ProblemError(f"matrix ids: missing the visit {v.id!r}")

    # -- lookups -------------------------------------------------------------------

    @cached_property
    def _teams_by_id(self) -> dict[str, Team]:
        return {t.id: t for t in self.teams}

    @cached_property
    def _visits_by_id(self) -> dict[str, Visit]:
        return {v.id: v for v in self.visits}

    def team(self, team_id: str) -> Team:
        """Return the team with this id (``KeyError`` if none)."""
        return self._teams_by_id[team_id]

    def visit(self, visit_id: str) -> Visit:
        """Return the visit with this id (``KeyError`` if none)."""
        return self._visits_by_id[visit_id]

    def team_has_end(self, team: Team) -> bool:
        """Whether the team's tours must finish at an end point."""
        if self.matrix is not None:
            return team.end is not None or f"{team.id}:end" in self.matrix.ids
        return team.end is not None

    # -- JSON ------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        """Build a problem from its JSON form (version 1 plus extensions).

        Raises
        ------
        ProblemError
            With a message naming the offending field, for any malformed input.
        """
        return problem_from_json(data)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (version 1 plus the extensions in use)."""
        return problem_to_json(self)


def _no_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ProblemError(f"{what} id {i!r} appears twice")
        seen.add(i)


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Stop:
    """One visit in a tour.

    Parameters
    ----------
    visit : str
        The visit id.
    arrival, start, end : datetime
        When the team arrives, starts the service (after waiting, if early) and leaves.
    """

    visit: str
    arrival: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Route:
    """One tour: a team's stops during one of its shifts.

    Parameters
    ----------
    team : str
        The team id.
    stops : tuple of Stop
        In visiting order.
    travel_min : float
        Total travel time of the tour in minutes, including the way to the end point.
    distance_m : int or None
        Total travel distance in metres (``None`` when a matrix without metres is used).
    shift : int
        Extension: index into ``Team.shifts`` (0 when absent from JSON).
    depart : datetime or None
        Extension: when the team leaves its start point.
    finish : datetime or None
        Extension: when the team reaches its end point, or ends its last service if it
        has none.
    """

    team: str
    stops: tuple[Stop, ...]
    travel_min: float
    distance_m: int | None = None
    shift: int = 0
    depart: datetime | None = None
    finish: datetime | None = None

    @property
    def visit_ids(self) -> tuple[str, ...]:
        """The visit ids in order."""
        return tuple(s.visit for s in self.stops)


@dataclass(frozen=True)
class Unassigned:
    """A visit left out of the plan, with the reason found by checks.

    Parameters
    ----------
    visit : str
    reason : str
        One of ``no_skill``, ``no_window``, ``unreachable``, ``forbidden``, ``capacity``.
    detail : str
        A sentence for the coordinator.
    """

    visit: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Stats:
    """Summary figures of a plan.

    Parameters
    ----------
    served : int
        Number of visits in routes.
    served_priority : int
        Sum of the priorities of served visits.
    travel_min : float
        Total travel time of all routes, in minutes.
    solve_s : float
        Wall-clock seconds spent by the solver (0 for plans not made by it).
    distance_m : int or None
        Extension: total distance in metres, ``None`` when unknown.
    teams_used : int
        Extension: number of teams with at least one visit.
    first_plan : str
        Extension: where the search's first plan came from (``vroom``, ``greedy``,
        ``none``); empty for plans not made by :func:`scheduling.solve`.
    """

    served: int
    served_priority: int
    travel_min: float
    solve_s: float = 0.0
    distance_m: int | None = None
    teams_used: int = 0
    first_plan: str = ""


@dataclass(frozen=True)
class Plan:
    """The planner's answer.

    Parameters
    ----------
    routes : tuple of Route
        Non-empty tours only.
    unassigned : tuple of Unassigned
        Every visit not in a route.
    stats : Stats
    """

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    stats: Stats

    def route_of(self, team_id: str, shift: int = 0) -> Route | None:
        """Return the team's route for that shift, or ``None``."""
        for r in self.routes:
            if r.team == team_id and r.shift == shift:
                return r
        return None

    def assignment(self) -> dict[str, str]:
        """Map each served visit id to its team id."""
        return {s.visit: r.team for r in self.routes for s in r.stops}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Build a plan from its JSON form.

        Raises
        ------
        ProblemError
            For any malformed input.
        """
        return plan_from_json(data)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (version 1 plus extensions)."""
        return plan_to_json(self)


@dataclass(frozen=True)
class Violation:
    """A broken rule found by :func:`scheduling.check`.

    Parameters
    ----------
    code : str
        A stable short name, for example ``skill``, ``window``, ``travel``.
    message : str
        A sentence saying what is wrong.
    team : str or None
    visit : str or None
    """

    code: str
    message: str
    team: str | None = None
    visit: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- JSON
# Version 1 and its extensions. Parsing is strict about what it reads and names the field
# at fault, for example ``visits[3].priority: expected a whole number 1-5, got 7``, so
# that the CLI and the app can print one clear line. Unknown keys are ignored, which lets
# newer writers add fields. The JSON code lives with the classes it builds: the methods
# ``Problem.from_json`` and ``Plan.to_json`` need it, and it needs the classes.

T = TypeVar("T")


def _where(path: str, exc: ProblemError) -> ProblemError:
    return ProblemError(f"{path}: {exc}") if path else exc


def _obj(data: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProblemError(f"{path or 'document'}: expected an object, got {type(data).__name__}")
    return data


def _list(data: Any, path: str) -> list[Any]:
    if not isinstance(data, list | tuple):
        raise ProblemError(f"{path}: expected a list, got {type(data).__name__}")
    return list(data)


def _req(d: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in d:
        raise ProblemError(f"{path}: missing {key!r}")
    return d[key]


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProblemError(f"{path}: expected a non-empty string, got {value!r}")
    return value


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProblemError(f"{path}: expected a number, got {value!r}")
    return float(value)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ProblemError(f"{path}: expected a whole number, got {value!r}")
    return value


def _dt(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise ProblemError(f"{path}: expected an ISO 8601 date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProblemError(f"{path}: {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ProblemError(f"{path}: {value!r} has no UTC offset (write e.g. +07:00)")
    return parsed


def _strings(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    return [_str(x, f"{path}[{i}]") for i, x in enumerate(_list(value, path))]


def _build(path: str, make: Callable[[], T]) -> T:
    try:
        return make()
    except ProblemError as exc:
        raise _where(path, exc) from None


def _location(value: Any, path: str) -> Location | None:
    if value is None:
        return None
    d = _obj(value, path)
    lat = _num(_req(d, "lat", path), f"{path}.lat")
    lng = _num(_req(d, "lng", path), f"{path}.lng")
    return _build(path, lambda: Location(lat, lng))


def _window(value: Any, path: str) -> tuple[datetime, datetime]:
    d = _obj(value, path)
    return _dt(_req(d, "start", path), f"{path}.start"), _dt(_req(d, "end", path), f"{path}.end")


def _opt_int(d: Mapping[str, Any], key: str, path: str) -> int | None:
    v = d.get(key)
    return None if v is None else _int(v, f"{path}.{key}")


def _team(value: Any, path: str) -> Team:
    d = _obj(value, path)
    shifts = []
    for i, s in enumerate(_list(_req(d, "shifts", path), f"{path}.shifts")):
        start, end = _window(s, f"{path}.shifts[{i}]")
        shifts.append(_build(f"{path}.shifts[{i}]", lambda s=start, e=end: Shift(s, e)))
    mode = d.get("mode", "walk")
    return _build(
        path,
        lambda: Team(
            id=_str(_req(d, "id", path), f"{path}.id"),
            members=tuple(_strings(d.get("members"), f"{path}.members")),
            skills=frozenset(_strings(d.get("skills"), f"{path}.skills")),
            languages=frozenset(_strings(d.get("languages"), f"{path}.languages")),
            mode=_str(mode, f"{path}.mode"),
            start=_location(d.get("start"), f"{path}.start"),
            end=_location(d.get("end"), f"{path}.end"),
            shifts=tuple(shifts),
            max_visits=_opt_int(d, "max_visits", path),
            capacity=_opt_int(d, "capacity", path),
        ),
    )


def _visit(value: Any, path: str) -> Visit:
    d = _obj(value, path)
    windows = []
    for i, w in enumerate(_list(d.get("windows") or [], f"{path}.windows")):
        start, end = _window(w, f"{path}.windows[{i}]")
        windows.append(_build(f"{path}.windows[{i}]", lambda s=start, e=end: Window(s, e)))
    pinned = d.get("pinned_team")
    return _build(
        path,
        lambda: Visit(
            id=_str(_req(d, "id", path), f"{path}.id"),
            location=_location(d.get("location"), f"{path}.location"),
            service_min=_num(d.get("service_min", 0), f"{path}.service_min"),
            skills=frozenset(_strings(d.get("skills"), f"{path}.skills")),
            languages=frozenset(_strings(d.get("languages"), f"{path}.languages")),
            priority=_int(d.get("priority", 1), f"{path}.priority"),
            windows=tuple(windows),
            pinned_team=None if pinned is None else _str(pinned, f"{path}.pinned_team"),
            forbidden_teams=frozenset(
                _strings(d.get("forbidden_teams"), f"{path}.forbidden_teams")
            ),
            demand=_int(d.get("demand", 0), f"{path}.demand"),
        ),
    )


def _travel(value: Any) -> TravelModel:
    if value is None:
        return TravelModel()
    d = _obj(value, "travel")
    speeds = d.get("speed_kmh")
    kwargs: dict[str, Any] = {}
    if "detour_factor" in d:
        kwargs["detour_factor"] = _num(d["detour_factor"], "travel.detour_factor")
    if speeds is not None:
        sd = _obj(speeds, "travel.speed_kmh")
        # The modes given override the defaults one by one: a file that only says
        # {"walk": 5} still has bicycle and motorbike teams.
        kwargs["speed_kmh"] = {
            **DEFAULT_SPEED_KMH,
            **{
                _str(k, "travel.speed_kmh"): _num(v, f"travel.speed_kmh.{k}") for k, v in sd.items()
            },
        }
    return _build("travel", lambda: TravelModel(**kwargs))


def _rows(value: Any, path: str) -> list[list[float]]:
    return [
        [_num(x, f"{path}[{i}][{j}]") for j, x in enumerate(_list(row, f"{path}[{i}]"))]
        for i, row in enumerate(_list(value, path))
    ]


def _matrix(value: Any) -> Matrix | None:
    if value is None:
        return None
    d = _obj(value, "matrix")
    ids = _strings(_req(d, "ids", "matrix"), "matrix.ids")
    minutes = _rows(_req(d, "minutes", "matrix"), "matrix.minutes")
    meters = d.get("meters")
    meters_rows = None if meters is None else _rows(meters, "matrix.meters")
    return _build("matrix", lambda: Matrix(tuple(ids), minutes, meters_rows))  # type: ignore[arg-type]


def _check_version(d: Mapping[str, Any], what: str) -> None:
    version = d.get("version", JSON_VERSION)
    if version != JSON_VERSION:
        raise ProblemError(f"{what} version: only version {JSON_VERSION} is known, got {version!r}")


def problem_from_json(data: Any) -> Problem:
    """Parse a problem; see :meth:`Problem.from_json`."""
    d = _obj(data, "")
    _check_version(d, "problem")
    teams = [_team(t, f"teams[{i}]") for i, t in enumerate(_list(_req(d, "teams", ""), "teams"))]
    visits = [
        _visit(v, f"visits[{i}]") for i, v in enumerate(_list(_req(d, "visits", ""), "visits"))
    ]
    return Problem(
        teams=tuple(teams),
        visits=tuple(visits),
        travel=_travel(d.get("travel")),
        matrix=_matrix(d.get("matrix")),
    )


def _iso(value: datetime) -> str:
    return value.isoformat()


def _loc_json(loc: Location | None) -> dict[str, float] | None:
    return None if loc is None else {"lat": loc.lat, "lng": loc.lng}


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """Write a problem; extensions appear only when they differ from their default."""
    teams = []
    for t in problem.teams:
        tj: dict[str, Any] = {
            "id": t.id,
            "members": list(t.members),
            "skills": sorted(t.skills),
            "languages": sorted(t.languages),
            "mode": t.mode,
            "start": _loc_json(t.start),
            "end": _loc_json(t.end),
            "shifts": [{"start": _iso(s.start), "end": _iso(s.end)} for s in t.shifts],
            "max_visits": t.max_visits,
        }
        if t.capacity is not None:
            tj["capacity"] = t.capacity
        teams.append(tj)
    visits = []
    for v in problem.visits:
        vj: dict[str, Any] = {
            "id": v.id,
            "location": _loc_json(v.location),
            "service_min": v.service_min,
            "skills": sorted(v.skills),
            "languages": sorted(v.languages),
            "priority": v.priority,
            "windows": [{"start": _iso(w.start), "end": _iso(w.end)} for w in v.windows],
            "pinned_team": v.pinned_team,
            "forbidden_teams": sorted(v.forbidden_teams),
        }
        if v.demand:
            vj["demand"] = v.demand
        visits.append(vj)
    matrix = None
    if problem.matrix is not None:
        matrix = {
            "ids": list(problem.matrix.ids),
            "minutes": [list(r) for r in problem.matrix.minutes],
        }
        if problem.matrix.meters is not None:
            matrix["meters"] = [list(r) for r in problem.matrix.meters]
    return {
        "version": JSON_VERSION,
        "travel": {
            "detour_factor": problem.travel.detour_factor,
            "speed_kmh": dict(problem.travel.speed_kmh),
        },
        "teams": teams,
        "visits": visits,
        "matrix": matrix,
    }


def _opt_dt(d: Mapping[str, Any], key: str, path: str) -> datetime | None:
    v = d.get(key)
    return None if v is None else _dt(v, f"{path}.{key}")


def plan_from_json(data: Any) -> Plan:
    """Parse a plan; see :meth:`Plan.from_json`."""
    d = _obj(data, "")
    _check_version(d, "plan")
    routes = []
    for i, r in enumerate(_list(d.get("routes") or [], "routes")):
        p = f"routes[{i}]"
        rd = _obj(r, p)
        stops = []
        for j, s in enumerate(_list(rd.get("stops") or [], f"{p}.stops")):
            sp = f"{p}.stops[{j}]"
            sd = _obj(s, sp)
            stops.append(
                Stop(
                    visit=_str(_req(sd, "visit", sp), f"{sp}.visit"),
                    arrival=_dt(_req(sd, "arrival", sp), f"{sp}.arrival"),
                    start=_dt(_req(sd, "start", sp), f"{sp}.start"),
                    end=_dt(_req(sd, "end", sp), f"{sp}.end"),
                )
            )
        dist = rd.get("distance_m")
        routes.append(
            Route(
                team=_str(_req(rd, "team", p), f"{p}.team"),
                stops=tuple(stops),
                travel_min=_num(rd.get("travel_min", 0.0), f"{p}.travel_min"),
                distance_m=None if dist is None else round(_num(dist, f"{p}.distance_m")),
                shift=_int(rd.get("shift", 0), f"{p}.shift"),
                depart=_opt_dt(rd, "depart", p),
                finish=_opt_dt(rd, "finish", p),
            )
        )
    unassigned = []
    for i, u in enumerate(_list(d.get("unassigned") or [], "unassigned")):
        p = f"unassigned[{i}]"
        ud = _obj(u, p)
        unassigned.append(
            Unassigned(
                visit=_str(_req(ud, "visit", p), f"{p}.visit"),
                reason=_str(_req(ud, "reason", p), f"{p}.reason"),
                detail=str(ud.get("detail", "")),
            )
        )
    sd = _obj(d.get("stats") or {}, "stats")
    dist = sd.get("distance_m")
    stats = Stats(
        served=_int(sd.get("served", 0), "stats.served"),
        served_priority=_int(sd.get("served_priority", 0), "stats.served_priority"),
        travel_min=_num(sd.get("travel_min", 0.0), "stats.travel_min"),
        solve_s=_num(sd.get("solve_s", 0.0), "stats.solve_s"),
        distance_m=None if dist is None else round(_num(dist, "stats.distance_m")),
        teams_used=_int(sd.get("teams_used", 0), "stats.teams_used"),
        first_plan=str(sd.get("first_plan", "")),
    )
    return Plan(routes=tuple(routes), unassigned=tuple(unassigned), stats=stats)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """Write a plan (version 1 plus the ``shift``, ``depart``, ``finish`` extensions)."""
    routes = []
    for r in plan.routes:
        routes.append(
            {
                "team": r.team,
                "shift": r.shift,
                "depart": None if r.depart is None else _iso(r.depart),
                "finish": None if r.finish is None else _iso(r.finish),
                "stops": [
                    {
                        "visit": s.visit,
                        "arrival": _iso(s.arrival),
                        "start": _iso(s.start),
                        "end": _iso(s.end),
                    }
                    for s in r.stops
                ],
                "travel_min": round(r.travel_min, 3),
                "distance_m": r.distance_m,
            }
        )
    return {
        "version": JSON_VERSION,
        "routes": routes,
        "unassigned": [
            {"visit": u.visit, "reason": u.reason, "detail": u.detail} for u in plan.unassigned
        ],
        "stats": {
            "served": plan.stats.served,
            "served_priority": plan.stats.served_priority,
            "travel_min": round(plan.stats.travel_min, 3),
            "solve_s": round(plan.stats.solve_s, 3),
            "distance_m": plan.stats.distance_m,
            "teams_used": plan.stats.teams_used,
            **({"first_plan": plan.stats.first_plan} if plan.stats.first_plan else {}),
        },
    }
