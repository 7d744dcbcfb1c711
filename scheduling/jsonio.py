"""JSON forms of problems and plans (version 1 and its extensions).

Parsing is strict about what it reads and names the field at fault, for example
``visits[3].priority: expected a whole number 1-5, got 7``, so that the CLI and the app can
print one clear line. Unknown keys are ignored, which lets newer writers add fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from scheduling.model import (
    DEFAULT_SPEED_KMH,
    JSON_VERSION,
    Location,
    Matrix,
    Plan,
    Problem,
    ProblemError,
    Route,
    Shift,
    Stats,
    Stop,
    Team,
    TravelModel,
    Unassigned,
    Visit,
    Window,
)

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
    """Parse a problem; see :meth:`scheduling.model.Problem.from_json`."""
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
    """Parse a plan; see :meth:`scheduling.model.Plan.from_json`."""
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
        },
    }
