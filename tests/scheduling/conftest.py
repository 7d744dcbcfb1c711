"""Fixtures for the planner tests; factories live in planner_factories.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Make planner_factories importable whatever pytest's import mode is.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def solomon_dir() -> Path:
    """The shared Solomon instances next to the repository, or skip."""
    repo = Path(__file__).resolve().parents[2]
    path = repo.parent / "shared" / "benchmarks" / "solomon"
    if not (path / "C101.txt").exists():
        pytest.skip(f"Solomon instances not found at {path} (the shared/ folder beside the repo)")
    return path
