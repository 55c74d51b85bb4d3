"""The wall: the worker imports nothing of the server but the job type declarations."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN_MODULES = ("reefguide.app", "reefguide.settings")
FORBIDDEN_PACKAGES = ("reefguide.db", "fastapi", "sqlalchemy", "starlette")
FORBIDDEN_SUFFIXES = (".models", ".service", ".routes")


def test_importing_the_worker_loads_nothing_of_the_server() -> None:
    code = (
        "import json, sys\n"
        "import reefguide.worker, reefguide.worker.command, reefguide.worker.settings\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = [name for name in json.loads(done.stdout) if name.startswith(("reefguide", *FORBIDDEN_PACKAGES))]
    assert "reefguide.jobs.types" in loaded
    offending = [
        name
        for name in loaded
        if name in FORBIDDEN_MODULES
        or name.startswith(tuple(f"{package}." for package in FORBIDDEN_PACKAGES))
        or name in FORBIDDEN_PACKAGES
        or (name.startswith("reefguide.") and name.endswith(FORBIDDEN_SUFFIXES))
    ]
    assert offending == []
