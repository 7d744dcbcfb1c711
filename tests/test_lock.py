"""requirements.lock pins every dependency pyproject.toml declares, at a version it allows."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCKED_EXTRAS = ("test", "lint")


def locked() -> dict[str, str]:
    """Name → version of every pin in requirements.lock, each one with its hashes."""
    text = (REPO / "requirements.lock").read_text()
    pins = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{match[1]} is pinned without a hash"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def test_every_declared_dependency_is_locked_at_an_allowed_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        declared += project["optional-dependencies"][extra]
    pins = locked()
    assert len(pins) > len(declared)  # the dependencies' own dependencies are pinned too
    stale = []
    for line in declared:
        requirement = Requirement(line)
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} (locked: {version})")
    assert not stale, "refresh requirements.lock as README says: " + ", ".join(stale)
