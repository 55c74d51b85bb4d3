"""`reefguide serve` with nothing else started runs submitted jobs: it starts local
workers for itself (with a key it makes for them), and stops them when it stops."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from reefguide.cluster.embedded import EMBEDDED_ACCOUNT
from tests.e2e.processes import Server, base_env, free_port, login, running_server
from tests.e2e.procfs import child_pids, is_alive
from tests.worker.conftest import Api

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.com", "admin-password-1")
BOUND_SECONDS = 60.0


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return base_env(
        data_dir,
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        TEST_MODE="true",
        DISABLE_CACHE="true",
        LOG_FORMAT="json",
        **extra,
    )


def _embedded_keys(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "reefguide.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM api_keys JOIN users ON users.id = api_keys.user_id WHERE users.email = ?",
            (EMBEDDED_ACCOUNT,),
        ).fetchone()
    return int(count)


@pytest.fixture
def api_for() -> Iterator[Callable[[Server], Api]]:
    """An admin's client of a server (its unfinished jobs cancelled afterwards)."""
    made: list[tuple[Api, httpx.Client]] = []

    def make(server: Server) -> Api:
        token = login(server.base_url, *ADMIN).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        http = httpx.Client(base_url=server.base_url, headers=headers, timeout=10)
        made.append((Api(server, http), http))
        return made[-1][0]

    yield make
    for api, http in made:
        with contextlib.suppress(httpx.HTTPError):  # the test may have stopped the server
            api.cancel_unfinished()
        http.close()


def test_a_fresh_server_runs_a_submitted_job_by_itself_and_stops_its_workers(
    tmp_path: Path, api_for: Callable[[Server], Api]
) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir, REEFGUIDE_EMBEDDED_WORKERS="true")
    with running_server(tmp_path, env, port=free_port()) as server:
        api = api_for(server)
        job_id = api.submit(duration=1)
        job = api.wait_for_status(job_id, "SUCCEEDED", timeout=BOUND_SECONDS)
        assert len(job["assignments"]) == 1
        [started] = [line for line in server.logs() if line["event"] == "embedded workers on"]
        assert started["job_types"] == ["TEST"]
        launched = [line for line in server.logs() if line["event"] == "workers launched"]
        assert [line["pool"] for line in launched] == ["embedded"]
        workers = child_pids(server.process.pid)
        assert workers, "the launched worker is still alive, waiting for more work"
        assert _embedded_keys(data_dir) == 1
        code, _seconds = server.stop()
    assert code == 0
    deadline = time.monotonic() + 10
    while any(is_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # between checks of the condition, not instead of it
    assert not any(is_alive(pid) for pid in workers), "the server stopped its workers"
    assert _embedded_keys(data_dir) == 0, "the workers' key went with them"


def test_with_no_embedded_workers_a_job_waits_for_a_worker(
    tmp_path: Path, api_for: Callable[[Server], Api]
) -> None:
    env = _env(tmp_path / "data", REEFGUIDE_EMBEDDED_WORKERS="true")
    with running_server(tmp_path, env, ["--no-embedded-workers"], port=free_port()) as server:
        api = api_for(server)
        job_id = api.submit(duration=0)
        time.sleep(3)  # several of the embedded manager's polls, had it been running
        assert api.job(job_id)["status"] == "PENDING"
        assert not [line for line in server.logs() if line["event"] == "embedded workers on"]
        assert not child_pids(server.process.pid)


def test_an_idle_server_has_no_worker_processes(tmp_path: Path) -> None:
    """Workers start on demand."""
    env = _env(tmp_path / "data", REEFGUIDE_EMBEDDED_WORKERS="true")
    with running_server(tmp_path, env, port=free_port()) as server:
        time.sleep(3)
        assert not child_pids(server.process.pid)
