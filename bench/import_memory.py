"""Peak memory and time of reading hostile spreadsheets, each in a fresh process.

    .venv/bin/python bench/import_memory.py

Prints, per file: its size, what the reader answered, the Python heap peak (tracemalloc) and
the process's peak resident memory above what it held before the read. The worst file's figure
is what docs/performance.md ("Imports") quotes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = (
    "bomb",
    "single_huge_cell",
    "many_shared_strings",
    "wide_claim",
    "bad_shared_string",
    "text_in_number_cell",
    "lying_sizes",
    "lying_sizes_both",
)


def measure(name: str) -> dict[str, object]:
    """Build one hostile file, read it through the import reader, return the figures."""
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    from tests import hostile_xlsx
    from volunteer_hub import create_app
    from volunteer_hub.services.intake.imports import ImportFileError, read_table

    data = getattr(hostile_xlsx, name)()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.test_request_context():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        try:
            rows = read_table(f"{name}.xlsx", data)
            answer = f"{len(rows)} rows, {max((len(r) for r in rows), default=0)} columns"
        except ImportFileError as exc:
            answer = "refused: " + str(exc)[:60]
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "file": name,
        "bytes": len(data),
        "answer": answer,
        "heap_peak_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round((after - before) / 1024, 1),
        "seconds": round(elapsed, 3),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
        return
    print(f"{'file':<22}{'size':>10}{'heap peak':>12}{'RSS growth':>12}{'time':>9}  answer")
    worst = 0.0
    for name in FILES:
        command = [sys.executable, str(Path(__file__).resolve()), "--one", name]
        # Our own interpreter and script, with a name from FILES: nothing untrusted runs.
        out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
        r = json.loads(out.stdout.strip().splitlines()[-1])
        worst = max(worst, float(r["heap_peak_mb"]), float(r["rss_growth_mb"]))
        print(
            f"{r['file']:<22}{r['bytes'] / 1024:>8.0f}KB{r['heap_peak_mb']:>10}MB"
            f"{r['rss_growth_mb']:>10}MB{r['seconds']:>8}s  {r['answer']}"
        )
    print(f"worst peak: {worst} MB")


if __name__ == "__main__":
    main()
