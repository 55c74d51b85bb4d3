"""A real `reefguide serve` for the worker's end-to-end tests, and `reefguide worker`
processes against it.

One server serves the whole session (a start costs seconds): leases of 2 s swept
every 0.2 s, so a dead worker's job comes back quickly; no cache, so equal inputs
make distinct jobs; no rate limits. Each test gets an `api` whose teardown cancels
the jobs it left unfinished, so no test sees another's work.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import structlog

from reefguide.worker.logs import configure_logging
from tests.e2e.processes import REEFGUIDE, Server, base_env, free_port, log_lines, login, running_server

ADMIN = ("admin@example.com", "admin-password-1")
WORKER = ("worker@example.com", "worker-password-1")
LEASE_SECONDS = 2
WAIT_SECONDS = 15.0
UNFINISHED = ("PENDING", "IN_PROGRESS")


@pytest.fixture(autouse=True)
def worker_logging() -> Iterator[None]:
    """The worker's own log set-up (plain tracebacks), undone after the test."""
    config, httpx_level = structlog.get_config(), logging.getLogger("httpx").level
    configure_logging("INFO", "console")
    try:
        yield
    finally:
        structlog.configure(**config)
        logging.getLogger("httpx").setLevel(httpx_level)


@pytest.fixture(scope="session")
def server_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-e2e") / "data"


@pytest.fixture(scope="session")
def server(server_data_dir: Path) -> Iterator[Server]:
    workdir = server_data_dir.parent
    env = base_env(
        server_data_dir,
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        WORKER_USERNAME=WORKER[0],
        WORKER_PASSWORD=WORKER[1],
        TEST_MODE="true",
        DISABLE_CACHE="true",
        JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        REEFGUIDE_SWEEP_INTERVAL_SECONDS="0.2",
        LOG_FORMAT="json",
    )
    with running_server(workdir, env, port=free_port()) as started:
        yield started


@dataclass
class Api:
    """The server as an admin (who may submit, read and cancel any job) sees it."""

    server: Server
    http: httpx.Client
    submitted: list[int] = field(default_factory=list)

    def submit(self, duration: float = 0, type_name: str = "TEST") -> int:
        payload = {"id": len(self.submitted) + 1, "durationSeconds": duration}
        response = self.http.post("/api/jobs", json={"type": type_name, "inputPayload": payload})
        assert response.status_code == 200, response.text
        job_id: int = response.json()["jobId"]
        self.submitted.append(job_id)
        return job_id

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.http.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()["job"]
        return job

    def wait_for(
        self, job_id: int, condition: Callable[[dict[str, Any]], bool], timeout: float = WAIT_SECONDS
    ) -> dict[str, Any]:
        """The job as soon as `condition` holds of it; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} never got there; last seen: {job}")
            time.sleep(0.05)  # between polls of the condition, not instead of it

    def wait_for_status(self, job_id: int, status: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        return self.wait_for(job_id, lambda job: job["status"] == status, timeout)

    def download(self, job_id: int) -> dict[str, str]:
        response = self.http.get(f"/api/jobs/{job_id}/download")
        assert response.status_code == 200, response.text
        files: dict[str, str] = response.json()["files"]
        return files

    def cancel(self, job_id: int) -> None:
        response = self.http.post(f"/api/jobs/{job_id}/cancel")
        assert response.status_code == 200, response.text

    def cancel_unfinished(self) -> None:
        for job_id in self.submitted:
            if self.job(job_id)["status"] in UNFINISHED:
                self.http.post(f"/api/jobs/{job_id}/cancel")


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


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    _files: list[IO[bytes]]

    def logs(self) -> list[dict[str, Any]]:
        return log_lines(self.stderr_path.read_text())

    def events(self) -> list[str]:
        return [str(line.get("event")) for line in self.logs()]

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        return self.process.wait(timeout)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(WAIT_SECONDS)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for file in self._files:
            file.close()


def worker_env(server: Server, **extra: str) -> dict[str, str]:
    env = {
        "API_ENDPOINT": server.base_url,
        "WORKER_USERNAME": WORKER[0],
        "WORKER_PASSWORD": WORKER[1],
        "LOG_FORMAT": "json",
        "POLL_INTERVAL_MS": "100",
        "REEFGUIDE_WORKER_CLAIM_WAIT_SECONDS": "1",
    }
    env.update(extra)
    return base_env(None, **env)


@contextmanager
def worker_process(
    workdir: Path, env: Mapping[str, str], args: Sequence[str] = (), *, name: str = "worker"
) -> Iterator[WorkerProcess]:
    """`reefguide worker ARGS`, killed on the way out if it is still running."""
    stdout = (workdir / f"{name}.stdout").open("wb")
    stderr_path = workdir / f"{name}.stderr"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        [str(REEFGUIDE), "worker", *args],
        env=dict(env),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )
    worker = WorkerProcess(process, stderr_path, [stdout, stderr])
    try:
        yield worker
    finally:
        worker.close()


def in_progress_with_progress(job: dict[str, Any]) -> bool:
    return job["status"] == "IN_PROGRESS" and any(
        (assignment["progress"] or 0) > 0 for assignment in job["assignments"]
    )


def is_running(job: dict[str, Any]) -> bool:
    return job["status"] == "IN_PROGRESS"
