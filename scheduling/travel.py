"""Travel times and distances between named points, as numpy arrays.

A point is named the way ``Matrix.ids`` names it: a visit id, ``"<team>:start"`` or
``"<team>:end"``. With the travel model, a tour's time between two points is the
great-circle distance on a sphere of radius :data:`EARTH_RADIUS_KM`, times the detour
factor, divided by the mode's speed; with a matrix, it is the matrix entry.

The solver works in integer *ticks* of one millisecond (:data:`TICKS_PER_MIN`): fine
enough for the full-precision Euclidean distances of the Solomon instances, coarse enough
that a two-day horizon times thousands of arcs stays far from int64 overflow. Travel and
service durations are rounded *up* to whole ticks and window/shift ends *down*, so a plan
the solver finds feasible is feasible for the checker, which uses exact floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduling.model import Problem, Team

EARTH_RADIUS_KM = 6371.009
"""Mean Earth radius (IUGG); the same value geopy's ``great_circle`` uses by default."""

TICKS_PER_MIN = 60_000
"""Solver time unit: one millisecond."""

MATRIX_MODE = "matrix"
"""The single pseudo-mode used when a problem gives an explicit matrix."""


def start_id(team_id: str) -> str:
    """Name of a team's start point in ``Matrix.ids``."""
    return f"{team_id}:start"


def end_id(team_id: str) -> str:
    """Name of a team's end point in ``Matrix.ids``."""
    return f"{team_id}:end"


def minutes_to_ticks(minutes: np.ndarray | float) -> np.ndarray:
    """Round durations up to whole ticks (int64)."""
    return np.ceil(np.asarray(minutes, dtype=np.float64) * TICKS_PER_MIN).astype(np.int64)


