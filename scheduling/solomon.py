"""Solomon VRPTW instances as planner problems.

The text format has a name line, a ``VEHICLE`` block (number, capacity) and a
``CUSTOMER`` table (number, x, y, demand, ready time, due date, service time) whose
customer 0 is the depot. Converted to a :class:`Problem`:

* time unit = one minute from 2000-01-01T00:00Z; travel minutes = Euclidean distance in
  full double precision (a :class:`Matrix`), so a route's ``travel_min`` is its distance;
* one team ``V1..Vn`` per vehicle, with a single shift [0, depot due date], start and end
  point at the depot (matrix ids ``"V1:start"``, ``"V1:end"``) and ``capacity``;
* one visit per customer, id = customer number, with ``demand``, service time and one
  window [ready, due] for the service start.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduling.model import Matrix, Problem, ProblemError, Shift, Team, Visit, Window

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Customer:
    number: int
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class SolomonInstance:
    """A parsed Solomon file."""

    name: str
    vehicles: int
    capacity: int
    depot: Customer
    customers: tuple[Customer, ...]

    def distance(self, a: Customer, b: Customer) -> float:
        """Euclidean distance, full precision."""
        return math.hypot(a.x - b.x, a.y - b.y)

    def to_problem(self) -> Problem:
        """The planner problem; see the module docstring."""
        at = lambda minutes: ORIGIN + timedelta(minutes=minutes)  # noqa: E731
        teams = tuple(
            Team(
                id=f"V{k + 1}",
                shifts=(Shift(at(self.depot.ready), at(self.depot.due)),),
                capacity=self.capacity,
            )
            for k in range(self.vehicles)
        )
        visits = tuple(
            Visit(
                id=str(c.number),
                service_min=c.service,
                windows=(Window(at(c.ready), at(c.due)),),
                demand=c.demand,
            )
            for c in self.customers
        )
        points = [*self.customers] + [self.depot] * (2 * self.vehicles)
        ids = [str(c.number) for c in self.customers]
        for t in teams:
            ids += [f"{t.id}:start", f"{t.id}:end"]
        minutes = tuple(tuple(self.distance(a, b) for b in points) for a in points)
        return Problem(teams=teams, visits=visits, matrix=Matrix(tuple(ids), minutes))


def read_instance(path: str | Path) -> SolomonInstance:
    """Parse a Solomon text file.

    Raises
    ------
    ProblemError
        If the file does not follow the format.
    """
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
    except OSError as exc:
        raise ProblemError(f"{path}: {exc.strerror}") from None
    lines = [ln for ln in lines if ln]
    try:
        name = lines[0]
        vi = next(i for i, ln in enumerate(lines) if ln.upper().startswith("VEHICLE"))
        number, capacity = (int(x) for x in lines[vi + 2].split()[:2])
        ci = next(i for i, ln in enumerate(lines) if ln.upper().startswith("CUSTOMER"))
        rows = []
        for ln in lines[ci + 1 :]:
            parts = ln.split()
            if not parts or not parts[0].lstrip("-").isdigit():
                continue
            n, x, y, d, r, due, s = parts[:7]
            rows.append(
                Customer(int(n), float(x), float(y), int(float(d)), float(r), float(due), float(s))
            )
    except (StopIteration, ValueError, IndexError):
        raise ProblemError(f"{path}: not a Solomon instance file") from None
    if not rows or rows[0].number != 0:
        raise ProblemError(f"{path}: the first customer row must be the depot (number 0)")
    return SolomonInstance(name, number, capacity, rows[0], tuple(rows[1:]))


@dataclass(frozen=True)
class BestKnown:
    vehicles: int
    distance: float


def read_bks(path: str | Path) -> dict[tuple[str, str], BestKnown]:
    """Read ``BKS.csv``: ``(instance, objective) -> BestKnown``."""
    out: dict[tuple[str, str], BestKnown] = {}
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            out[(row["instance"], row["objective"])] = BestKnown(
                int(row["vehicles"]), float(row["distance"])
            )
    return out
