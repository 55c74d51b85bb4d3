"""Job events: every state change and heartbeat is published, once committed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from reefguide.db.session import unit_of_work
from reefguide.jobs import queue
from reefguide.jobs.events import JobEvent
from tests.callers import Caller
from tests.jobs.conftest import Clock, submit
from tests.jobs.helpers import (
    Abandoned,
    cancel,
    claim,
    claim_one,
    claim_then_roll_back,
    heartbeat,
    insert_jobs,
    report,
)


@pytest.fixture
def events(app: FastAPI) -> Iterator[list[JobEvent]]:
    received: list[JobEvent] = []
    unsubscribe = app.state.jobs.events.subscribe(received.append)
    yield received
    unsubscribe()


def seen(events: list[JobEvent]) -> list[tuple[int, str, float | None, str | None]]:
    return [(e.job_id, e.status, e.progress, e.message) for e in events]


async def test_claim_heartbeat_and_result_each_publish_an_event(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, events: list[JobEvent], clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    assert seen(events) == [(job_id, "PENDING", None, None)]  # a new job
    events.clear()

    claimed_at = clock()
    leased = await claim_one(client, worker)
    assert seen(events) == [(job_id, "IN_PROGRESS", None, None)]
    beat_at = clock.advance(1)
    assert (await heartbeat(client, worker, leased, progress=0.4, message="tiling")).status_code == 200
    assert seen(events)[1:] == [(job_id, "IN_PROGRESS", 0.4, "tiling")]
    finished_at = clock.advance(1)
    assert (await report(client, worker, leased, resultPayload={})).status_code == 200

    assert seen(events)[2:] == [(job_id, "SUCCEEDED", None, None)]
    assert {(e.type, e.user_id) for e in events} == {("TEST", analyst.user.id)}
    assert [e.updated_at for e in events] == [claimed_at, beat_at, finished_at]


async def test_each_result_of_a_batch_publishes_an_event(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    events: list[JobEvent],
    clock: Clock,
) -> None:
    job_ids = await insert_jobs(app, analyst.user, 2, clock())
    leased = await claim(client, worker, max_jobs=2)
    events.clear()

    response = await client.post(
        "/api/jobs/assignments/results",
        json={
            "results": [
                {
                    "assignmentId": leased[0].assignment_id,
                    "leaseToken": leased[0].token,
                    "status": "SUCCEEDED",
                },
                {"assignmentId": leased[1].assignment_id, "leaseToken": leased[1].token, "status": "FAILED"},
            ]
        },
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    assert sorted(seen(events)) == [(job_ids[0], "SUCCEEDED", None, None), (job_ids[1], "FAILED", None, None)]


async def test_a_cancel_publishes_an_event(
    client: httpx.AsyncClient, analyst: Caller, events: list[JobEvent]
) -> None:
    job_id = await submit(client, analyst)
    assert (await cancel(client, analyst, job_id)).status_code == 200
    assert seen(events) == [(job_id, "PENDING", None, None), (job_id, "CANCELLED", None, None)]


async def test_events_are_published_only_after_the_commit(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    events: list[JobEvent],
    clock: Clock,
) -> None:
    job_id = await submit(client, analyst)
    events.clear()

    async with unit_of_work(app.state.sessionmaker) as session:
        claimed = await queue.claim(
            session,
            app.state.queue,
            job_types=["TEST"],
            limit=1,
            principal_id=worker.user.id,
            worker_id=None,
            now=clock(),
        )
        assert [c.job.id for c in claimed] == [job_id]
        assert events == []

    assert seen(events) == [(job_id, "IN_PROGRESS", None, None)]


async def test_a_change_rolled_back_publishes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    events: list[JobEvent],
    clock: Clock,
) -> None:
    await submit(client, analyst)
    events.clear()

    with pytest.raises(Abandoned):
        await claim_then_roll_back(app, worker, clock)

    assert events == []
    second = await submit(client, analyst, id=2)
    leased = await claim_one(client, worker)  # the next transactions publish their own events only
    assert seen(events) == [(second, "PENDING", None, None), (leased.job_id, "IN_PROGRESS", None, None)]


async def test_a_refused_request_publishes_nothing(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, events: list[JobEvent], clock: Clock
) -> None:
    await submit(client, analyst)
    leased = await claim_one(client, worker)
    events.clear()
    clock.advance(30)

    assert (await heartbeat(client, worker, leased, progress=0.5)).status_code == 409
    assert (await report(client, worker, leased, resultPayload={})).status_code == 409
    assert events == []


async def test_a_lease_sweep_publishes_the_jobs_it_moves(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    events: list[JobEvent],
    clock: Clock,
) -> None:
    job_id = await submit(client, analyst)
    await claim_one(client, worker)
    events.clear()
    clock.advance(30)

    async with unit_of_work(app.state.sessionmaker) as session:
        await queue.expire_leases(session, app.state.queue, now=clock())
        assert events == []

    assert seen(events) == [(job_id, "PENDING", None, None)]


async def test_while_no_listener_listens_events_are_not_even_built(app: FastAPI) -> None:
    job_events = app.state.jobs.events
    listening = False
    received: list[JobEvent] = []
    unsubscribe = job_events.subscribe(received.append, listening=lambda: listening)
    built: list[int] = []

    def made(job_id: int) -> JobEvent:
        built.append(job_id)
        return JobEvent(1, "TEST", "PENDING", None, None, None, datetime.now(UTC))

    try:
        for job_id in (1, 2):
            async with unit_of_work(app.state.sessionmaker) as session:
                job_events.publish_after_commit(session, (made(job_id) for _ in range(3)))
            listening = True
    finally:
        unsubscribe()
    assert built == [2, 2, 2]
    assert len(received) == 3
