"""A waiting claim whose client has gone takes nothing: the job it would have taken
goes to a worker still there, instead of waiting out a lease nobody holds."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.processes import base_env, free_port, login, run_cli, running_server

pytestmark = pytest.mark.slow

WORKER = ("worker@example.com", "worker-password-1")
ANALYST = ("analyst@example.com", "analyst-password-1")


def _token(base_url: str, email: str, password: str) -> str:
    response = login(base_url, email, password)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _start_claim_and_hang_up(port: int, token: str) -> None:
    """Send a long-polling claim, then close the connection without reading."""
    body = json.dumps({"jobTypes": ["TEST"], "max": 1, "waitSeconds": 20}).encode()
    request = (
        f"POST /api/jobs/claim HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        time.sleep(0.5)  # the claim is waiting now


def test_a_claim_whose_client_left_takes_no_job(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = base_env(data_dir, TEST_MODE="true")
    assert run_cli(["db", "upgrade"], env=env, cwd=tmp_path).returncode == 0
    for (email, password), role in ((WORKER, "WORKER"), (ANALYST, "ANALYST")):
        created = run_cli(
            ["users", "create", email, "--role", role, "--password", password], env=env, cwd=tmp_path
        )
        assert created.returncode == 0, created.stderr
    port = free_port()
    with running_server(tmp_path, env, port=port, name="claims") as server:
        worker = _token(server.base_url, *WORKER)
        analyst = _token(server.base_url, *ANALYST)
        _start_claim_and_hang_up(port, worker)
        time.sleep(0.5)  # the server has seen the connection close

        with server.client() as http:
            created = http.post(
                "/api/jobs",
                json={"type": "TEST", "inputPayload": {"id": 1}},
                headers={"Authorization": f"Bearer {analyst}"},
            )
            assert created.status_code == 200, created.text
            job_id = created.json()["jobId"]
            time.sleep(1.5)  # longer than a waiting claim takes to look again

            job = http.get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {analyst}"}).json()[
                "job"
            ]
            assert (job["status"], job["assignments"]) == ("PENDING", [])
            claimed = http.post(
                "/api/jobs/claim",
                json={"jobTypes": ["TEST"], "max": 1},
                headers={"Authorization": f"Bearer {worker}"},
            )
            assert [entry["job"]["id"] for entry in claimed.json()["assignments"]] == [job_id]
