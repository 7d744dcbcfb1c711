"""Command line: ``python -m scheduling solve|check|bench``.

Exit codes: 0 success; 1 ``check`` found violations; 2 unusable input (bad file, bad
JSON, malformed problem or plan), reported as one line on stderr without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from scheduling.model import Plan, Problem, ProblemError


class InputError(Exception):
    """An input file that cannot be used; the message is one line for the user."""


def _load_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _problem(path: str) -> Problem:
    try:
        return Problem.from_json(_load_json(path))
    except ProblemError as exc:
        raise InputError(f"{path}: {exc}") from None


def _plan(path: str) -> Plan:
    try:
        return Plan.from_json(_load_json(path))
    except ProblemError as exc:
        raise InputError(f"{path}: {exc}") from None


def cmd_solve(args: argparse.Namespace) -> int:
    from scheduling.planner import SolveParams, solve

    problem = _problem(args.problem)
    params = SolveParams(
        time_limit_s=args.time_limit,
        seed=args.seed,
        solution_limit=args.solutions,
        first_plan=args.first_plan,
    )
    plan = solve(problem, params)
    text = json.dumps(plan.to_json(), indent=2, ensure_ascii=False)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.output}: {exc.strerror or exc}") from None
        s = plan.stats
        print(
            f"served {s.served} of {len(problem.visits)} visits (priority {s.served_priority}), "
            f"{s.travel_min:.1f} min of travel, {s.solve_s:.1f} s; plan written to {args.output}"
        )
    else:
        print(text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from scheduling.check import check

    problem = _problem(args.problem)
    plan = _plan(args.plan)
    violations = check(problem, plan)
    for v in violations:
        print(v)
    if violations:
        print(f"{len(violations)} violation(s)", file=sys.stderr)
        return 1
    print("plan is valid")
    return 0


def cmd_bench_solomon(args: argparse.Namespace) -> int:
    from scheduling.bench import parse_search, run_solomon

    directory = Path(args.dir)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory")
    names = [n.strip() for n in args.instances.split(",") if n.strip()] if args.instances else None
    if names:
        missing = [n for n in names if not (directory / f"{n}.txt").exists()]
        if missing:
            raise InputError(f"{directory}: no instance file for {', '.join(missing)}")
    try:
        rows = run_solomon(
            directory,
            names,
            args.time_limit,
            args.objective,
            sys.stdout,
            Path(args.json) if args.json else None,
            workers=args.workers,
            seed=args.seed,
            configs=parse_search(args.search) if args.search else None,
        )
    except ProblemError as exc:
        raise InputError(str(exc)) from None
    return 1 if any(r.violations for r in rows) else 0


def cmd_bench_scale(args: argparse.Namespace) -> int:
    from scheduling.bench import SCALE_SIZES, parse_search, run_scale

    try:
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else list(SCALE_SIZES)
    except ValueError:
        raise InputError(
            f"--sizes: expected numbers separated by commas, got {args.sizes!r}"
        ) from None
    configs = parse_search(args.search) if args.search else None
    rows = run_scale(sizes, args.time_limit, args.seed, sys.stdout, args.workers, configs)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 1 if any(r["violations"] for r in rows) else 0


def cmd_bench_peers(args: argparse.Namespace) -> int:
    from scheduling import peers

    if not peers.has_vroom():
        raise InputError("pyvroom is not installed: pip install -e '.[bench]'")
    json_path = Path(args.json) if args.json else None
    if args.solomon:
        if not peers.has_pyvrp():
            raise InputError("pyvrp is not installed: pip install -e .")
        directory = Path(args.solomon)
        if not directory.is_dir():
            raise InputError(f"{directory}: no such directory")
        names = [n.strip() for n in (args.instances or "").split(",") if n.strip()] or None
        missing = [n for n in names or () if not (directory / f"{n}.txt").exists()]
        if missing:
            raise InputError(f"{directory}: no instance file for {', '.join(missing)}")
        limit = args.time_limit if args.time_limit is not None else 10.0
        try:
            srows = peers.run_peers_solomon(directory, names, limit, sys.stdout, json_path)
        except ProblemError as exc:
            raise InputError(str(exc)) from None
        return 1 if any(r.violations for r in srows) else 0
    try:
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else list(peers.PEER_SIZES)
    except ValueError:
        raise InputError(
            f"--sizes: expected numbers separated by commas, got {args.sizes!r}"
        ) from None
    if any(n < 1 for n in sizes):
        raise InputError(f"--sizes: expected whole numbers >= 1, got {args.sizes!r}")
    solvers = [x.strip() for x in (args.solvers or "").split(",") if x.strip()]
    unknown = [x for x in solvers if x not in ("ours", "vroom", "greedy")]
    if unknown:
        raise InputError(f"--solvers: expected ours, vroom or greedy, got {', '.join(unknown)}")
    if args.stages:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("  stage  %(message)s"))
        stage_log = logging.getLogger("scheduling.stages")
        stage_log.addHandler(handler)
        stage_log.setLevel(logging.INFO)
    if args.curve is not None:
        try:
            limits = [float(x) for x in args.curve.split(",") if x.strip()]
        except ValueError:
            raise InputError(
                f"--curve: expected seconds separated by commas, got {args.curve!r}"
            ) from None
        if any(x <= 0 for x in limits):
            raise InputError(f"--curve: expected seconds > 0, got {args.curve!r}")
        kw = {"solvers": solvers} if solvers else {}
        rows = peers.run_curve(sizes, limits or None, sys.stdout, args.seed, json_path, **kw)
    else:
        kw = {"solvers": solvers} if solvers else {}
        rows = peers.run_peers(sizes, args.time_limit, sys.stdout, args.seed, json_path, **kw)
    return 1 if any(r.violations for r in rows) else 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scheduling", description="The visit planner.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="plan a problem JSON file")
    s.add_argument("problem", metavar="PROBLEM.json")
    s.add_argument(
        "-o", "--output", metavar="PLAN.json", help="write the plan here (default: stdout)"
    )
    s.add_argument(
        "--time-limit", type=float, default=10.0, metavar="S", help="seconds (default 10)"
    )
    s.add_argument("--seed", type=int, default=0, metavar="N")
    s.add_argument(
        "--solutions",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop each search after N solutions: with --seed, the same plan on every run "
        "(as long as N is reached within the time limit)",
    )
    s.add_argument(
        "--first-plan",
        choices=("auto", "vroom", "greedy", "none"),
        default="auto",
        help="the plan the search starts from (default auto: VROOM if pyvroom is installed, "
        "else greedy insertion; none with --solutions)",
    )
    s.set_defaults(func=cmd_solve)

    c = sub.add_parser("check", help="check a plan against its problem")
    c.add_argument("problem", metavar="PROBLEM.json")
    c.add_argument("plan", metavar="PLAN.json")
    c.set_defaults(func=cmd_check)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", required=True)
    so = bsub.add_parser("solomon", help="Solomon VRPTW instances against best known solutions")
    so.add_argument("dir", metavar="DIR")
    so.add_argument("--instances", metavar="C101,R101,...")
    so.add_argument("--time-limit", type=float, default=10.0, metavar="S")
    so.add_argument(
        "--objective",
        choices=("vehicles-then-distance", "distance"),
        default="vehicles-then-distance",
    )
    so.add_argument("--json", metavar="OUT")
    so.add_argument("--workers", type=int, default=2, help="parallel searches (default 2)")
    so.add_argument("--seed", type=int, default=0)
    so.add_argument("--search", metavar="FIRST:META[:REDUCE],...", help="override the portfolio")
    so.set_defaults(func=cmd_bench_solomon)
    sc = bsub.add_parser("scale", help="generated door-to-door problems of growing size")
    sc.add_argument("--sizes", metavar="100,500,...", help="default 100,500,1000,2000,5000")
    sc.add_argument("--time-limit", type=float, default=None, metavar="S", help="default per size")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--json", metavar="OUT")
    sc.add_argument("--workers", type=int, default=2, help="parallel searches (default 2)")
    sc.add_argument("--search", metavar="FIRST:META[:REDUCE],...", help="override the portfolio")
    sc.set_defaults(func=cmd_bench_scale)
    pe = bsub.add_parser(
        "peers", help="ours against VROOM and greedy insertion (or PyVRP and VROOM on Solomon)"
    )
    pe.add_argument("--sizes", metavar="60,300,1000", help="default 60,300,1000")
    pe.add_argument(
        "--time-limit", type=float, default=None, metavar="S", help="default per size; 10 s Solomon"
    )
    pe.add_argument("--json", metavar="OUT")
    pe.add_argument("--seed", type=int, default=0)
    pe.add_argument("--solomon", metavar="DIR", help="Solomon/Homberger files instead")
    pe.add_argument("--instances", metavar="C101,R101,...", help="with --solomon")
    pe.add_argument(
        "--curve",
        nargs="?",
        const="",
        default=None,
        metavar="5,10,30,60",
        help="quality against waiting time: ours and VROOM at each limit "
        "(default 5,10,30,60 s, and 120 s from 1,500 visits)",
    )
    pe.add_argument(
        "--solvers", metavar="ours,vroom,greedy", help="door-to-door: only these solvers"
    )
    pe.add_argument(
        "--stages",
        action="store_true",
        help="print on standard error how long each stage of our solve took",
    )
    pe.set_defaults(func=cmd_bench_peers)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
