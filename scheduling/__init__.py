"""The visit planner: which team makes which household visit, in what order and when.

A library with plain data in and plain data out (see :mod:`scheduling.model`); it never
imports the web app, the database or the SMS gateway. The public API:

* :func:`solve` — plan a problem;
* :func:`check` — an independent checker of a plan against its problem;
* :func:`replan` — a new plan that changes a previous one as little as needed;
* :func:`retime` — time a coordinator's edited routes, or say why they cannot work;
* :func:`evaluate` — recompute a plan's figures;
* :func:`form_teams` — pair volunteers into teams.
"""

from scheduling.check import check
from scheduling.edits import EditedRoute, Retimed, evaluate, replan, retime
from scheduling.model import (
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
    Violation,
    Visit,
    Window,
)
from scheduling.planner import SolveParams, solve
from scheduling.solver import Progress, SearchConfig
from scheduling.teams import TeamDraft, TeamForming, Unplaced, Volunteer, form_teams

__all__ = [
    "EditedRoute",
    "Retimed",
    "TeamDraft",
    "TeamForming",
    "Unplaced",
    "Volunteer",
    "evaluate",
    "form_teams",
    "replan",
    "retime",
    "Location",
    "Matrix",
    "Plan",
    "Problem",
    "ProblemError",
    "Progress",
    "Route",
    "SearchConfig",
    "Shift",
    "SolveParams",
    "Stats",
    "Stop",
    "Team",
    "TravelModel",
    "Unassigned",
    "Violation",
    "Visit",
    "Window",
    "check",
    "solve",
]
