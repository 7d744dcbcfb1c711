"""What the steps of a solve pass each other: the screened problem and its tours.

:class:`Context` is computed once per problem (travel, clock, screening); a :class:`Tour`
is one team shift's visits in order, as a search or a repair left them, before they are
timed into a :class:`scheduling.model.Route`.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduling.instance import Instance
from scheduling.model import Problem
from scheduling.reasons import Screening, screen
from scheduling.timeline import Clock
from scheduling.travel import Travel


@dataclass(frozen=True)
class Tour:
    """A team shift's visits in order, with the solver's arc ticks when known."""

    team: int
    shift: int
    visit_ids: list[str]
    arcs: list[int] | None = None
    fixed_start: dict[str, int] | None = None  # visit id -> service start, ticks


class Context:
    """What every step needs about one problem: travel, clock and screening."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.travel = Travel(problem)
        self.clock = Clock.for_problem(problem)
        self.screening: Screening = screen(problem, self.travel, self.clock)


def tours_from_routes(inst: Instance, routes: list[list[int]]) -> list[Tour]:
    """Turn solver routes (visit nodes per vehicle) into tours with their arc ticks."""
    tours = []
    for k, nodes in enumerate(routes):
        if not nodes:
            continue
        v = inst.vehicles[k]
        path = [v.start_node, *nodes, v.end_node]
        arcs = [int(x) for x in inst.ticks[v.mode][path[:-1], path[1:]]]
        fixed = {inst.visit_ids[n]: inst.fixed[n][1] for n in nodes if n in inst.fixed}
        tours.append(Tour(v.team, v.shift, [inst.visit_ids[n] for n in nodes], arcs, fixed or None))
    return tours
