"""The wall: the manager imports nothing of the server but the job type declarations
and the compute backend protocol (the CLI hands it a backend)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.worker.test_wall import FORBIDDEN_MODULES, FORBIDDEN_PACKAGES, FORBIDDEN_SUFFIXES

MANAGER_MODULES = (
    "reefguide.manager",
    "reefguide.manager.command",
    "reefguide.manager.config",
    "reefguide.manager.formula",
    "reefguide.manager.health",
    "reefguide.manager.loop",
    "reefguide.manager.schemas",
)


def test_importing_the_manager_loads_nothing_of_the_server() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(MANAGER_MODULES)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = [
        name
        for name in json.loads(done.stdout)
        if name.startswith(("reefguide", "boto3", *FORBIDDEN_PACKAGES))
    ]
    assert "reefguide.jobs.types" in loaded
    assert "reefguide.cluster.base" in loaded
    # No backend either: which one runs is the caller's choice (and boto3 is slow to load).
    backends = {name for name in loaded if name.startswith(("reefguide.cluster.", "boto3"))}
    offending = [
        name
        for name in loaded
        if name in FORBIDDEN_MODULES
        or name in FORBIDDEN_PACKAGES
        or name.startswith(tuple(f"{package}." for package in FORBIDDEN_PACKAGES))
        or (name.startswith("reefguide.") and name.endswith(FORBIDDEN_SUFFIXES))
        or (name in backends and name != "reefguide.cluster.base")
    ]
    assert offending == []
