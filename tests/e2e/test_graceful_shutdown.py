"""`reefguide serve` stops in order on SIGTERM (and Ctrl-C): waiting claims answer at
once, the embedded workers finish or release their jobs through the still-listening
server, then it stops accepting, lets in-flight requests finish, closes the database
and Redis, and exits 0. A second signal hurries it: the workers release their jobs
at once, and requests in flight are cut short."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import redis
import socketio

from reefguide.storage.local import WRITE_BUFFER_BYTES
from tests.conftest import _asyncpg_dsn, postgres_server_url
from tests.e2e.processes import Server, base_env, free_port, login, running_server, wait_until
from tests.e2e.procfs import connections_to, is_alive, request_read
from tests.realtime.conftest import Listener

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.com", "admin-password-1")
WORKER = ("worker@example.com", "worker-password-1")
# Every wait of these tests is bounded by one of these.
BOUND_SECONDS = 30.0
STOP_SECONDS = 15.0
# An embedded worker's own grace after SIGTERM (cluster/local.py), then its release.
WORKER_GRACE_SECONDS = 10.0
# A stop that waits for nothing (or is hurried) ends within PROMPT_SECONDS: far less
# than a claim's wait, a worker's grace, or uvicorn's wait for requests (30 s).
CLAIM_WAIT_SECONDS = 50
PROMPT_SECONDS = 5.0


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return base_env(
        data_dir,
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        WORKER_USERNAME=WORKER[0],
        WORKER_PASSWORD=WORKER[1],
        TEST_MODE="true",
        DISABLE_CACHE="true",
        LOG_FORMAT="json",
        **extra,
    )


def _headers(server: Server, email: str, password: str) -> dict[str, str]:
    response = login(server.base_url, email, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _submit(http: httpx.Client, duration: float) -> int:
    response = http.post(
        "/api/jobs", json={"type": "TEST", "inputPayload": {"id": 1, "durationSeconds": duration}}
    )
    assert response.status_code == 200, response.text
    job_id: int = response.json()["jobId"]
    return job_id


def _wait_running(http: httpx.Client, job_id: int) -> None:
    wait_until(
        lambda: http.get(f"/api/jobs/{job_id}").json()["job"]["status"] == "IN_PROGRESS",
        BOUND_SECONDS,
        f"job {job_id} running",
    )


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def _answered(server: Server, method: str, prefix: str, suffix: str = "") -> list[int]:
    """The statuses of the server's access log lines for `method` on paths like `prefix…suffix`."""
    return [
        line["status"]
        for line in server.logs()
        if line.get("event") == "request"
        and line["method"] == method
        and line["path"].startswith(prefix)
        and line["path"].endswith(suffix)
    ]


def _worker_pids(server: Server) -> list[int]:
    return [line["pid"] for line in server.logs() if line.get("event") == "worker process started"]


def _sqlite_job(data_dir: Path, job_id: int) -> tuple[dict[str, Any], list[str | None]]:
    """The job's row and its assignments' outcomes, read after the server has gone."""
    with contextlib.closing(sqlite3.connect(data_dir / "reefguide.db")) as db:
        db.row_factory = sqlite3.Row
        job = dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
        outcomes = [
            row["outcome"]
            for row in db.execute(
                "SELECT outcome FROM job_assignments WHERE job_id = ? ORDER BY id", (job_id,)
            )
        ]
    return job, outcomes


# A request in flight.


def _upload_url(server: Server, name: str) -> str:
    """Where the worker may PUT a result file of a job it claimed."""
    with httpx.Client(base_url=server.base_url, headers=_headers(server, *ADMIN), timeout=10) as admin:
        _submit(admin, 0)
    with httpx.Client(base_url=server.base_url, headers=_headers(server, *WORKER), timeout=10) as worker:
        claimed = worker.post("/api/jobs/claim", json={"jobTypes": ["TEST"], "max": 1})
        (entry,) = claimed.json()["assignments"]
        assignment = entry["assignment"]
        uploads = worker.post(
            f"/api/jobs/assignments/{assignment['id']}/uploads",
            json={"leaseToken": assignment["leaseToken"], "files": [name]},
        )
        assert uploads.status_code == 200, uploads.text
        url: str = uploads.json()["urls"][name]
        return url


