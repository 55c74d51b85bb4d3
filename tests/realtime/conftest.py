"""Real Socket.IO over real sockets: the app under test served by uvicorn on a free
loopback port in the test's own event loop, and python-socketio clients that
record what they hear."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
import uvicorn
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.callers import Caller, caller
from tests.jobs.conftest import QUIET_SWEEPS

WAIT_SECONDS = 15.0
JobUpdate = dict[str, Any]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET_SWEEPS)


class _Server(uvicorn.Server):
    """uvicorn, leaving the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The app (its lifespan already run by the `app` fixture) on 127.0.0.1, stopped
    with a bounded wait at the end."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)  # between checks of the condition
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await task
        finally:
            listener.close()


@dataclass
class Listener:
    """A connected client and every `job:update` it has heard, in order."""

    client: socketio.AsyncClient
    updates: list[JobUpdate] = field(default_factory=list)
    _heard: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_update(self, data: JobUpdate) -> None:
        async with self._heard:
            self.updates.append(data)
            self._heard.notify_all()

    async def wait_for(self, predicate: Callable[[JobUpdate], bool]) -> JobUpdate:
        """The first update (heard so far or to come) that matches, within WAIT_SECONDS."""
        async with asyncio.timeout(WAIT_SECONDS), self._heard:
            while True:
                for update in self.updates:
                    if predicate(update):
                        return update
                await self._heard.wait()

    def of_job(self, job_id: int) -> list[JobUpdate]:
        return [update for update in self.updates if update["jobId"] == job_id]

    async def subscribe(self, job_id: object) -> dict[str, Any]:
        answer: dict[str, Any] = await self.client.call(
            "job:subscribe", {"jobId": job_id}, timeout=WAIT_SECONDS
        )
        return answer


class Refused(Exception):
    def __init__(self, reason: object) -> None:
        super().__init__(reason)
        self.reason = reason


Connect = Callable[..., Awaitable[Listener]]


@pytest.fixture
async def connect(live_url: str) -> AsyncIterator[Connect]:
    """`await connect(auth={...}, headers={...})` → a Listener; Refused (with the
    server's reason) when the connection is refused. All disconnected at the end."""
    clients: list[socketio.AsyncClient] = []

    async def connect_client(
        *, auth: dict[str, Any] | None = None, headers: dict[str, str] | None = None, url: str | None = None
    ) -> Listener:
        client = socketio.AsyncClient(reconnection=False)
        listener = Listener(client)
        reasons: list[object] = []
        client.on("job:update", listener.on_update)
        client.on("connect_error", reasons.append)
        clients.append(client)
        try:
            await client.connect(url or live_url, auth=auth, headers=headers or {}, wait_timeout=WAIT_SECONDS)
        except socketio.exceptions.ConnectionError:
            raise Refused(reasons[0] if reasons else None) from None
        return listener

    yield connect_client
    for client in clients:
        if client.connected:
            await client.disconnect()


def token_auth(who: Caller) -> dict[str, str]:
    return {"token": who.headers["Authorization"].removeprefix("Bearer ")}


@pytest.fixture
async def third_analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)
