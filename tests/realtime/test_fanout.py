"""The fan-out behind `job:update`: never blocks the publisher, and reads who may hear
a batch of events in one query, however many events and jobs the batch holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from reefguide.db.base import utcnow
from reefguide.jobs.events import JobEvent
from reefguide.realtime.fanout import QUEUE_LIMIT, JobUpdateFanout
from tests.callers import Caller
from tests.jobs.conftest import submit


class RecordingServer:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any], list[str]]] = []

    async def emit(self, event: str, data: dict[str, Any], to: list[str]) -> None:
        self.emitted.append((event, data, to))


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def progress(job_id: int, owner: int, value: float) -> JobEvent:
    return JobEvent(job_id, "TEST", "IN_PROGRESS", owner, value, None, utcnow())


async def test_a_batch_reads_its_requesters_in_one_query(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    other_analyst: Caller,
    statements: list[str],
) -> None:
    first = await submit(client, analyst, id=1)
    second = await submit(client, analyst, id=2)
    assert await submit(client, other_analyst, id=2) == second  # from the cache
    server = RecordingServer()
    fanout = JobUpdateFanout(server, app.state.sessionmaker)
    batch = [progress(job_id, analyst.user.id, i / 100) for i in range(50) for job_id in (first, second)]
    statements.clear()

    await fanout.send(batch)

    assert len([sql for sql in statements if "job_requests" in sql]) == 1
    assert len(server.emitted) == 100
    rooms = {data["jobId"]: to for _, data, to in server.emitted}
    assert rooms[first] == sorted(["ADMIN", f"JOB:{first}", f"USER:{analyst.user.id}"])
    assert rooms[second] == sorted(
        ["ADMIN", f"JOB:{second}", f"USER:{analyst.user.id}", f"USER:{other_analyst.user.id}"]
    )


async def test_a_full_queue_drops_events_instead_of_blocking_the_publisher(app: FastAPI) -> None:
    fanout = JobUpdateFanout(RecordingServer(), app.state.sessionmaker)
    for i in range(QUEUE_LIMIT + 3):
        fanout.enqueue(progress(1, 1, i / QUEUE_LIMIT))
    assert fanout.dropped == 3


async def test_with_nobody_listening_events_are_dropped_before_any_work(app: FastAPI) -> None:
    listeners = 0
    fanout = JobUpdateFanout(RecordingServer(), app.state.sessionmaker, listening=lambda: listeners > 0)
    fanout.enqueue(progress(1, 1, 0.5))
    assert fanout._queue.qsize() == 0
    listeners = 1
    fanout.enqueue(progress(1, 1, 0.6))
    assert fanout._queue.qsize() == 1


async def test_the_apps_fanout_sends_nothing_while_no_socket_is_connected(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No socket and no Redis: a job's events cost no queue and no query."""
    sent: list[list[JobEvent]] = []

    async def record(batch: list[JobEvent]) -> None:
        sent.append(batch)

    monkeypatch.setattr(app.state.realtime.fanout, "send", record)
    await submit(client, analyst)
    await asyncio.sleep(0.2)  # time for the fan-out task to have picked an event up
    assert sent == []
