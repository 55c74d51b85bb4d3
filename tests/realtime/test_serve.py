"""`reefguide serve` serves Socket.IO beside the API, and a connected client (even
one on HTTP long-polling) does not hold up its graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import socketio

from tests.e2e.processes import base_env, free_port, running_server
from tests.realtime.conftest import WAIT_SECONDS

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.com", "admin-password-1")
# Far below uvicorn's graceful stop (30 s), which a pending long poll would use up.
STOP_SECONDS = 10.0


@pytest.fixture
async def socket_client() -> AsyncIterator[socketio.AsyncClient]:
    client = socketio.AsyncClient(reconnection=False)
    yield client
    if client.connected:
        await client.disconnect()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_a_connected_client_does_not_hold_up_the_stop(
    tmp_path: Path, socket_client: socketio.AsyncClient, transport: str
) -> None:
    env = base_env(tmp_path / "data", ADMIN_USERNAME=ADMIN[0], ADMIN_PASSWORD=ADMIN[1], LOG_FORMAT="json")
    disconnected = asyncio.Event()
    socket_client.on("disconnect", lambda *_: disconnected.set())
    with running_server(tmp_path, env, port=free_port()) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT_SECONDS) as http:
            login = await http.post("/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
            token = login.json()["token"]
        await socket_client.connect(
            server.base_url, auth={"token": token}, transports=[transport], wait_timeout=WAIT_SECONDS
        )
        code, seconds = await asyncio.to_thread(server.stop, STOP_SECONDS)
        async with asyncio.timeout(WAIT_SECONDS):
            await disconnected.wait()

    assert code == 0, server.stderr()[-3000:]
    assert seconds < STOP_SECONDS
