"""GET /api/jobs/stats: the whole backlog per type, for the capacity manager."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from reefguide.jobs.types import BUILTIN_JOB_TYPES
from tests.callers import Caller
from tests.jobs.conftest import Clock
from tests.jobs.helpers import claim, insert_jobs, report

IDLE = {"pending": 0, "inProgress": 0, "oldestPendingAgeSeconds": None, "lastHour": {}}


async def stats(client: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await client.get("/api/jobs/stats", headers=who.headers)
    assert response.status_code == 200, response.text
    by_type: dict[str, Any] = response.json()["jobTypes"]
    return by_type


async def test_every_built_in_type_is_listed_even_when_idle(
    client: httpx.AsyncClient, worker: Caller
) -> None:
    by_type = await stats(client, worker)
    assert by_type == {job_type.name: IDLE for job_type in BUILTIN_JOB_TYPES}


async def test_pending_counts_the_whole_backlog_with_the_oldest_jobs_age(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    await insert_jobs(app, analyst.user, 25, clock())
    await insert_jobs(app, analyst.user, 2, clock(), "ADRIA_MODEL_RUN")
    clock.advance(60)
    first, _second, _third = await claim(client, worker, max_jobs=3)
    assert (await report(client, worker, first, resultPayload={})).status_code == 200

    by_type = await stats(client, worker)

    assert by_type["TEST"] == {
        "pending": 22,
        "inProgress": 2,
        "oldestPendingAgeSeconds": 60.0,
        "lastHour": {"IN_PROGRESS": 2, "SUCCEEDED": 1, "PENDING": 22},
    }
    assert by_type["ADRIA_MODEL_RUN"] == {
        "pending": 2,
        "inProgress": 0,
        "oldestPendingAgeSeconds": 60.0,
        "lastHour": {"PENDING": 2},
    }
    assert by_type["REGIONAL_ASSESSMENT"] == IDLE


async def test_last_hour_counts_only_changes_within_the_hour(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, admin: Caller, clock: Clock
) -> None:
    await insert_jobs(app, analyst.user, 3, clock())
    clock.advance(3601)

    test = (await stats(client, admin))["TEST"]

    assert (test["pending"], test["oldestPendingAgeSeconds"], test["lastHour"]) == (3, 3601.0, {})
