"""Benchmark: how much a re-plan changes after one team of a published plan drops out.

    python bench/replan_minimal_change.py                    # 150 visits, seeds 0 1 2
    python bench/replan_minimal_change.py --visits 150 --seeds 0 1 2 3 4 --time-limit 10

For each seed a weekend problem around Huế (``scheduling.bench.generate_weekend``) is solved;
every visit of that plan counts as told (it was published, the SMS went out). The team with
the most visits then drops out and ``scheduling.replan`` runs with every told visit of the
other teams passed as ``told``. The figures printed per seed:

* ``kept``: told visits of the other teams still with their team, starting at the same minute;
* ``shifted``: told visits of the other teams still with their team, start moved (at most
  30 minutes, the told slack), with the largest shift;
* ``moved``: told visits of the other teams now with another team or dropped (should be 0);
* ``re-placed`` / ``lost``: the dropped team's visits placed with another team / left out;
* ``now fit``: visits left out before that the re-plan places.

The summary line gives the share of changed visits that are the dropped team's or newly
fitting ones: the minimal-change figure in docs/scheduling.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scheduling import SolveParams, check, replan, solve  # noqa: E402
from scheduling.bench import generate_weekend  # noqa: E402


def _starts(plan) -> dict[str, tuple[str, int, object]]:  # type: ignore[no-untyped-def]
    return {s.visit: (r.team, r.shift, s.start) for r in plan.routes for s in r.stops}


def one(visits: int, seed: int, time_limit_s: float) -> dict[str, float]:
    """Solve, drop the busiest team, re-plan; return the change figures."""
    problem = generate_weekend(visits, seed=seed)
    params = SolveParams(time_limit_s=time_limit_s, seed=seed, workers=1)
    before = solve(problem, params)
    old = _starts(before)
    per_team: dict[str, int] = {}
    for team, _shift, _start in old.values():
        per_team[team] = per_team.get(team, 0) + 1
    gone = max(per_team, key=lambda t: (per_team[t], t))
    # Visits pinned to, or declined by, the team that drops out lose that mark with it.
    visits_left = tuple(
        dataclasses.replace(
            v,
            pinned_team=None if v.pinned_team == gone else v.pinned_team,
            forbidden_teams=tuple(t for t in v.forbidden_teams if t != gone),
        )
        for v in problem.visits
    )
    changed = dataclasses.replace(
        problem, teams=tuple(t for t in problem.teams if t.id != gone), visits=visits_left
    )
    told = {v for v, (team, _s, _t) in old.items() if team != gone}
    started = time.perf_counter()
    after = replan(changed, before, params, told=told)
    replan_s = time.perf_counter() - started
    assert check(changed, after) == [], "the re-plan breaks a rule"
    new = _starts(after)
    kept = shifted = moved = 0
    max_shift = 0.0
    for visit in told:
        team, shift, start = old[visit]
        if visit not in new or new[visit][0] != team:
            moved += 1
            continue
        delta = abs((new[visit][2] - start).total_seconds()) / 60  # type: ignore[operator]
        if delta < 1:
            kept += 1
        else:
            shifted += 1
            max_shift = max(max_shift, delta)
    dropped_team = [v for v, (team, _s, _t) in old.items() if team == gone]
    replaced = sum(1 for v in dropped_team if v in new)
    now_fit = sum(1 for v in new if v not in old)
    return {
        "seed": seed,
        "served_before": len(old),
        "gone": per_team[gone],
        "kept": kept,
        "shifted": shifted,
        "max_shift": max_shift,
        "moved": moved,
        "replaced": replaced,
        "lost": len(dropped_team) - replaced,
        "now_fit": now_fit,
        "replan_s": replan_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=150)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--time-limit", type=float, default=8.0)
    args = parser.parse_args(argv)
    print(
        f"{'seed':>4} {'served':>6} {'gone':>4} {'kept':>4} {'shifted':>7} {'max min':>7} "
        f"{'moved':>5} {'re-placed':>9} {'lost':>4} {'now fit':>7} {'replan s':>8}"
    )
    rows = []
    for seed in args.seeds:
        row = one(args.visits, seed, args.time_limit)
        rows.append(row)
        print(
            f"{row['seed']:>4} {row['served_before']:>6} {row['gone']:>4} {row['kept']:>4} "
            f"{row['shifted']:>7} {row['max_shift']:>7.0f} {row['moved']:>5} "
            f"{row['replaced']:>9} {row['lost']:>4} {row['now_fit']:>7} {row['replan_s']:>8.1f}",
            flush=True,
        )
    others = sum(r["kept"] + r["shifted"] + r["moved"] for r in rows)
    team_changes = sum(r["moved"] for r in rows)
    changed = sum(r["gone"] + r["now_fit"] + r["moved"] for r in rows)
    print(
        f"summary: {args.visits} visits x {len(rows)} seeds; of {others} told visits of the "
        f"other teams {sum(r['kept'] for r in rows)} kept to the minute, "
        f"{sum(r['shifted'] for r in rows)} shifted (at most "
        f"{max(r['max_shift'] for r in rows):.0f} min), {team_changes} changed team or were "
        f"dropped; of {changed} visits that changed team or place, "
        f"{changed - team_changes} were the dropped team's or newly fitting ones"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
