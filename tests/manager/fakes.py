"""Stand-ins for the manager's unit tests: a compute backend that records launches,
an API that answers `GET /api/jobs/stats` from a dict, and a clock moved by hand."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

import httpx

from reefguide.cluster.base import ClusterStatus, Pool, RunningWorker
from reefguide.jobs.types import job_types
from reefguide.worker import ApiKey, RetryPolicy, WorkerClient

API = "http://api.test/api"


class Clock:
    """Monotonic time the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def no_sleep(_seconds: float) -> None:
    return None


class FakeBackend:
    """Launches are recorded and become running workers until the test ends them."""

    name = "fake"

    def __init__(self) -> None:
        self.alive: dict[str, list[RunningWorker]] = {}
        self.launches: list[tuple[str, int]] = []
        self.running_calls = 0
        # What running() and launch() raise, per pool name.
        self.fail_running: dict[str, Exception] = {}
        self.fail_launch: dict[str, Exception] = {}
        # A running() that waits for this (a backend that hangs); None: answers at once.
        self.hang: asyncio.Event | None = None
        # Launch at most this many per call (a backend that falls short); None: all asked.
        self.launch_limit: int | None = None
        self.closed = False
        self._ids = itertools.count(1)

    def tracked(self, pool: str) -> int:
        return len(self.alive.get(pool, []))

    def end(self, pool: str, count: int | None = None) -> None:
        """`count` of the pool's workers exit (all when None)."""
        workers = self.alive.get(pool, [])
        del workers[: len(workers) if count is None else count]

    async def launch(self, pool: Pool, count: int = 1) -> list[str]:
        if pool.name in self.fail_launch:
            raise self.fail_launch[pool.name]
        started = count if self.launch_limit is None else min(count, self.launch_limit)
        ids = [f"w{next(self._ids)}" for _ in range(started)]
        self.launches.append((pool.name, count))
        self.alive.setdefault(pool.name, []).extend(
            RunningWorker(id=worker_id, pool=pool.name, status="PENDING") for worker_id in ids
        )
        return ids

    async def running(self, pool: Pool) -> list[RunningWorker]:
        self.running_calls += 1
        if self.hang is not None:
            await self.hang.wait()
        if pool.name in self.fail_running:
            raise self.fail_running[pool.name]
        return list(self.alive.get(pool.name, []))

    async def status(self) -> ClusterStatus:
        raise NotImplementedError

    async def scale(self, desired_count: int) -> None:
        raise NotImplementedError

    async def redeploy(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True

    def hurry(self) -> None:
        pass


class FakeStatsApi:
    """`GET /api/jobs/stats` answering `pending`; `down` makes every request a connection
    error, `failing` answers that many requests 503 first."""

    def __init__(self, **pending: int) -> None:
        self.pending: dict[str, int] = dict(pending)
        self.down = False
        self.failing = 0
        self.requests: list[httpx.Request] = []

    def set(self, **pending: int) -> None:
        self.pending.update(pending)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        if self.failing > 0:
            self.failing -= 1
            return httpx.Response(503, json={"message": "Database unavailable"})
        assert request.method == "GET"
        assert request.url.path == "/api/jobs/stats"
        assert request.headers["x-api-key"] == "rg_manager"
        idle = {"pending": 0, "inProgress": 0, "oldestPendingAgeSeconds": None, "lastHour": {}}
        by_type = {name: {**idle, "pending": self.pending.get(name, 0)} for name in job_types()}
        return httpx.Response(200, json={"jobTypes": by_type})

    def client(self) -> WorkerClient:
        return WorkerClient(
            API,
            ApiKey("rg_manager"),
            transport=httpx.MockTransport(self.handle),
            retry=RetryPolicy(attempts=2),
            sleep=no_sleep,
        )


def pool(name: str = "default", types: Iterable[str] = ("TEST",), **settings: object) -> Pool:
    return Pool(name=name, job_types=tuple(types), **settings)  # type: ignore[arg-type]