def haversine_m(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    """Great-circle distances in metres, broadcasting over the inputs (degrees)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lng2) - np.radians(lng1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * 1000.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class PointSet:
    """Point names resolved to matrix indices or coordinates."""

    keys: tuple[str, ...]
    index: np.ndarray | None
    lat: np.ndarray | None
    lng: np.ndarray | None

    def take(self, which: np.ndarray) -> PointSet:
        """The points at positions ``which`` (an index array), in that order."""
        return PointSet(
            tuple(self.keys[int(i)] for i in which),
            None if self.index is None else self.index[which],
            None if self.lat is None else self.lat[which],
            None if self.lng is None else self.lng[which],
        )


class Travel:
    """Pairwise travel minutes and metres for the points of one problem.

    Parameters
    ----------
    problem : Problem
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.matrix = problem.matrix
        if self.matrix is not None:
            self._index = {k: i for i, k in enumerate(self.matrix.ids)}
            self._minutes = np.asarray(self.matrix.minutes, dtype=np.float64)
            self._meters = (
                None
                if self.matrix.meters is None
                else np.asarray(self.matrix.meters, dtype=np.float64)
            )
        else:
            self._coords: dict[str, tuple[float, float]] = {}
            for t in problem.teams:
                assert t.start is not None
                self._coords[start_id(t.id)] = (t.start.lat, t.start.lng)
                if t.end is not None:
                    self._coords[end_id(t.id)] = (t.end.lat, t.end.lng)
            for v in problem.visits:
                assert v.location is not None
                self._coords[v.id] = (v.location.lat, v.location.lng)
        self.speed_m_per_min = {
            mode: kmh * 1000.0 / 60.0 for mode, kmh in problem.travel.speed_kmh.items()
        }

    @property
    def has_distance(self) -> bool:
        """Whether distances in metres are known."""
        return self.matrix is None or self._meters is not None

    def mode_of(self, team: Team) -> str:
        """The mode key under which this team's travel is computed."""
        return MATRIX_MODE if self.matrix is not None else team.mode

    def has_point(self, key: str) -> bool:
        """Whether the point exists (a team end point may not)."""
        return key in (self._index if self.matrix is not None else self._coords)

    def signature(self, key: str) -> tuple:
        """A value equal for two points exactly when they are the same place for travel."""
        if self.matrix is not None:
            i = self._index[key]
            meters = (
                ()
                if self._meters is None
                else (self._meters[i].tobytes(), self._meters[:, i].tobytes())
            )
            return (self._minutes[i].tobytes(), self._minutes[:, i].tobytes(), *meters)
        return self._coords[key]

    def points(self, keys: Sequence[str]) -> PointSet:
        """Pre-resolve a list of point names for repeated one-to-many queries."""
        if self.matrix is not None:
            idx = np.array([self._index[k] for k in keys], dtype=np.int64)
            return PointSet(tuple(keys), idx, None, None)
        lat, lng = self._latlng(keys)
        return PointSet(tuple(keys), None, lat, lng)

    def _one_many_meters(self, key: str, ps: PointSet, outbound: bool) -> np.ndarray | None:
        if self.matrix is not None:
            if self._meters is None:
                return None
            i = self._index[key]
            return self._meters[i, ps.index] if outbound else self._meters[ps.index, i]
        lat, lng = self._coords[key]
        assert ps.lat is not None and ps.lng is not None
        return haversine_m(lat, lng, ps.lat, ps.lng) * self.problem.travel.detour_factor

    def one_to_many(self, mode: str, key: str, ps: PointSet, outbound: bool = True) -> np.ndarray:
        """Minutes from ``key`` to each point of ``ps`` (or back to ``key`` if not outbound)."""
        if self.matrix is not None:
            i = self._index[key]
            return self._minutes[i, ps.index] if outbound else self._minutes[ps.index, i]
        m = self._one_many_meters(key, ps, outbound)
        assert m is not None
        return m / self.speed_m_per_min[mode]

    def _latlng(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        arr = np.array([self._coords[k] for k in keys], dtype=np.float64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def meters_pairs(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray | None:
        """Distances from ``a[i]`` to ``b[i]`` in metres, or ``None`` if unknown."""
        if self.matrix is not None:
            if self._meters is None:
                return None
            ia = np.array([self._index[k] for k in a], dtype=np.int64)
            ib = np.array([self._index[k] for k in b], dtype=np.int64)
            return self._meters[ia, ib]
        la, ga = self._latlng(a)
        lb, gb = self._latlng(b)
        return haversine_m(la, ga, lb, gb) * self.problem.travel.detour_factor

    def minutes_pairs(self, mode: str, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Travel minutes from ``a[i]`` to ``b[i]`` for a mode."""
        if self.matrix is not None:
            ia = np.array([self._index[k] for k in a], dtype=np.int64)
            ib = np.array([self._index[k] for k in b], dtype=np.int64)
            return self._minutes[ia, ib]
        m = self.meters_pairs(a, b)
        assert m is not None
        return m / self.speed_m_per_min[mode]

    def meters_matrix(self, keys: Sequence[str]) -> np.ndarray | None:
        """The full distance matrix among ``keys`` in metres, or ``None`` if unknown."""
        if self.matrix is not None:
            if self._meters is None:
                return None
            idx = np.array([self._index[k] for k in keys], dtype=np.int64)
            return self._meters[np.ix_(idx, idx)]
        lat, lng = self._latlng(keys)
        return (
            haversine_m(lat[:, None], lng[:, None], lat[None, :], lng[None, :])
            * self.problem.travel.detour_factor
        )

    def minutes_matrix(
        self, mode: str, keys: Sequence[str], meters: np.ndarray | None = None
    ) -> np.ndarray:
        """The full travel-time matrix among ``keys`` in minutes.

        ``meters`` may pass an already computed :meth:`meters_matrix` to save work.
        """
        if self.matrix is not None:
            idx = np.array([self._index[k] for k in keys], dtype=np.int64)
            return self._minutes[np.ix_(idx, idx)]
        if meters is None:
            meters = self.meters_matrix(keys)
        assert meters is not None
        return meters / self.speed_m_per_min[mode]