def _partial_upload_bytes(data_dir: Path) -> int:
    """The most an upload under way has written so far (local storage writes to a
    temporary `.part` file first)."""
    return max((path.stat().st_size for path in data_dir.rglob("*.part")), default=0)


@dataclass
class _HalfUpload:
    """A result file PUT to local storage, its first half sent and stored, the rest
    held back until `resume`."""

    content: bytes
    resume: threading.Event
    response: Future[httpx.Response]


@contextlib.contextmanager
def _upload_paused_halfway(server: Server, data_dir: Path, name: str) -> Iterator[_HalfUpload]:
    first, rest = os.urandom(2 * WRITE_BUFFER_BYTES), os.urandom(2 * WRITE_BUFFER_BYTES)
    resume = threading.Event()

    def body() -> Iterator[bytes]:
        yield first
        resume.wait(BOUND_SECONDS)
        yield rest

    url = _upload_url(server, name)
    with ThreadPoolExecutor(1) as pool:
        try:
            response = pool.submit(httpx.put, url, content=body(), timeout=BOUND_SECONDS)
            # The server is in the route, with part of the body stored.
            wait_until(
                lambda: _partial_upload_bytes(data_dir) >= WRITE_BUFFER_BYTES, BOUND_SECONDS, "the upload"
            )
            yield _HalfUpload(first + rest, resume, response)
        finally:
            resume.set()


def test_an_upload_in_flight_at_sigterm_is_stored_and_answered_and_new_connections_are_refused(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with (
        running_server(tmp_path, _env(data_dir), port=free_port()) as server,
        _upload_paused_halfway(server, data_dir, "result.bin") as upload,
    ):
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: _refused(server.port), STOP_SECONDS, "new connections refused")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base_url}/api/health", timeout=5)
        assert server.process.poll() is None, "the server waits for the upload"
        upload.resume.set()
        response = upload.response.result(timeout=BOUND_SECONDS)
        code = server.process.wait(STOP_SECONDS)

    assert response.status_code == 200, response.text
    assert code == 0, server.stderr()[-3000:]
    [stored] = list(data_dir.rglob("result.bin"))
    assert stored.read_bytes() == upload.content
    assert _answered(server, "PUT", "/api/storage/") == [200]


def test_a_second_sigterm_cuts_short_a_request_in_flight_and_the_server_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with (
        running_server(tmp_path, _env(data_dir), port=free_port()) as server,
        _upload_paused_halfway(server, data_dir, "result.bin") as upload,
    ):
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: _refused(server.port), STOP_SECONDS, "new connections refused")
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(STOP_SECONDS)
        exited = time.monotonic() - signalled

    assert code == 0, server.stderr()[-3000:]
    assert exited < PROMPT_SECONDS, "no waiting for the upload"
    assert _answered(server, "PUT", "/api/storage/") == [500]
    assert not list(data_dir.rglob("result.bin"))
    assert not list(data_dir.rglob("*.part")), "the partial upload is discarded"
    assert "Application shutdown complete." in server.stderr()
    try:
        status: int | None = upload.response.result(timeout=BOUND_SECONDS).status_code
    except httpx.TransportError:
        status = None  # the connection closed under the rest of the body, before the 500 was read
    assert status in {500, None}


