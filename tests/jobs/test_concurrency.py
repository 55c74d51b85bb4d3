"""Many workers racing over HTTP, through `claim` and through `poll` + `assign`:
every job is handed out and completed exactly once, and nothing is lost."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from reefguide.db.session import unit_of_work
from reefguide.jobs.models import Job, JobAssignment, JobResult
from reefguide.jobs.queue import NOT_AVAILABLE
from reefguide.users.models import Role
from tests.callers import Caller, caller
from tests.jobs.conftest import Clock, submit
from tests.jobs.helpers import Leased, claim, insert_jobs, report

JOBS = {"sqlite": 2000, "postgres": 3000}
CLAIMERS = 12  # POST /claim, max 1..10
ASSIGNERS = 8  # GET /poll, then POST /assign for each job polled
PRINCIPALS = 4  # worker accounts the tasks share


@dataclass
class Tally:
    """What the workers were told, over HTTP."""

    handed_out: list[int] = field(default_factory=list)  # claim or assign answered 200
    completed: list[int] = field(default_factory=list)  # result accepted
    lost_races: int = 0  # assign answered 409


async def claimer(client: httpx.AsyncClient, worker: Caller, index: int, tally: Tally) -> None:
    rng = random.Random(index)
    in_batches = index % 2 == 0
    while True:
        max_jobs = rng.randint(1, 10)
        leased = await claim(client, worker, max_jobs=max_jobs, worker_id=f"claimer-{index}")
        if not leased:
            return
        assert len(leased) <= max_jobs
        tally.handed_out.extend(one.job_id for one in leased)
        if in_batches:
            response = await client.post(
                "/api/jobs/assignments/results",
                json={
                    "results": [
                        {"assignmentId": one.assignment_id, "leaseToken": one.token, "status": "SUCCEEDED"}
                        for one in leased
                    ]
                },
                headers=worker.headers,
            )
            assert response.status_code == 200, response.text
            outcomes = response.json()["results"]
            assert [(o["status"], o["jobStatus"]) for o in outcomes] == [(200, "SUCCEEDED")] * len(leased)
            tally.completed.extend(one.job_id for one in leased)
        else:
            for one in leased:
                response = await report(client, worker, one, resultPayload={"by": index})
                assert response.status_code == 200, response.text
                tally.completed.append(one.job_id)


async def assigner(client: httpx.AsyncClient, worker: Caller, index: int, tally: Tally) -> None:
    rng = random.Random(1000 + index)
    with_token = index % 2 == 0  # the original's workers send no lease token
    while True:
        polled = await client.get(
            "/api/jobs/poll", params={"jobType": "TEST", "limit": rng.randint(1, 10)}, headers=worker.headers
        )
        assert polled.status_code == 200, polled.text
        job_ids = [job["id"] for job in polled.json()["jobs"]]
        if not job_ids:
            return
        rng.shuffle(job_ids)
        for job_id in job_ids:
            response = await client.post("/api/jobs/assign", json={"jobId": job_id}, headers=worker.headers)
            if response.status_code == 409:
                assert response.json() == {"message": NOT_AVAILABLE}
                tally.lost_races += 1
                continue
            assert response.status_code == 200, response.text
            leased = Leased.of(response.json()["assignment"])
            assert leased.job_id == job_id
            tally.handed_out.append(job_id)
            done = await report(client, worker, leased, with_token=with_token, resultPayload={"by": -index})
            assert done.status_code == 200, done.text
            tally.completed.append(job_id)


async def scalar(app: FastAPI, statement: Any) -> Any:
    async with unit_of_work(app.state.sessionmaker) as session:
        return await session.scalar(statement)


async def rows(app: FastAPI, statement: Any) -> list[Any]:
    async with unit_of_work(app.state.sessionmaker) as session:
        return list(await session.execute(statement))


async def test_racing_workers_complete_every_job_exactly_once(
    app: FastAPI, client: httpx.AsyncClient, backend: str, analyst: Caller, clock: Clock
) -> None:
    job_ids = await insert_jobs(app, analyst.user, JOBS[backend], clock())
    workers = [await caller(app, Role.WORKER) for _ in range(PRINCIPALS)]
    tally = Tally()

    # A task group: the first worker to fail stops the others.
    async with asyncio.TaskGroup() as group:
        for i in range(CLAIMERS):
            group.create_task(claimer(client, workers[i % PRINCIPALS], i, tally))
        for i in range(ASSIGNERS):
            group.create_task(assigner(client, workers[i % PRINCIPALS], i, tally))

    # Over HTTP: each job handed out once, and completed once.
    assert sorted(tally.handed_out) == job_ids
    assert sorted(tally.completed) == job_ids
    # In the database: all succeeded at their first attempt, one lease and one result each.
    assert await rows(app, select(Job.status, func.count()).group_by(Job.status)) == [
        ("SUCCEEDED", len(job_ids))
    ]
    assert await scalar(app, select(func.count()).where(Job.attempt_count != 1)) == 0
    assert await scalar(app, select(func.count()).select_from(JobAssignment)) == len(job_ids)
    assert await scalar(app, select(func.count()).where(JobAssignment.completed_at.is_(None))) == 0
    succeeded_leases = select(func.count(func.distinct(JobAssignment.job_id))).where(
        JobAssignment.outcome == "SUCCEEDED"
    )
    assert await scalar(app, succeeded_leases) == len(job_ids)
    assert await scalar(app, select(func.count()).select_from(JobResult)) == len(job_ids)
    assert await scalar(app, select(func.count(func.distinct(JobResult.job_id)))) == len(job_ids)
    mismatched = (
        select(func.count())
        .select_from(JobResult)
        .join(JobAssignment, JobAssignment.id == JobResult.assignment_id)
        .where(JobAssignment.job_id != JobResult.job_id)
    )
    assert await scalar(app, mismatched) == 0


async def test_of_workers_racing_to_assign_one_job_exactly_one_wins(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller
) -> None:
    job_id = await submit(client, analyst)
    workers = [await caller(app, Role.WORKER) for _ in range(20)]

    responses = await asyncio.gather(
        *(client.post("/api/jobs/assign", json={"jobId": job_id}, headers=w.headers) for w in workers)
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 19
    assert all(r.json() == {"message": NOT_AVAILABLE} for r in responses if r.status_code == 409)


async def test_workers_racing_to_claim_share_the_jobs_without_overlap(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, clock: Clock
) -> None:
    job_ids = await insert_jobs(app, analyst.user, 25, clock())
    workers = [await caller(app, Role.WORKER) for _ in range(20)]

    answers = await asyncio.gather(*(claim(client, w, max_jobs=2) for w in workers))

    assert sorted(one.job_id for leased in answers for one in leased) == job_ids
    assert len({one.token for leased in answers for one in leased}) == 25
