"""`reefguide manager` as a real process against a small fake API on a loopback port:
help, one dry-run poll, a bad setting, the API down, and a run stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from reefguide.jobs.types import job_types
from tests.e2e.processes import REEFGUIDE, base_env, free_port, log_lines, run_cli

pytestmark = pytest.mark.slow

API_KEY = "rg_manager_key"
BOUND_SECONDS = 30.0


class FakeApi:
    """GET /api/jobs/stats with `pending`, for requests carrying API_KEY."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append((self.path, self.headers.get("x-api-key")))
                if self.path != "/api/jobs/stats":
                    self._send(404, {"message": "Not found"})
                elif self.headers.get("x-api-key") != API_KEY:
                    self._send(401, {"message": "Invalid API key"})
                else:
                    idle = {"inProgress": 0, "oldestPendingAgeSeconds": None, "lastHour": {}}
                    self._send(
                        200,
                        {
                            "jobTypes": {
                                name: {**idle, "pending": api.pending.get(name, 0)} for name in job_types()
                            }
                        },
                    )

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    thread = threading.Thread(target=api.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
        thread.join(BOUND_SECONDS)


def manager_env(api_url: str, **extra: str) -> dict[str, str]:
    return base_env(
        None,
        API_ENDPOINT=api_url,
        MANAGER_API_KEY=API_KEY,
        LOG_FORMAT="json",
        POLL_INTERVAL_MS="500",
        **extra,
    )


def test_help_lists_the_options(tmp_path: Path) -> None:
    done = run_cli(["manager", "--help"], env=base_env(None), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in ("--config", "--backend", "--dry-run", "--once"):
        assert option in done.stdout


def test_one_dry_run_poll_logs_the_decision_launches_nothing_and_exits_0(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.pending = {"TEST": 10, "ADRIA_MODEL_RUN": 1}

    done = run_cli(["manager", "--dry-run", "--once"], env=manager_env(fake_api.url), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = log_lines(done.stderr)
    decisions = {line["pool"]: line for line in lines if line["event"] == "capacity decision"}
    assert {
        name: (d["pending"], d["target"], d["launches"], d["dry_run"]) for name, d in decisions.items()
    } == {
        "default": (10, 4, 4, True),
        "adria_model_run": (1, 1, 1, True),
    }
    skipped = [(line["pool"], line["count"]) for line in lines if line["event"] == "dry run: launch skipped"]
    assert skipped == [("default", 4), ("adria_model_run", 1)]
    [started] = [line for line in lines if line["event"] == "manager started"]
    assert started["backend"] == "local"
    assert fake_api.requests == [("/api/jobs/stats", API_KEY)]
    assert API_KEY not in done.stderr


def test_pools_from_a_config_file(fake_api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "manager.toml").write_text('[pools.tests]\njob_types = ["TEST"]\nmax_capacity = 2\n')
    fake_api.pending = {"TEST": 100, "ADRIA_MODEL_RUN": 100}

    done = run_cli(
        ["manager", "--dry-run", "--once", "--config", "manager.toml"],
        env=manager_env(fake_api.url),
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    decisions = [line for line in log_lines(done.stderr) if line["event"] == "capacity decision"]
    assert [(d["pool"], d["pending"], d["launches"]) for d in decisions] == [("tests", 100, 2)]


def test_an_invalid_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli(
        ["manager", "--once"], env=manager_env("http://127.0.0.1:9", TEST_FACTOR="0.5"), cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "Invalid setting TEST_FACTOR: Input should be greater than or equal to 1"


def test_one_poll_with_the_api_down_is_logged_and_exits_1(tmp_path: Path) -> None:
    done = run_cli(["manager", "--once"], env=manager_env(f"http://127.0.0.1:{free_port()}"), cwd=tmp_path)
    assert done.returncode == 1
    events = [line["event"] for line in log_lines(done.stderr)]
    assert "cannot read the job backlog" in events
    assert "Traceback" not in done.stderr


def test_a_running_manager_answers_health_checks_and_stops_on_sigterm(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    port = free_port()
    stderr_path = tmp_path / "manager.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(REEFGUIDE), "manager", "--dry-run"],
            env=manager_env(fake_api.url, REEFGUIDE_MANAGER_PORT=str(port), PORT="1"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            health = wait_for_health(f"http://127.0.0.1:{port}/health", process)
            wait_until(lambda: len(fake_api.requests) >= 2, process)
            process.send_signal(signal.SIGTERM)
            code = process.wait(BOUND_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(BOUND_SECONDS)
    assert (health.status_code, health.text) == (200, "OK")
    assert code == 0
    events = [line["event"] for line in log_lines(stderr_path.read_text())]
    assert events[-1] == "manager stopped"
    assert "health check listening" in events


def wait_until(condition: Any, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert process.poll() is None, f"the manager exited with {process.returncode}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # between checks of the condition, not instead of it


def wait_for_health(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    answers: list[httpx.Response] = []

    def answered() -> bool:
        try:
            answers.append(httpx.get(url, timeout=2))
        except httpx.TransportError:
            return False
        return True

    wait_until(answered, process)
    return answers[-1]
