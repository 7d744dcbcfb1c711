"""Benchmarks: the Solomon VRPTW instances and generated door-to-door problems.

Both print a table and check every plan with the independent checker. They are tools for
measuring, not tests: their figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import queue
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from scheduling.check import check
from scheduling.model import Location, Plan, Problem, Shift, Team, Visit, Window
from scheduling.planner import SolveParams, solve
from scheduling.solomon import read_bks, read_instance
from scheduling.solver import SearchConfig

OBJECTIVES = ("vehicles-then-distance", "distance")

DISTANCE_PORTFOLIO = (
    SearchConfig(first="PATH_CHEAPEST_ARC", meta="gls"),
    SearchConfig(first="LOCAL_CHEAPEST_INSERTION", meta="ils"),
)
"""For ``--objective distance``: GLS in-process and ruin-and-recreate ILS in the child (ILS
gave the best distances on the measured subset)."""


def parse_search(spec: str) -> list[SearchConfig]:
    """Parse ``FIRST:META[:REDUCE_SHARE],...`` into search configs (for measurements)."""
    out = []
    for part in spec.split(","):
        bits = part.strip().split(":")
        cfg = SearchConfig(first=bits[0].upper(), meta=bits[1] if len(bits) > 1 else "gls")
        if len(bits) > 2:
            cfg = SearchConfig(cfg.first, cfg.meta, reduce_share=float(bits[2]))
        out.append(cfg)
    return out


@dataclass
class SolomonRow:
    instance: str
    vehicles: int
    distance: float
    unserved: int
    bks_vehicles: int | None
    bks_distance: float | None
    seconds: float
    violations: int
    routes: list[list[int]] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        if self.bks_distance is None:
            return None
        return 100.0 * (self.distance - self.bks_distance) / self.bks_distance


def solomon_distance(inst: Any, routes: list[list[int]]) -> float:
    """Total Euclidean length of routes given as customer numbers (recomputed)."""
    by_no = {c.number: c for c in inst.customers}
    total = 0.0
    for r in routes:
        pts = [inst.depot, *(by_no[n] for n in r), inst.depot]
        total += sum(inst.distance(a, b) for a, b in zip(pts, pts[1:], strict=False))
    return total


def solomon_summary(rows: list[SolomonRow]) -> list[str]:
    """The summary lines printed under the Solomon table.

    The gap is to the BKS distance, which belongs to the BKS fleet: an instance solved
    with more vehicles can be shorter than the BKS, so the overall mean gap flatters. The
    mean over the instances solved with exactly the BKS fleet is the comparable figure,
    and the instances over BKS + 1 vehicles are listed by name.
    """
    invalid = sum(1 for r in rows if r.violations)
    lines = []
    compared = [r for r in rows if r.gap is not None and r.bks_vehicles is not None]
    if not compared:
        return [f"{len(rows)} instances without best known solutions; invalid {invalid}"]
    gaps = [r.gap for r in compared if r.gap is not None]
    same = [r.gap for r in compared if r.vehicles == r.bks_vehicles and r.gap is not None]
    fewer = sum(1 for r in compared if r.bks_vehicles is not None and r.vehicles < r.bks_vehicles)
    over = [
        r.instance
        for r in compared
        if r.bks_vehicles is not None and r.vehicles > r.bks_vehicles + 1
    ]
    lines.append(
        f"mean gap {sum(gaps) / len(gaps):.2f}% over {len(gaps)} instances; "
        f"vehicles = BKS on {len(same)}"
        + (f", < BKS on {fewer}" if fewer else "")
        + f", > BKS+1 on {len(over)}; invalid {invalid}"
    )
    if same:
        lines.append(
            f"mean gap over the {len(same)} instances solved with the BKS fleet: "
            f"{sum(same) / len(same):.2f}%"
        )
    else:
        lines.append("no instance was solved with the BKS fleet")
    lines.append(
        f"vehicles in total {sum(r.vehicles for r in compared)} "
        f"(BKS {sum(r.bks_vehicles or 0 for r in compared)})"
    )
    lines.append(f"over BKS+1: {', '.join(over) if over else 'none'}")
    return lines


def run_solomon(
    directory: Path,
    names: list[str] | None,
    time_limit_s: float,
    objective: str,
    out: TextIO,
    json_path: Path | None = None,
    workers: int = 2,
    seed: int = 0,
    configs: list[SearchConfig] | None = None,
) -> list[SolomonRow]:
    """Solve Solomon instances, print one row each and the mean gap; return the rows."""
    bks_path = directory / "BKS.csv"
    bks = read_bks(bks_path) if bks_path.exists() else {}
    if not names:
        names = sorted(p.stem for p in directory.glob("*.txt"))
    rows: list[SolomonRow] = []
    header = (
        f"{'instance':<9}{'veh':>5}{'distance':>11}{'BKS veh':>9}{'BKS dist':>11}"
        f"{'gap %':>8}{'sec':>7}  ok"
    )
    print(header, file=out, flush=True)
    for name in names:
        inst = read_instance(directory / f"{name}.txt")
        problem = inst.to_problem()
        params = SolveParams(
            time_limit_s=time_limit_s,
            workers=workers,
            seed=seed,
            minimize_vehicles=objective == "vehicles-then-distance",
            balance=False,
            configs=configs or (DISTANCE_PORTFOLIO if objective == "distance" else None),
        )
        t = time.monotonic()
        plan = solve(problem, params)
        seconds = time.monotonic() - t
        violations = check(problem, plan)
        routes = [[int(s.visit) for s in r.stops] for r in plan.routes if r.stops]
        best = bks.get((inst.name, objective)) or bks.get((name, objective))
        row = SolomonRow(
            instance=inst.name,
            vehicles=len(routes),
            distance=solomon_distance(inst, routes),
            unserved=len(plan.unassigned),
            bks_vehicles=best.vehicles if best else None,
            bks_distance=best.distance if best else None,
            seconds=seconds,
            violations=len(violations) + len(plan.unassigned),
            routes=routes,
        )
        rows.append(row)
        gap = "" if row.gap is None else f"{row.gap:8.2f}"
        ok = (
            "yes"
            if row.violations == 0
            else f"NO ({len(violations)} violations, {row.unserved} unserved)"
        )
        print(
            f"{row.instance:<9}{row.vehicles:>5}{row.distance:>11.2f}"
            f"{(row.bks_vehicles or 0):>9}{(row.bks_distance or 0):>11.2f}{gap:>8}"
            f"{seconds:>7.1f}  {ok}",
            file=out,
            flush=True,
        )
    for line in solomon_summary(rows):
        print(line, file=out, flush=True)
    if json_path is not None:
        json_path.write_text(
            json.dumps(
                [
                    {
                        "instance": r.instance,
                        "vehicles": r.vehicles,
                        "distance": r.distance,
                        "seconds": round(r.seconds, 2),
                        "routes": r.routes,
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
    return rows


# --------------------------------------------------------------------------- scale

SCALE_SIZES = (100, 500, 1000, 2000, 5000)
SCALE_TEAMS = {100: 15, 500: 75, 1000: 150, 2000: 300, 5000: 1000}
SCALE_TIME_S = {100: 10.0, 500: 30.0, 1000: 55.0, 2000: 120.0, 5000: 280.0}
SKILLS = ("vneid", "dvc", "epayment", "hue_s", "health", "safety")
_ICT = timezone(timedelta(hours=7))


def generate(n_visits: int, n_teams: int | None = None, seed: int = 0) -> Problem:
    """A door-to-door problem around Huế: communes of households and teams.

    Households cluster in communes (about 100 visits each) within ~2.5 km of the commune
    centre; teams start at their commune's youth union office or at a member's home, walk,
    cycle or ride, work Saturday 07:30-11:00 and a third of them also 14:00-17:00, with at
    most 8 visits. Visits need one or two skills, 10% a minority language, 40% have a
    morning or afternoon window; service 20-60 min; priority 1-5.
    """
    rng = np.random.default_rng(seed)
    n_teams = n_teams or SCALE_TEAMS.get(n_visits, max(2, round(0.15 * n_visits)))
    communes = max(1, round(n_visits / 100))
    centre = np.array([16.4637, 107.5909])
    spread = 0.02 * math.sqrt(communes)
    centres = centre + rng.uniform(-spread, spread, size=(communes, 2))
    day = datetime(2026, 11, 28, tzinfo=_ICT)
    morning = Shift(day.replace(hour=7, minute=30), day.replace(hour=11))
    afternoon = Shift(day.replace(hour=14), day.replace(hour=17))
    teams = []
    for k in range(n_teams):
        c = centres[k % communes]
        home = c + rng.normal(0, 0.012, size=2) if rng.random() < 0.5 else c
        skills = set(rng.choice(SKILLS, size=int(rng.integers(2, 5)), replace=False).tolist())
        langs = {"vi"} | ({"km"} if rng.random() < 0.2 else set())
        mode = str(rng.choice(["walk", "bicycle", "motorbike"], p=[0.3, 0.3, 0.4]))
        shifts = (morning, afternoon) if rng.random() < 1 / 3 else (morning,)
        teams.append(
            Team(
                id=f"T{k + 1}",
                members=(f"V{2 * k + 1}", f"V{2 * k + 2}"),
                skills=frozenset(skills),
                languages=frozenset(langs),
                mode=mode,
                start=Location(float(home[0]), float(home[1])),
                end=None,
                shifts=shifts,
                max_visits=8,
            )
        )
    visits = []
    for i in range(n_visits):
        c = centres[int(rng.integers(communes))]
        p = c + rng.normal(0, 0.01, size=2)
        need = set(rng.choice(SKILLS[:4], size=int(rng.integers(1, 3)), replace=False).tolist())
        r = rng.random()
        windows: tuple[Window, ...] = ()
        if r < 0.2:
            windows = (Window(morning.start, morning.end),)
        elif r < 0.4:
            windows = (
                Window(day.replace(hour=8), day.replace(hour=10)),
                Window(afternoon.start, afternoon.end),
            )
        visits.append(
            Visit(
                id=f"R{i + 1}",
                location=Location(float(p[0]), float(p[1])),
                service_min=float(rng.choice([20, 30, 45, 60])),
                skills=frozenset(need),
                languages=frozenset({"km"}) if rng.random() < 0.1 else frozenset(),
                priority=int(rng.integers(1, 6)),
                windows=windows,
            )
        )
    return Problem(teams=tuple(teams), visits=tuple(visits))


def generate_weekend(n_visits: int, n_teams: int | None = None, seed: int = 0) -> Problem:
    """A realistic Huế weekend drive: :func:`generate`'s communes, over two days.

    Teams work Saturday morning and, each with its own chance, Saturday afternoon, Sunday
    morning and Sunday afternoon (07:30-11:00, 14:00-17:00), with at most 5-10 visits
    over the whole weekend (so ``max_visits`` is shared by up to four shifts). Visits need
    one or two skills, 10% a minority language; 35% have no window, the others one to
    three windows on either day; service 20-60 min; priority 1-5. About 3% are pinned to
    a team of their commune (one with their skills where there is one) and 5% have a team
    of their commune in ``forbidden_teams`` (a volunteer declined).
    """
    rng = np.random.default_rng(seed)
    n_teams = n_teams or PEER_TEAMS.get(n_visits, max(2, round(0.15 * n_visits)))
    communes = max(1, round(n_visits / 100))
    centre = np.array([16.4637, 107.5909])
    spread = 0.02 * math.sqrt(communes)
    centres = centre + rng.uniform(-spread, spread, size=(communes, 2))
    sat = datetime(2026, 11, 28, tzinfo=_ICT)
    sun = sat + timedelta(days=1)
    blocks = [
        Shift(d.replace(hour=h0, minute=m0), d.replace(hour=h1))
        for d in (sat, sun)
        for h0, m0, h1 in ((7, 30, 11), (14, 0, 17))
    ]
    chances = (1.0, 0.5, 0.6, 0.3)
    teams = []
    commune_teams: dict[int, list[int]] = {}
    for k in range(n_teams):
        home_commune = k % communes
        commune_teams.setdefault(home_commune, []).append(k)
        c = centres[home_commune]
        home = c + rng.normal(0, 0.012, size=2) if rng.random() < 0.5 else c
        skills = set(rng.choice(SKILLS, size=int(rng.integers(2, 5)), replace=False).tolist())
        langs = {"vi"} | ({"km"} if rng.random() < 0.2 else set())
        mode = str(rng.choice(["walk", "bicycle", "motorbike"], p=[0.3, 0.3, 0.4]))
        shifts = tuple(b for b, p in zip(blocks, chances, strict=True) if rng.random() < p)
        teams.append(
            Team(
                id=f"T{k + 1}",
                members=(f"V{2 * k + 1}", f"V{2 * k + 2}"),
                skills=frozenset(skills),
                languages=frozenset(langs),
                mode=mode,
                start=Location(float(home[0]), float(home[1])),
                shifts=shifts,
                max_visits=int(rng.integers(5, 11)),
            )
        )
    visits = []
    for i in range(n_visits):
        ci = int(rng.integers(communes))
        p = centres[ci] + rng.normal(0, 0.01, size=2)
        need = set(rng.choice(SKILLS[:4], size=int(rng.integers(1, 3)), replace=False).tolist())
        langs = frozenset({"km"}) if rng.random() < 0.1 else frozenset()
        r = rng.random()
        windows: tuple[Window, ...] = ()
        if r >= 0.35:
            count = 1 if r < 0.6 else (2 if r < 0.85 else 3)
            picks = sorted(rng.choice(len(blocks), size=count, replace=False).tolist())
            windows = tuple(_window_in(blocks[b], rng) for b in picks)
        local = commune_teams.get(ci, [])
        pinned = forbidden = None
        draw = rng.random()
        if local and draw < 0.03:
            able = [k for k in local if need <= teams[k].skills and langs <= teams[k].languages]
            pinned = teams[int(rng.choice(able or local))].id
        elif local and draw < 0.08:
            forbidden = teams[int(rng.choice(local))].id
        visits.append(
            Visit(
                id=f"R{i + 1}",
                location=Location(float(p[0]), float(p[1])),
                service_min=float(rng.choice([20, 30, 45, 60])),
                skills=frozenset(need),
                languages=langs,
                priority=int(rng.integers(1, 6)),
                windows=windows,
                pinned_team=pinned,
                forbidden_teams=frozenset({forbidden} if forbidden else ()),
            )
        )
    return Problem(teams=tuple(teams), visits=tuple(visits))


def _window_in(block: Shift, rng: np.random.Generator) -> Window:
    """A window of 1-3 hours inside a shift block (whole quarter hours)."""
    length_q = int((block.end - block.start).total_seconds() // 900)
    width = int(rng.integers(4, 13))
    first = int(rng.integers(0, max(1, length_q - width) + 1))
    start = block.start + timedelta(minutes=15 * first)
    return Window(start, min(block.end, start + timedelta(minutes=15 * width)))


PEER_TEAMS = {60: 10, 300: 40, 1000: 150, 1500: 200, 5000: 1000}
"""Teams per generated weekend in ``bench peers`` (the sizes of issue #13's tables)."""


MEMORY_SAMPLE_S = 0.1
"""How often ``bench scale`` samples the memory of the solving process tree, seconds."""


def _process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # the process ended while we looked
        # The command name may hold spaces and parentheses: fields start after the last ")".
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _memory_kb(pid: int) -> tuple[int, int]:
    """Proportional (PSS) and resident (RSS) set size of one process, kB; 0 if gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        return 0, 0
    return pss, rss


class TreeMemory:
    """Peak memory of a process and its descendants at one moment, sampled from /proc.

    ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak of the *largest* child, not of
    the children alive together, so it undercounts when a decomposed problem runs two
    parts in two processes at once. Sampling the whole tree and summing gives what was
    resident at once. The sum uses PSS (each shared page divided among the processes
    mapping it), so the OR-Tools and numpy libraries every worker maps are counted once;
    the RSS sum, which counts them once per process, is kept as an upper bound. A peak
    shorter than the sampling interval can be missed.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_pss_kb = 0
        self.peak_rss_kb = 0
        self.samples = 0

    def sample(self) -> None:
        """Add one sample of the tree's current memory."""
        pss = rss = 0
        for pid in _process_tree(self.pid):
            p, r = _memory_kb(pid)
            pss += p
            rss += r
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.samples += 1


def _scale_one(
    n: int,
    time_limit_s: float,
    seed: int,
    out: Any,
    workers: int = 2,
    configs: list[SearchConfig] | None = None,
) -> None:
    problem = generate(n, seed=seed)
    t = time.monotonic()
    params = SolveParams(time_limit_s=time_limit_s, seed=seed, workers=workers, configs=configs)
    plan: Plan = solve(problem, params)
    seconds = time.monotonic() - t
    violations = check(problem, plan)
    reasons: dict[str, int] = {}
    for u in plan.unassigned:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    out.put(
        {
            "visits": n,
            "teams": len(problem.teams),
            "seconds": seconds,
            "served": plan.stats.served,
            "served_priority": plan.stats.served_priority,
            "violations": len(violations),
            "reasons": reasons,
            "travel_min": plan.stats.travel_min,
        }
    )


def run_scale(
    sizes: list[int],
    time_limit_s: float | None,
    seed: int,
    out: TextIO,
    workers: int = 2,
    configs: list[SearchConfig] | None = None,
) -> list[dict]:
    """Solve generated problems, each in a fresh process; print and return the rows.

    ``peak MB`` is the largest memory of the solving process tree at one moment (see
    :class:`TreeMemory`); ``priority`` is the served priority, the first criterion.
    """
    ctx = mp.get_context("spawn")
    rows = []
    print(
        f"{'visits':>7}{'teams':>7}{'limit s':>9}{'solve s':>9}{'peak MB':>9}{'served %':>10}"
        f"{'priority':>10}"
        "  ok  unserved by reason",
        file=out,
        flush=True,
    )
    for n in sizes:
        limit = time_limit_s if time_limit_s is not None else SCALE_TIME_S.get(n, 60.0)
        q = ctx.Queue()
        p = ctx.Process(target=_scale_one, args=(n, limit, seed, q, workers, configs))
        p.start()
        # Sampled from here, outside the measured tree, while the child generates, solves
        # and checks (so the sampling neither competes for the child's GIL nor counts
        # itself).
        memory = TreeMemory(p.pid)
        while True:
            memory.sample()
            try:
                row = q.get(timeout=MEMORY_SAMPLE_S)
                break
            except queue.Empty:
                if not p.is_alive():
                    raise RuntimeError(f"the {n}-visit run ended without a result") from None
        p.join()
        row["peak_mb"] = memory.peak_pss_kb / 1024
        row["peak_rss_mb"] = memory.peak_rss_kb / 1024
        row["memory_samples"] = memory.samples
        row["limit_s"] = limit
        rows.append(row)
        share = 100.0 * row["served"] / max(1, n)
        ok = "yes" if row["violations"] == 0 else f"NO ({row['violations']})"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()))
        print(
            f"{n:>7}{row['teams']:>7}{limit:>9.0f}{row['seconds']:>9.1f}{row['peak_mb']:>9.0f}"
            f"{share:>10.1f}{row['served_priority']:>10}  {ok}  {reasons}",
            file=out,
            flush=True,
        )
    return rows
