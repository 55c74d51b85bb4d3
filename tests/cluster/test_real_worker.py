"""The local backend with its real command: `reefguide worker` in a child process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from reefguide.cluster.base import Pool
from reefguide.cluster.build import worker_environment
from reefguide.cluster.local import LocalBackend
from reefguide.settings import Settings
from tests.cluster.conftest import eventually
from tests.e2e.processes import free_port

pytestmark = pytest.mark.slow

TEST_POOL = Pool(name="reefguide", job_types=("TEST",))


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


async def test_a_launched_reefguide_worker_gets_its_environment_and_exits_when_idle(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, log_format="json", worker_api_key="not-checked")  # type: ignore[call-arg]
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: every claim fails
    env = worker_environment(
        settings, api_endpoint=nobody, base={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    )
    backend = LocalBackend(
        env={**env, "IDLE_TIMEOUT_MS": "300"}, cwd=tmp_path, supervise_interval_seconds=0.1
    )
    try:
        [pid] = await backend.launch(TEST_POOL)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[:4] == [sys.executable.encode(), b"-m", b"reefguide", b"worker"]
        child = proc_environ(int(pid))
        assert child["API_ENDPOINT"] == nobody
        assert child["JOB_TYPES"] == "TEST"
        assert child["WORKER_API_KEY"] == "not-checked"
        assert child["IDLE_TIMEOUT_MS"] == "300"

        async def ended() -> bool:
            return await backend.running(TEST_POOL) == []

        await eventually(ended, timeout=30)
        messages = [event["message"] for event in (await backend.status())["events"]]
        assert f"worker pid {pid} of pool reefguide exited with code 0" in messages
    finally:
        await backend.close()
