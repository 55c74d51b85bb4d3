"""`reefguide manager` with the local backend against a real `reefguide serve`: it
sees the backlog, starts `reefguide worker` processes that run the jobs, and stops
them when it is stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import REEFGUIDE, Server, base_env, free_port, log_lines, login, running_server
from tests.worker.conftest import Api

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.com", "admin-password-1")
WORKER = ("worker@example.com", "worker-password-1")
BOUND_SECONDS = 60.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = base_env(
        tmp_path / "data",
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        WORKER_USERNAME=WORKER[0],
        WORKER_PASSWORD=WORKER[1],
        TEST_MODE="true",
        DISABLE_CACHE="true",
        LOG_FORMAT="json",
    )
    with running_server(tmp_path, env, port=free_port()) as started:
        yield started


@pytest.fixture
def api(server: Server) -> Iterator[Api]:
    token = login(server.base_url, *ADMIN).json()["token"]
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as http:
        api = Api(server, http)
        try:
            yield api
        finally:
            api.cancel_unfinished()


def test_the_manager_starts_local_workers_that_run_the_backlog(
    api: Api, server: Server, tmp_path: Path
) -> None:
    jobs = [api.submit(duration=0.5) for _ in range(3)]
    (tmp_path / "manager.toml").write_text('[pools.tests]\njob_types = ["TEST"]\nmax_capacity = 2\n')
    env = base_env(
        None,
        API_ENDPOINT=server.base_url,
        # The original's names for the manager's login; a WORKER account may read the stats.
        API_USERNAME=WORKER[0],
        API_PASSWORD=WORKER[1],
        # What the workers it starts log in with.
        WORKER_USERNAME=WORKER[0],
        WORKER_PASSWORD=WORKER[1],
        IDLE_TIMEOUT_MS="1000",
        REEFGUIDE_WORKER_CLAIM_WAIT_SECONDS="1",
        POLL_INTERVAL_MS="500",
        REEFGUIDE_MANAGER_PORT=str(free_port()),
        LOG_FORMAT="json",
    )
    stderr_path = tmp_path / "manager.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(REEFGUIDE), "manager", "--config", "manager.toml", "--backend", "local"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            for job_id in jobs:
                api.wait_for_status(job_id, "SUCCEEDED", timeout=BOUND_SECONDS)
            process.send_signal(signal.SIGTERM)
            code = process.wait(BOUND_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(BOUND_SECONDS)

    assert code == 0
    lines = log_lines(stderr_path.read_text())
    first = next(line for line in lines if line["event"] == "capacity decision")
    # 2.6·ln(3/3.3 + 1) = 1.68 -> 2
    assert (first["pool"], first["pending"], first["target"], first["launches"]) == ("tests", 3, 2, 2)
    launched = [line for line in lines if line["event"] == "workers launched"]
    assert sum(line["count"] for line in launched) >= 2
    assert lines[-1]["event"] == "manager stopped"
    assert WORKER[1] not in stderr_path.read_text()
    # Every worker it started has ended with it.
    pids = [int(pid) for line in launched for pid in line["workers"]]
    deadline = time.monotonic() + BOUND_SECONDS
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "a worker outlived the manager"
        time.sleep(0.05)  # between checks of the condition, not instead of it


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
