"""Leases: heartbeats extend them up to the job's deadline; an expired one is retried
or ends the job; only the current lease's holder may report; retries and release."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.callers import Caller
from tests.jobs.conftest import QUIET_SWEEPS, Clock, submit
from tests.jobs.helpers import (
    Leased,
    assign,
    at,
    claim,
    claim_one,
    heartbeat,
    release,
    report,
    stored_assignments,
    stored_job,
    stored_results,
    sweep_leases,
)

LEASE = 30  # JOB_LEASE_SECONDS by default
MAX_RUN = 3600  # TEST's maximum run time


async def snapshot(app: FastAPI, job_id: int) -> tuple[Any, ...]:
    """Everything about a job a refused call must leave as it was."""
    job = await stored_job(app, job_id)
    assignments = await stored_assignments(app, job_id)
    return (
        (job.status, job.attempt_count, job.run_after, job.updated_at),
        [(a.id, a.expires_at, a.heartbeat_at, a.progress, a.completed_at, a.outcome) for a in assignments],
        [r.id for r in await stored_results(app, job_id)],
    )


async def test_a_heartbeat_extends_the_lease_by_job_lease_seconds(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    start = clock()
    leased = await claim_one(client, worker)
    assert leased.expires_at == start + timedelta(seconds=LEASE)

    clock.advance(20)
    response = await heartbeat(client, worker, leased, progress=0.25, message="reading")

    assert response.status_code == 200, response.text
    assert response.json()["cancelRequested"] is False
    assert at(response.json()["expiresAt"]) == start + timedelta(seconds=20 + LEASE)
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.expires_at, assignment.heartbeat_at) == (clock() + timedelta(seconds=LEASE), clock())
    assert (assignment.progress, assignment.message) == (0.25, "reading")


async def test_a_heartbeat_without_progress_keeps_the_last_progress(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await heartbeat(client, worker, leased, progress=0.5, message="half")).status_code == 200
    assert (await heartbeat(client, worker, leased)).status_code == 200

    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.progress, assignment.message) == (0.5, "half")


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "job_lease_seconds": 1800}])
async def test_a_heartbeat_never_extends_the_lease_past_the_jobs_deadline(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    start = clock()
    leased = await claim_one(client, worker)
    clock.advance(1700)
    first = await heartbeat(client, worker, leased)
    assert at(first.json()["expiresAt"]) == start + timedelta(seconds=3500)

    clock.advance(1700)
    second = await heartbeat(client, worker, leased)

    assert at(second.json()["expiresAt"]) == start + timedelta(seconds=MAX_RUN)
    (assignment,) = await stored_assignments(app, job_id)
    assert assignment.expires_at == assignment.deadline == start + timedelta(seconds=MAX_RUN)


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "job_lease_seconds": 1800}])
async def test_a_lease_that_reaches_the_max_run_time_ends_the_job_timed_out_without_retry(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    clock.advance(1700)
    assert (await heartbeat(client, worker, leased)).status_code == 200
    clock.advance(1700)
    assert (await heartbeat(client, worker, leased)).status_code == 200
    clock.advance(200)

    swept = await sweep_leases(app, clock())

    assert [job.id for job in swept] == [job_id]
    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("TIMED_OUT", 1)
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.outcome, assignment.completed_at) == ("TIMED_OUT", clock())
    assert await claim(client, worker) == []


async def test_an_assigned_job_past_its_max_run_time_times_out_without_retry(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    await assign(client, worker, job_id)
    clock.advance(MAX_RUN - 1)
    assert await sweep_leases(app, clock()) == []

    clock.advance(1)
    await sweep_leases(app, clock())

    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("TIMED_OUT", 1)


async def test_an_expired_lease_makes_the_job_pending_for_its_next_attempt(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    other_worker: Caller,
    clock: Clock,
) -> None:
    job_id = await submit(client, analyst)
    first = await claim_one(client, worker)
    clock.advance(LEASE - 1)
    assert await sweep_leases(app, clock()) == []

    clock.advance(1)
    swept = await sweep_leases(app, clock())

    assert [(job.id, job.status) for job in swept] == [(job_id, "PENDING")]
    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("PENDING", 1)
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.outcome, assignment.completed_at) == ("EXPIRED", clock())
    second = await claim_one(client, other_worker)
    assert (second.job_id, second.attempt) == (job_id, 2)
    assert second.storage_uri != first.storage_uri
    assert (await stored_job(app, job_id)).attempt_count == 2


async def test_the_lease_sweep_is_idempotent(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    await claim_one(client, worker)
    clock.advance(LEASE)
    assert len(await sweep_leases(app, clock())) == 1
    before = await snapshot(app, job_id)

    assert await sweep_leases(app, clock()) == []
    assert await snapshot(app, job_id) == before


async def test_an_expired_lease_is_refused_even_before_the_sweep(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    clock.advance(LEASE)
    before = await snapshot(app, job_id)

    assert (await heartbeat(client, worker, leased)).status_code == 409
    assert (await report(client, worker, leased, resultPayload={})).status_code == 409
    assert (await release(client, worker, leased)).status_code == 409
    assert await snapshot(app, job_id) == before


async def test_the_old_workers_heartbeat_and_result_get_409_and_change_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    other_worker: Caller,
    clock: Clock,
) -> None:
    job_id = await submit(client, analyst)
    old = await claim_one(client, worker)
    clock.advance(LEASE)
    await sweep_leases(app, clock())
    new = await claim_one(client, other_worker)
    before = await snapshot(app, job_id)

    beat = await heartbeat(client, worker, old, progress=0.9)
    assert beat.status_code == 409, beat.text
    for with_token in (True, False):
        late = await report(client, worker, old, resultPayload={}, with_token=with_token)
        assert late.status_code == 409, late.text
    assert (await release(client, worker, old)).status_code == 409

    assert await snapshot(app, job_id) == before
    done = await report(client, other_worker, new, resultPayload={})
    assert done.status_code == 200, done.text
    (result,) = await stored_results(app, job_id)
    assert result.assignment_id == new.assignment_id


async def test_after_the_last_attempt_an_expired_lease_ends_the_job_timed_out(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    for attempt in (1, 2, 3):
        leased = await claim_one(client, worker)
        assert leased.attempt == attempt
        clock.advance(LEASE)
        await sweep_leases(app, clock())

    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count, job.max_attempts) == ("TIMED_OUT", 3, 3)
    assert [a.outcome for a in await stored_assignments(app, job_id)] == ["EXPIRED"] * 3
    assert await claim(client, worker) == []


async def test_a_retryable_failure_is_retried_after_a_backoff(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    response = await report(client, worker, leased, "FAILED", error="flaky", retryable=True)

    assert response.status_code == 200, response.text
    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("PENDING", 1)
    assert job.run_after is not None
    assert job.run_after > clock()
    polled = await client.get("/api/jobs/poll", headers=worker.headers)
    assert polled.json()["jobs"] == []
    assert await claim(client, worker) == []
    assigned = await client.post("/api/jobs/assign", json={"jobId": job_id}, headers=worker.headers)
    assert assigned.status_code == 409, assigned.text

    clock.now = job.run_after
    retry = await claim_one(client, worker)
    assert (retry.job_id, retry.attempt) == (job_id, 2)


async def test_a_failure_without_retryable_is_final(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    await report(client, worker, leased, "FAILED", error="bad input")

    assert (await stored_job(app, job_id)).status == "FAILED"
    clock.advance(3600)
    assert await claim(client, worker) == []


async def test_a_retryable_failure_on_the_last_attempt_ends_the_job_failed(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    for attempt in (1, 2, 3):
        leased = await claim_one(client, worker)
        assert leased.attempt == attempt
        response = await report(client, worker, leased, "FAILED", error="flaky", retryable=True)
        assert response.status_code == 200, response.text
        clock.advance(3600)

    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("FAILED", 3)
    assert await claim(client, worker) == []


async def test_release_gives_the_job_back_without_counting_the_attempt(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, other_worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    response = await release(client, worker, leased)

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "PENDING"
    job = await stored_job(app, job_id)
    # The released attempt keeps its number, and the job one more attempt than before.
    assert (job.status, job.attempt_count, job.max_attempts) == ("PENDING", 1, 4)
    (assignment,) = await stored_assignments(app, job_id)
    assert assignment.outcome == "RELEASED"
    assert (await report(client, worker, leased, resultPayload={})).status_code == 409
    again = await claim_one(client, other_worker)
    assert (again.job_id, again.attempt) == (job_id, 2)
    first, second = await stored_assignments(app, job_id)
    assert first.storage_uri != second.storage_uri  # the given-back attempt's files stay apart


async def test_without_a_lease_token_only_the_claiming_principal_may_report(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, other_worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    before = await snapshot(app, job_id)

    foreign = await report(client, other_worker, leased, resultPayload={}, with_token=False)
    assert foreign.status_code == 409, foreign.text
    assert await snapshot(app, job_id) == before

    beat = await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/heartbeat", json={}, headers=worker.headers
    )
    assert beat.status_code == 200, beat.text
    own = await report(client, worker, leased, resultPayload={}, with_token=False)
    assert own.status_code == 200, own.text
    assert (await stored_job(app, job_id)).status == "SUCCEEDED"


async def test_the_lease_token_of_another_assignment_is_409(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    first_job = await submit(client, analyst, id=1)
    await submit(client, analyst, id=2)
    first, second = await claim(client, worker, max_jobs=2)
    before = await snapshot(app, first_job)

    crossed = Leased(**{**first.__dict__, "token": second.token})
    assert (await report(client, worker, crossed, resultPayload={})).status_code == 409
    assert (await heartbeat(client, worker, crossed)).status_code == 409
    assert await snapshot(app, first_job) == before


async def test_reporting_on_a_missing_assignment_is_404(client: httpx.AsyncClient, worker: Caller) -> None:
    response = await client.post(
        "/api/jobs/assignments/999999/result",
        json={"leaseToken": "whatever", "status": "SUCCEEDED"},
        headers=worker.headers,
    )
    assert response.status_code == 404, response.text
