"""Cancelling: a pending job at once, a running one through its worker; who may."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.callers import Caller
from tests.jobs.conftest import Clock, submit
from tests.jobs.helpers import (
    cancel,
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


async def test_a_pending_job_is_cancelled_at_once(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)

    response = await cancel(client, analyst, job_id)

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "CANCELLED"
    assert (await stored_job(app, job_id)).status == "CANCELLED"
    assert await claim(client, worker) == []


async def test_a_running_job_is_asked_to_cancel_and_its_worker_hears_it_on_the_next_heartbeat(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    response = await cancel(client, analyst, job_id)

    assert response.status_code == 200, response.text
    job = response.json()["job"]
    assert (job["status"], job["cancel_requested"]) == ("IN_PROGRESS", True)
    beat = await heartbeat(client, worker, leased)
    assert beat.status_code == 200, beat.text
    assert beat.json()["cancelRequested"] is True


@pytest.mark.parametrize(
    ("status", "extra"),
    [
        ("SUCCEEDED", {"resultPayload": {}}),
        ("FAILED", {"error": "stopped"}),
        ("FAILED", {"error": "stopped", "retryable": True}),
        ("CANCELLED", {}),
    ],
    ids=["succeeded", "failed", "failed-retryable", "cancelled"],
)
async def test_whatever_the_worker_reports_after_a_cancel_request_the_job_ends_cancelled(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    status: str,
    extra: dict[str, object],
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await cancel(client, analyst, job_id)).status_code == 200

    response = await report(client, worker, leased, status, **extra)

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "CANCELLED"
    assert (await stored_job(app, job_id)).status == "CANCELLED"
    assert await stored_results(app, job_id) == []
    assert [a.completed_at is not None for a in await stored_assignments(app, job_id)] == [True]


async def test_a_cancel_requested_job_whose_lease_expires_ends_cancelled(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    await claim_one(client, worker)
    assert (await cancel(client, analyst, job_id)).status_code == 200
    clock.advance(30)

    await sweep_leases(app, clock())

    assert (await stored_job(app, job_id)).status == "CANCELLED"
    assert await claim(client, worker) == []


async def test_a_cancel_requested_job_given_back_ends_cancelled(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await cancel(client, analyst, job_id)).status_code == 200

    response = await release(client, worker, leased)

    assert response.status_code == 200, response.text
    assert (await stored_job(app, job_id)).status == "CANCELLED"


async def test_cancelling_a_finished_job_is_400(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    succeeded = await submit(client, analyst, id=1)
    cancelled = await submit(client, analyst, id=2)
    leased = await claim_one(client, worker)
    assert (await report(client, worker, leased, resultPayload={})).status_code == 200
    assert (await cancel(client, analyst, cancelled)).status_code == 200

    for job_id, status in ((succeeded, "SUCCEEDED"), (cancelled, "CANCELLED")):
        response = await cancel(client, analyst, job_id)
        assert response.status_code == 400, response.text
        assert (await stored_job(app, job_id)).status == status


async def test_another_analyst_may_not_cancel(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller
) -> None:
    job_id = await submit(client, analyst)

    unreadable = await cancel(client, other_analyst, job_id)
    assert unreadable.status_code == 404, unreadable.text

    await submit(client, other_analyst)  # answered from the cache: now readable, still not theirs
    readable = await cancel(client, other_analyst, job_id)
    assert readable.status_code == 403, readable.text
    assert (await stored_job(app, job_id)).status == "PENDING"


async def test_an_admin_may_cancel_anyones_job(
    client: httpx.AsyncClient, analyst: Caller, admin: Caller
) -> None:
    job_id = await submit(client, analyst)
    response = await cancel(client, admin, job_id)
    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "CANCELLED"


async def test_cancelling_a_missing_job_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    assert (await cancel(client, admin, 999999)).status_code == 404
