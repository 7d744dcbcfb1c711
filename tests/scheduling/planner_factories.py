"""Small factories for planner tests: a Saturday in Huế, teams and visits near each other."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from scheduling import Location, Problem, Shift, SolveParams, Team, Visit, Window

ICT = timezone(timedelta(hours=7))
DAY = datetime(2026, 11, 28, tzinfo=ICT)
OFFICE = Location(16.4637, 107.5909)
MORNING = Shift(DAY.replace(hour=7, minute=30), DAY.replace(hour=11))
AFTERNOON = Shift(DAY.replace(hour=14), DAY.replace(hour=17))

# Tiny problems: one worker and a solution budget end each search in milliseconds, and make
# the result reproducible.
FAST = SolveParams(time_limit_s=5, workers=1, solution_limit=300)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def near(dlat_m: float = 0.0, dlng_m: float = 0.0, base: Location = OFFICE) -> Location:
    """A point ``dlat_m`` metres north and ``dlng_m`` metres east of ``base`` (roughly)."""
    return Location(base.lat + dlat_m / 111_200, base.lng + dlng_m / 106_600)


def team(tid: str = "T1", **kw) -> Team:
    kw.setdefault("shifts", (MORNING,))
    kw.setdefault("start", OFFICE)
    kw.setdefault("skills", frozenset({"vneid"}))
    kw.setdefault("languages", frozenset({"vi"}))
    kw.setdefault("mode", "motorbike")
    return Team(id=tid, **kw)


def visit(vid: str, **kw) -> Visit:
    kw.setdefault("location", near(500, 500))
    kw.setdefault("service_min", 30)
    return Visit(id=vid, **kw)


def window(h1: int, m1: int, h2: int, m2: int) -> Window:
    return Window(at(h1, m1), at(h2, m2))


def problem(teams, visits, **kw) -> Problem:
    return Problem(teams=tuple(teams), visits=tuple(visits), **kw)
