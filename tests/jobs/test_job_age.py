"""Timing jobs out by age: the admin route and the JOB_EXPIRY_MINUTES sweep."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reefguide.db.session import unit_of_work
from reefguide.jobs.sweeper import sweeps
from tests.callers import Caller
from tests.jobs.conftest import Clock, submit
from tests.jobs.helpers import VALID_INPUT, claim_one, heartbeat, report, stored_assignments, stored_job


async def time_out(client: httpx.AsyncClient, admin: Caller, **body: object) -> httpx.Response:
    return await client.post("/api/admin/timeout-jobs", json=body, headers=admin.headers)


async def test_old_pending_and_running_jobs_time_out_and_their_leases_end(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, admin: Caller, clock: Clock
) -> None:
    running = await submit(client, analyst, id=1)
    leased = await claim_one(client, worker)
    assert leased.job_id == running
    finished = await submit(client, analyst, id=3)
    done = await claim_one(client, worker)
    assert (await report(client, worker, done, resultPayload={})).status_code == 200
    pending = await submit(client, analyst, id=2)
    other_type = await submit(client, analyst, "DATA_SPECIFICATION_UPDATE")
    clock.advance(61 * 60)
    assert (await heartbeat(client, worker, leased)).status_code == 409  # its lease ran out meanwhile
    young = await submit(client, analyst, id=4)

    response = await time_out(client, admin, timeoutThresholdMinutes=60)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "totalTimedOut": 3,
        "byType": {"TEST": 2, "DATA_SPECIFICATION_UPDATE": 1},
        "timedOutJobIds": sorted([running, pending, other_type]),
    }
    for job_id in (running, pending, other_type):
        assert (await stored_job(app, job_id)).status == "TIMED_OUT"
    assert (await stored_job(app, finished)).status == "SUCCEEDED"
    assert (await stored_job(app, young)).status == "PENDING"
    (assignment,) = await stored_assignments(app, running)
    assert (assignment.outcome, assignment.completed_at) == ("TIMED_OUT", clock())


async def test_a_running_jobs_live_lease_ends_with_it(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, admin: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    clock.advance(20)
    assert (await heartbeat(client, worker, leased)).status_code == 200

    response = await time_out(client, admin, timeoutThresholdMinutes=1, jobTypes=["TEST"])
    assert response.json()["timedOutJobIds"] == []
    clock.advance(25)
    assert (await heartbeat(client, worker, leased)).status_code == 200
    clock.advance(20)
    response = await time_out(client, admin, timeoutThresholdMinutes=1)

    assert response.json()["timedOutJobIds"] == [job_id]
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.outcome, assignment.completed_at) == ("TIMED_OUT", clock())
    late = await report(client, worker, leased, resultPayload={})
    assert late.status_code == 409, late.text
    assert (await stored_job(app, job_id)).status == "TIMED_OUT"


async def test_job_types_limit_what_times_out(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, admin: Caller, clock: Clock
) -> None:
    test_job = await submit(client, analyst)
    suitability = await submit(
        client, analyst, "SUITABILITY_ASSESSMENT", **VALID_INPUT["SUITABILITY_ASSESSMENT"]
    )
    clock.advance(3 * 3600)

    response = await time_out(client, admin, jobTypes=["SUITABILITY_ASSESSMENT"])

    assert response.status_code == 200, response.text
    assert response.json()["timedOutJobIds"] == [suitability]
    assert response.json()["byType"] == {"SUITABILITY_ASSESSMENT": 1}
    assert (await stored_job(app, test_job)).status == "PENDING"


async def test_the_default_threshold_is_120_minutes(
    client: httpx.AsyncClient, analyst: Caller, admin: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    clock.advance(119 * 60)
    assert (await time_out(client, admin)).json()["totalTimedOut"] == 0
    clock.advance(2 * 60)
    assert (await time_out(client, admin)).json()["timedOutJobIds"] == [job_id]


async def test_an_unknown_job_type_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await time_out(client, admin, jobTypes=["NOPE"])
    assert response.status_code == 400, response.text


async def test_the_scheduled_sweep_times_out_jobs_older_than_job_expiry_minutes(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    (old_jobs,) = [
        s for s in sweeps(app.state.queue, lease_every=5, job_expiry_minutes=120) if s.name == "old_jobs"
    ]

    async def run() -> int:
        async with unit_of_work(app.state.sessionmaker) as session:
            return await old_jobs.run(session, clock())

    clock.advance(120 * 60 - 1)
    assert await run() == 0
    clock.advance(2)
    assert await run() == 1
    assert (await stored_job(app, job_id)).status == "TIMED_OUT"
    assert [s.name for s in sweeps(app.state.queue, lease_every=5, job_expiry_minutes=0)] == [
        "expired_leases",
        "refresh_tokens",
    ]
