"""With REDIS_URL, rooms span API processes: two real `reefguide serve` processes on
one PostgreSQL database and one Redis, a client connected to one of them hears of a
job submitted, run and completed entirely through the other."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
import socketio

from reefguide.auth.keys import KeyPair
from tests.e2e.processes import base_env, free_port, running_server
from tests.realtime.conftest import WAIT_SECONDS, Listener

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.com", "admin-password-1")
WORKER = ("worker@example.com", "worker-password-1")
ANALYST = ("analyst@example.com", "analyst-password-1")


async def wait_for_listeners(redis_url: str, channel: str, count: int) -> None:
    """Until `count` processes listen on the channel (each subscribes as it starts)."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                [(_, listening)] = await client.pubsub_numsub(channel)
                if listening >= count:
                    return
                await asyncio.sleep(0.05)  # between checks of the condition
    finally:
        await client.aclose()


async def token(http: httpx.AsyncClient, email: str, password: str) -> str:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    value: str = response.json()["token"]
    return value


@pytest.fixture
async def socket_client() -> AsyncIterator[socketio.AsyncClient]:
    client = socketio.AsyncClient(reconnection=False)
    yield client
    if client.connected:
        await client.disconnect()


async def test_a_client_of_one_process_hears_a_job_completed_through_another(
    empty_database: str,
    redis_url: str,
    key_pair: KeyPair,
    tmp_path: Path,
    socket_client: socketio.AsyncClient,
) -> None:
    # A channel of this test's own: Redis pub/sub channels are shared by every database.
    channel = f"reefguide-test-{uuid.uuid4().hex}"
    settings: dict[str, Any] = {
        "DATABASE_URL": empty_database,
        "REDIS_URL": redis_url,
        "REEFGUIDE_REDIS_CHANNEL": channel,
        "JWT_PRIVATE_KEY": key_pair.private_pem(),
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "WORKER_USERNAME": WORKER[0],
        "WORKER_PASSWORD": WORKER[1],
        "TEST_MODE": "true",
        "LOG_FORMAT": "json",
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    # One after the other: the first start migrates the database.
    with (
        running_server(tmp_path / "a", base_env(tmp_path / "a" / "data", **settings), port=free_port()) as a,
        running_server(tmp_path / "b", base_env(tmp_path / "b" / "data", **settings), port=free_port()) as b,
    ):
        await wait_for_listeners(redis_url, channel, 2)
        async with httpx.AsyncClient(base_url=b.base_url, timeout=WAIT_SECONDS) as http:
            registered = await http.post(
                "/api/auth/register", json={"email": ANALYST[0], "password": ANALYST[1]}
            )
            assert registered.status_code == 200, registered.text
            analyst = {"Authorization": f"Bearer {await token(http, *ANALYST)}"}
            worker = {"Authorization": f"Bearer {await token(http, *WORKER)}"}

            listener = Listener(socket_client)
            socket_client.on("job:update", listener.on_update)
            await socket_client.connect(
                a.base_url, auth={"token": analyst["Authorization"][7:]}, wait_timeout=WAIT_SECONDS
            )

            submitted = await http.post(
                "/api/jobs", json={"type": "TEST", "inputPayload": {"id": 1}}, headers=analyst
            )
            job_id = submitted.json()["jobId"]
            claimed = await http.post(
                "/api/jobs/claim", json={"jobTypes": ["TEST"], "max": 1, "waitSeconds": 0}, headers=worker
            )
            (entry,) = claimed.json()["assignments"]
            assignment = entry["assignment"]
            lease = {"leaseToken": assignment["leaseToken"]}
            base = f"/api/jobs/assignments/{assignment['id']}"
            beat = await http.post(f"{base}/heartbeat", json={**lease, "progress": 0.5}, headers=worker)
            assert beat.status_code == 200, beat.text
            done = await http.post(f"{base}/result", json={**lease, "status": "SUCCEEDED"}, headers=worker)
            assert done.status_code == 200, done.text

            await listener.wait_for(lambda update: update["status"] == "SUCCEEDED")

    assert [(u["jobId"], u["status"], u["progress"]) for u in listener.updates] == [
        (job_id, "PENDING", None),
        (job_id, "IN_PROGRESS", None),
        (job_id, "IN_PROGRESS", 0.5),
        (job_id, "SUCCEEDED", None),
    ]
