"""``SolveParams``: how long and how to search (shared by the planner and the decomposition)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scheduling.solver import Progress, SearchConfig


@dataclass(frozen=True)
class SolveParams:
    """How long and how to search.

    Parameters
    ----------
    time_limit_s : float
        Wall-clock limit for the whole call, in seconds (setup included).
    seed : int
        Seeds the node order each worker sees; worker ``i`` uses ``seed + i``.
    workers : int
        Parallel searches, each differently seeded and configured; the best plan is kept.
        ``1`` runs in this process only; the default 2 uses both cores of the target machine.
    solution_limit : int or None
        Deterministic budget: each worker stops after this many solutions. With the same
        seed, workers and solution limit (reached before the time limit) the plan is the
        same on every run; with only a time limit it depends on machine speed and load.
    progress : callable or None
        Called with a :class:`Progress` whenever the best plan improves, including once
        after the search if the final insertion pass (:mod:`scheduling.insertion`) serves
        more.
    should_stop : callable or None
        Polled about every 50 ms; when it returns True the search ends and the best plan
        so far is returned.
    minimize_vehicles : bool
        Use as few tours as possible before minimising travel (Solomon's
        vehicles-then-distance objective); still after served priority.
    vehicle_fixed_cost_min : float
        Extension: a cost, in travel minutes, for every tour in use (0 by default).
    balance : bool
        Break ties in travel by the largest number of visits on one tour.
    decompose_above : int
        Problems with more routable visits than this are split by location and the parts
        solved in parallel (see :mod:`scheduling.decompose`).
    configs : sequence of SearchConfig or None
        Override the search portfolio (for measurements).
    first_plan : str
        The plan the search starts from (see :mod:`scheduling.firstplan`): ``"auto"``
        (VROOM through ``pyvroom`` when it can be imported, else greedy insertion; none
        with a ``solution_limit``), ``"vroom"``, ``"greedy"`` or ``"none"`` (OR-Tools'
        own first solution). Decomposed problems start from VROOM's plan, or from greedy
        insertion's when VROOM has no time for them (or with ``"greedy"``).
    first_plan_share : float
        The share of the time limit the first plan may take (VROOM runs in a child process
        ended when it is up).
    pyvrp : bool
        Extension: when the problem fits PyVRP exactly (see :mod:`scheduling.pyvrp_bridge`),
        ``pyvrp`` is installed, there are at least 2 workers, no ``solution_limit`` and no
        ``configs``, one worker runs PyVRP and the other our own search (no first plan is
        made then: PyVRP makes its own). ``False`` keeps OR-Tools only.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    workers: int = 2
    solution_limit: int | None = None
    progress: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
    minimize_vehicles: bool = False
    vehicle_fixed_cost_min: float = 0.0
    balance: bool = True
    decompose_above: int = 1200
    configs: Sequence[SearchConfig] | None = None
    first_plan: str = "auto"
    first_plan_share: float = 0.5
    pyvrp: bool = True
