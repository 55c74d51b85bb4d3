"""Helpers for the job tests: a worker's calls over HTTP, and the database as it is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert, select, update

from reefguide.db.session import unit_of_work
from reefguide.jobs import queue
from reefguide.jobs import service as jobs
from reefguide.jobs.hashing import job_hash
from reefguide.jobs.models import Job, JobAssignment, JobRequest, JobResult
from reefguide.jobs.types import get_job_type
from reefguide.users.models import User
from tests.callers import Caller

# A payload of each built-in type that its schema accepts.
VALID_INPUT: dict[str, dict[str, Any]] = {
    "TEST": {"id": 1},
    "SUITABILITY_ASSESSMENT": {"region": "Cairns", "reef_type": "slopes", "x_dist": 450, "y_dist": 20},
    "REGIONAL_ASSESSMENT": {"region": "Cairns", "reef_type": "slopes"},
    "DATA_SPECIFICATION_UPDATE": {},
    "ADRIA_MODEL_RUN": {"data_package": "MOORE", "num_scenarios": 8, "model_params": []},
}


def at(text: str) -> datetime:
    """A timestamp as the API writes it."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Leased:
    """A job a worker holds: its assignment and the lease token that proves it."""

    job_id: int
    assignment_id: int
    token: str
    attempt: int
    expires_at: datetime
    storage_uri: str

    @classmethod
    def of(cls, assignment: dict[str, Any]) -> Leased:
        return cls(
            job_id=assignment["job_id"],
            assignment_id=assignment["id"],
            token=assignment["leaseToken"],
            attempt=assignment["attempt"],
            expires_at=at(assignment["expires_at"]),
            storage_uri=assignment["storage_uri"],
        )


# A worker, over HTTP.


async def claim(
    client: httpx.AsyncClient,
    worker: Caller,
    *,
    types: Sequence[str] = ("TEST",),
    max_jobs: int = 1,
    wait_seconds: float = 0,
    worker_id: str | None = None,
) -> list[Leased]:
    body: dict[str, Any] = {"jobTypes": list(types), "max": max_jobs, "waitSeconds": wait_seconds}
    if worker_id is not None:
        body["workerId"] = worker_id
    response = await client.post("/api/jobs/claim", json=body, headers=worker.headers)
    assert response.status_code == 200, response.text
    return [Leased.of(entry["assignment"]) for entry in response.json()["assignments"]]


async def claim_one(client: httpx.AsyncClient, worker: Caller, *, types: Sequence[str] = ("TEST",)) -> Leased:
    (leased,) = await claim(client, worker, types=types)
    return leased


async def assign(client: httpx.AsyncClient, worker: Caller, job_id: int) -> Leased:
    response = await client.post("/api/jobs/assign", json={"jobId": job_id}, headers=worker.headers)
    assert response.status_code == 200, response.text
    return Leased.of(response.json()["assignment"])


async def heartbeat(client: httpx.AsyncClient, worker: Caller, leased: Leased, **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/heartbeat",
        json={"leaseToken": leased.token, **body},
        headers=worker.headers,
    )


async def report(
    client: httpx.AsyncClient,
    worker: Caller,
    leased: Leased,
    status: str = "SUCCEEDED",
    *,
    with_token: bool = True,
    **body: Any,
) -> httpx.Response:
    payload: dict[str, Any] = {"status": status, **body}
    if with_token:
        payload["leaseToken"] = leased.token
    return await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/result", json=payload, headers=worker.headers
    )


async def release(client: httpx.AsyncClient, worker: Caller, leased: Leased) -> httpx.Response:
    return await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/release",
        json={"leaseToken": leased.token},
        headers=worker.headers,
    )


async def read_job(client: httpx.AsyncClient, who: Caller, job_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/jobs/{job_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["job"]
    return job


async def cancel(client: httpx.AsyncClient, who: Caller, job_id: int) -> httpx.Response:
    return await client.post(f"/api/jobs/{job_id}/cancel", headers=who.headers)


# The database, read and prepared directly.


async def stored_job(app: FastAPI, job_id: int) -> Job:
    async with unit_of_work(app.state.sessionmaker) as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def stored_assignments(app: FastAPI, job_id: int) -> list[JobAssignment]:
    async with unit_of_work(app.state.sessionmaker) as session:
        found = await session.scalars(
            select(JobAssignment).where(JobAssignment.job_id == job_id).order_by(JobAssignment.id)
        )
        return list(found)


async def stored_results(app: FastAPI, job_id: int) -> list[JobResult]:
    async with unit_of_work(app.state.sessionmaker) as session:
        found = await session.scalars(select(JobResult).where(JobResult.job_id == job_id))
        return list(found)


async def stored_requests(app: FastAPI, job_id: int) -> list[JobRequest]:
    async with unit_of_work(app.state.sessionmaker) as session:
        found = await session.scalars(
            select(JobRequest).where(JobRequest.job_id == job_id).order_by(JobRequest.id)
        )
        return list(found)


async def sweep_leases(app: FastAPI, now: datetime) -> list[Job]:
    """The lease sweep, once, as `serve` runs it."""
    async with unit_of_work(app.state.sessionmaker) as session:
        return await queue.expire_leases(session, app.state.queue, now=now)


class Abandoned(Exception):
    """Raised to roll a unit of work back."""


async def claim_then_roll_back(app: FastAPI, worker: Caller, clock: Callable[[], datetime]) -> None:
    """Claim one TEST job through the queue, then abandon the transaction."""
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
        assert len(claimed) == 1
        raise Abandoned


async def set_priority(app: FastAPI, job_id: int, priority: int) -> None:
    async with unit_of_work(app.state.sessionmaker) as session:
        await session.execute(update(Job).where(Job.id == job_id).values(priority=priority))


async def submit_uncached(
    app: FastAPI, owner: User, now: datetime, type_: str = "TEST", **payload: Any
) -> int:
    """A new job even when an identical one exists (as DISABLE_CACHE would make)."""
    async with unit_of_work(app.state.sessionmaker) as session:
        submitted = await jobs.submit(
            session,
            app.state.queue,
            owner,
            type_name=type_,
            input_payload=payload or VALID_INPUT[type_],
            cache=jobs.CachePolicy(disabled=True),
            now=now,
        )
    return submitted.job_id


async def insert_jobs(app: FastAPI, owner: User, count: int, now: datetime, type_: str = "TEST") -> list[int]:
    """`count` pending jobs of `type_` (TEST: ids 1..count), in one statement."""
    job_type = get_job_type(type_)
    assert job_type is not None
    rows = []
    for number in range(1, count + 1):
        payload = job_type.parse_input({"id": number} if type_ == "TEST" else VALID_INPUT[type_])
        rows.append(
            {
                "type": type_,
                "status": "PENDING",
                "hash": job_hash(type_, payload),
                "user_id": owner.id,
                "input_payload": payload,
                "priority": job_type.priority,
                "attempt_count": 0,
                "max_attempts": job_type.max_attempts,
                "cancel_requested": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    async with unit_of_work(app.state.sessionmaker) as session:
        ids = await session.scalars(insert(Job).returning(Job.id), rows)
        return sorted(ids)
