"""A waiting claim: answered as soon as a job arrives, or with nothing at its deadline.

PostgreSQL wakes waiting claims through LISTEN/NOTIFY, SQLite through an in-process
event; a claim also looks again every CLAIM_POLL_SECONDS. The tests that stretch
that poll to 30 s show the wake-up itself answers, not the poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI

from reefguide.jobs import routes
from tests.callers import Caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim, claim_one, release

LATENCY_BOUND = 1.0


@pytest.fixture
async def listening(app: FastAPI) -> None:
    """On PostgreSQL, the app's LISTEN connection is up before a test relies on it."""
    listener = app.state.jobs.listener
    if listener is not None:
        await asyncio.wait_for(listener.connected.wait(), timeout=10)


@pytest.fixture(params=["default-poll", "no-poll"])
def poll_interval(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "no-poll":
        monkeypatch.setattr(routes, "CLAIM_POLL_SECONDS", 30.0)


async def timed_claim(
    client: httpx.AsyncClient, worker: Caller, *, wait_seconds: float, types: Sequence[str] = ("TEST",)
) -> tuple[float, list[int]]:
    """When the claim was answered, and the jobs it took."""
    leased = await claim(client, worker, types=types, wait_seconds=wait_seconds)
    return time.monotonic(), [one.job_id for one in leased]


@pytest.mark.usefixtures("listening", "poll_interval")
async def test_a_waiting_claim_is_answered_within_a_second_of_a_jobs_creation(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    async def create_later() -> tuple[float, int]:
        await asyncio.sleep(0.3)
        created = time.monotonic()
        return created, await submit(client, analyst)

    (answered, claimed), (created, job_id) = await asyncio.gather(
        timed_claim(client, worker, wait_seconds=5), create_later()
    )

    assert claimed == [job_id]
    assert answered - created < LATENCY_BOUND


@pytest.mark.usefixtures("listening")
async def test_a_job_given_back_wakes_a_waiting_claim(
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    other_worker: Caller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "CLAIM_POLL_SECONDS", 30.0)
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    async def release_later() -> float:
        await asyncio.sleep(0.3)
        released = time.monotonic()
        assert (await release(client, worker, leased)).status_code == 200
        return released

    (answered, claimed), released = await asyncio.gather(
        timed_claim(client, other_worker, wait_seconds=5), release_later()
    )

    assert claimed == [job_id]
    assert answered - released < LATENCY_BOUND


async def test_with_nothing_arriving_a_claim_answers_empty_after_wait_seconds(
    client: httpx.AsyncClient, worker: Caller
) -> None:
    started = time.monotonic()
    answered, claimed = await timed_claim(client, worker, wait_seconds=0.5)

    assert claimed == []
    assert answered - started >= 0.5


@pytest.mark.usefixtures("listening")
async def test_a_job_of_another_type_does_not_answer_a_waiting_claim(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    async def create_soon() -> int:
        await asyncio.sleep(0.1)
        return await submit(client, analyst)

    (_, claimed), job_id = await asyncio.gather(
        timed_claim(client, worker, types=["DATA_SPECIFICATION_UPDATE"], wait_seconds=0.5), create_soon()
    )

    assert claimed == []
    assert [leased.job_id for leased in await claim(client, worker)] == [job_id]


@pytest.mark.usefixtures("listening")
async def test_one_job_answers_exactly_one_of_several_waiting_claims(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, other_worker: Caller
) -> None:
    async def create_soon() -> int:
        await asyncio.sleep(0.3)
        return await submit(client, analyst)

    first, second, job_id = await asyncio.gather(
        timed_claim(client, worker, wait_seconds=1.5),
        timed_claim(client, other_worker, wait_seconds=1.5),
        create_soon(),
    )

    assert sorted([first[1], second[1]]) == [[], [job_id]]


async def test_a_waiting_claim_answers_at_once_when_the_server_begins_to_stop(
    client: httpx.AsyncClient, app: FastAPI, worker: Caller
) -> None:
    async def stop_later() -> float:
        await asyncio.sleep(0.3)
        app.state.jobs.drain()  # what `serve` does on SIGTERM, before its graceful stop
        return time.monotonic()

    (answered, claimed), asked_to_stop = await asyncio.gather(
        timed_claim(client, worker, wait_seconds=20), stop_later()
    )

    assert claimed == []
    assert answered - asked_to_stop < routes.CLAIM_POLL_SECONDS + LATENCY_BOUND