def _claim_request(port: int, token: str, wait_seconds: float) -> bytes:
    body = json.dumps({"jobTypes": ["TEST"], "max": 1, "waitSeconds": wait_seconds}).encode()
    head = (
        f"POST /api/jobs/claim HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_response(connection: socket.socket) -> tuple[int, Any]:
    """Status and JSON body of the one response on `connection` (closed after it)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_waiting_claim_answers_an_empty_list_at_once_on_sigterm_and_the_server_exits_0(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, _env(tmp_path / "data"), port=free_port()) as server:
        token = _headers(server, *WORKER)["Authorization"].removeprefix("Bearer ")
        with socket.create_connection(("127.0.0.1", server.port), timeout=BOUND_SECONDS) as connection:
            connection.sendall(_claim_request(server.port, token, CLAIM_WAIT_SECONDS))
            client_port = connection.getsockname()[1]
            wait_until(lambda: request_read(server.port, client_port), BOUND_SECONDS, "the claim read")
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            status, answer = _read_response(connection)
            answered = time.monotonic() - signalled
        code = server.process.wait(STOP_SECONDS)
        exited = time.monotonic() - signalled

    assert (status, answer) == (200, {"assignments": []})
    assert answered < PROMPT_SECONDS
    assert code == 0, server.stderr()[-3000:]
    assert exited < PROMPT_SECONDS


# Embedded workers.


async def test_on_sigterm_an_embedded_workers_running_job_finishes_and_is_heard_of_before_the_server_exits(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir, REEFGUIDE_EMBEDDED_WORKERS="true")
    socket_client = socketio.AsyncClient(reconnection=False)
    listener = Listener(socket_client)
    socket_client.on("job:update", listener.on_update)
    heard_before_disconnect: list[dict[str, Any]] = []
    disconnected = asyncio.Event()

    def on_disconnect(*_reason: object) -> None:
        heard_before_disconnect.extend(listener.updates)
        disconnected.set()

    socket_client.on("disconnect", on_disconnect)
    with running_server(tmp_path, env, port=free_port()) as server:
        headers = _headers(server, *ADMIN)
        try:
            await socket_client.connect(
                server.base_url, auth={"token": headers["Authorization"][7:]}, wait_timeout=BOUND_SECONDS
            )
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as http:
                job_id = _submit(http, 3)
                await asyncio.to_thread(_wait_running, http, job_id)
            workers = _worker_pids(server)
            code, seconds = await asyncio.to_thread(server.stop, STOP_SECONDS)
            async with asyncio.timeout(BOUND_SECONDS):
                await disconnected.wait()
        finally:
            if socket_client.connected:
                await socket_client.disconnect()

    assert code == 0, server.stderr()[-3000:]
    assert seconds < STOP_SECONDS
    job, outcomes = _sqlite_job(data_dir, job_id)
    assert (job["status"], outcomes) == ("SUCCEEDED", ["SUCCEEDED"])
    assert _answered(server, "POST", "/api/jobs/assignments/", "/result") == [200]
    assert workers
    assert not any(is_alive(pid) for pid in workers), "stopped before the server exited"
    # Socket.IO connections are closed after the workers' stop, so its news goes out.
    assert (job_id, "SUCCEEDED") in [(u["jobId"], u["status"]) for u in heard_before_disconnect]


def test_on_ctrl_c_an_embedded_worker_releases_a_long_job_and_the_server_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir, REEFGUIDE_EMBEDDED_WORKERS="true")
    with running_server(tmp_path, env, port=free_port()) as server:
        with httpx.Client(base_url=server.base_url, headers=_headers(server, *ADMIN), timeout=10) as http:
            job_id = _submit(http, 60)
            _wait_running(http, job_id)
            before = http.get(f"/api/jobs/{job_id}").json()["job"]
        workers = _worker_pids(server)
        server.process.send_signal(signal.SIGINT)
        code = server.process.wait(WORKER_GRACE_SECONDS + STOP_SECONDS)

    assert code == 0, server.stderr()[-3000:]
    job, outcomes = _sqlite_job(data_dir, job_id)
    assert (job["status"], outcomes) == ("PENDING", ["RELEASED"])
    attempts_left = before["max_attempts"] - before["attempt_count"]
    assert job["max_attempts"] - job["attempt_count"] == attempts_left + 1, (
        "the released attempt is not counted"
    )
    assert _answered(server, "POST", "/api/jobs/assignments/", "/release") == [200]
    assert workers
    assert not any(is_alive(pid) for pid in workers), "stopped before the server exited"


def test_a_second_sigterm_makes_an_embedded_worker_release_its_job_at_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir, REEFGUIDE_EMBEDDED_WORKERS="true")
    with running_server(tmp_path, env, port=free_port()) as server:
        with httpx.Client(base_url=server.base_url, headers=_headers(server, *ADMIN), timeout=10) as http:
            job_id = _submit(http, 60)
            _wait_running(http, job_id)
        workers = _worker_pids(server)
        server.process.send_signal(signal.SIGTERM)
        # The worker is in its grace now, its job still running.
        wait_until(
            lambda: "stopping: no more claims" in server.stderr(), BOUND_SECONDS, "the worker stopping"
        )
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(STOP_SECONDS)
        exited = time.monotonic() - signalled

    assert code == 0, server.stderr()[-3000:]
    assert exited < PROMPT_SECONDS, "no waiting out the worker's grace"
    job, outcomes = _sqlite_job(data_dir, job_id)
    assert (job["status"], outcomes) == ("PENDING", ["RELEASED"])
    assert workers
    assert not any(is_alive(pid) for pid in workers), "stopped before the server exited"
    assert "Application shutdown complete." in server.stderr()
    assert "Traceback" not in server.stderr()


# Connections to the database and Redis.


def _database_sessions(database: str) -> int:
    async def count() -> int:
        server = postgres_server_url()
        assert server is not None
        connection = await asyncpg.connect(_asyncpg_dsn(server))
        try:
            sessions: int = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
            return sessions
        finally:
            await connection.close()

    return asyncio.run(count())


def _redis_clients(client: redis.Redis) -> set[str]:
    """The addresses (`host:port`) of every client connection Redis has open."""
    return {entry["addr"] for entry in client.client_list()}


async def _job_row(database_url: str, job_id: int) -> tuple[str, list[str | None]]:
    connection = await asyncpg.connect(database_url)
    try:
        status: str = await connection.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
        rows = await connection.fetch(
            "SELECT outcome FROM job_assignments WHERE job_id = $1 ORDER BY id", job_id
        )
        return status, [row["outcome"] for row in rows]
    finally:
        await connection.close()


def test_on_postgresql_with_redis_no_connection_outlives_the_server(
    empty_database: str, redis_url: str, tmp_path: Path
) -> None:
    redis_address = urlsplit(redis_url)
    if redis_address.hostname != "127.0.0.1":
        pytest.skip("tells the server's Redis connections by their ports on 127.0.0.1")
    database = empty_database.rsplit("/", 1)[1]
    channel = f"reefguide-test-{uuid.uuid4().hex}"
    env = _env(
        tmp_path / "data",
        DATABASE_URL=empty_database,
        REDIS_URL=redis_url,
        REEFGUIDE_REDIS_CHANNEL=channel,
        REEFGUIDE_EMBEDDED_WORKERS="true",
    )
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:

        def subscribers() -> int:
            [(_, count)] = client.pubsub_numsub(channel)
            return int(count)

        with running_server(tmp_path, env, port=free_port()) as server:
            with httpx.Client(base_url=server.base_url, headers=_headers(server, *ADMIN), timeout=10) as http:
                job_id = _submit(http, 2)
                _wait_running(http, job_id)
            wait_until(lambda: subscribers() == 1, BOUND_SECONDS, "the server listening on its channel")
            ours = {
                f"127.0.0.1:{port}" for port in connections_to(server.process.pid, redis_address.port or 6379)
            }
            assert ours
            assert ours <= _redis_clients(client), "Redis sees the server's connections"
            assert _database_sessions(database) > 0
            code, _seconds = server.stop(STOP_SECONDS)

        assert code == 0, server.stderr()[-3000:]
        assert "Application shutdown complete." in [line.get("event") for line in server.logs()]
        wait_until(lambda: _database_sessions(database) == 0, STOP_SECONDS, "no session on the database")
        wait_until(lambda: not ours & _redis_clients(client), STOP_SECONDS, "no connection to Redis")
        assert subscribers() == 0
    assert asyncio.run(_job_row(empty_database, job_id)) == ("SUCCEEDED", ["SUCCEEDED"])
