"""The planner is a library: importing any of its modules pulls in nothing of the app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FORBIDDEN = ("flask", "sqlalchemy", "twilio", "apscheduler", "volunteer_hub")

# Runs in a fresh interpreter: this test process has imported the app already.
PROBE = """
import importlib, json, pkgutil, sys
import scheduling
names = sorted(
    m.name for m in pkgutil.walk_packages(scheduling.__path__, "scheduling.")
)
for name in names:
    importlib.import_module(name)
loaded = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"modules": names, "loaded": loaded}))
"""


def test_every_scheduling_module_imports_without_the_app_or_its_frameworks():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    # Guard against a probe that silently imports nothing.
    assert {"scheduling.solver", "scheduling.check", "scheduling.__main__"} <= set(seen["modules"])
    assert sorted(set(FORBIDDEN) & set(seen["loaded"])) == []
