"""What the benchmarks measure: memory of processes running at the same time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scheduling.bench import TreeMemory

MB = 1024

# A parent that starts two children holding 80 MB each at the same time, says "ready", and
# ends them when its stdin closes.
PARENT = """
import subprocess, sys
child = "x = b'x' * (80 << 20); print('ready', flush=True); import sys; sys.stdin.read()"
kids = [
    subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for _ in range(2)
]
for k in kids:
    k.stdout.readline()
print("ready", flush=True)
sys.stdin.read()
for k in kids:
    k.stdin.close()
    k.wait()
"""


@pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc smaps_rollup"
)
def test_tree_memory_adds_up_children_that_run_at_the_same_time():
    # Leaving the block closes the parent's stdin, which ends the children, and waits.
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout.readline().strip() == "ready"
        memory = TreeMemory(parent.pid)
        memory.sample()
    # Each child alone holds 80 MB: the largest child (what RUSAGE_CHILDREN reports) would
    # be about 90 MB, the two together at least 160 MB.
    assert memory.peak_pss_kb >= 160 * MB
    assert memory.peak_rss_kb >= memory.peak_pss_kb
    assert memory.samples == 1
