"""Rebuilding the specification: an admin's request, the daily sweep, and the worker's
DATA_SPECIFICATION_UPDATE handler running against the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from structlog.testing import capture_logs

from reefguide.dataspec import service as dataspec
from reefguide.db.session import unit_of_work
from reefguide.jobs.models import Job
from reefguide.jobs.platform import JobPlatform
from reefguide.users.models import Role
from reefguide.worker import Login, RetryPolicy, Worker, WorkerClient
from reefguide.worker.handlers import builtin_handlers
from tests.callers import Caller
from tests.dataspec.conftest import ranges, regions
from tests.factories import PASSWORD, make_user
from tests.jobs.conftest import QUIET_SWEEPS
from tests.worker.geotiffs import write_geotiff

UPDATE = "DATA_SPECIFICATION_UPDATE"
DAY = timedelta(days=1)
BOUND = 30.0


async def update_jobs(app: FastAPI) -> list[Job]:
    async with unit_of_work(app.state.sessionmaker) as session:
        return list(await session.scalars(select(Job).where(Job.type == UPDATE).order_by(Job.id)))


async def request_update(client: httpx.AsyncClient, who: Caller) -> httpx.Response:
    return await client.post("/api/admin/data-specification-update", headers=who.headers)


async def scheduled(app: FastAPI, now: datetime) -> int:
    async with unit_of_work(app.state.sessionmaker) as session:
        return await dataspec.submit_scheduled_update(session, app.state.queue, now=now, every=DAY)


# Asked for by an admin.


async def test_an_admin_gets_a_new_update_job_each_time_they_ask(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    first = await request_update(client, admin)
    second = await request_update(client, admin)
    assert first.status_code == second.status_code == 200, first.text
    assert set(first.json()) == {"jobId", "message"}
    jobs = await update_jobs(app)
    assert [job.id for job in jobs] == [first.json()["jobId"], second.json()["jobId"]]
    for job in jobs:
        assert (job.status, job.user_id) == ("PENDING", admin.user.id)
        assert set(job.input_payload) == {"cache_buster"}
        assert isinstance(job.input_payload["cache_buster"], int)


async def test_only_an_admin_may_ask_for_an_update(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller, worker: Caller
) -> None:
    assert (await request_update(client, analyst)).status_code == 403
    assert (await request_update(client, worker)).status_code == 403
    assert await update_jobs(app) == []


# The daily sweep.


async def test_the_scheduled_update_makes_one_job_a_day_owned_by_the_first_admin(app: FastAPI) -> None:
    await make_user(app, roles=[Role.ANALYST])
    first_admin = await make_user(app, roles=[Role.ADMIN])
    await make_user(app, roles=[Role.ADMIN])
    morning = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)

    assert await scheduled(app, morning) == 1
    assert await scheduled(app, morning + timedelta(hours=20)) == 0  # the same day: already there
    assert await scheduled(app, morning + DAY) == 1

    jobs = await update_jobs(app)
    assert [job.user_id for job in jobs] == [first_admin.id, first_admin.id]
    midnight = datetime(2026, 11, 22, tzinfo=UTC)
    assert [job.input_payload for job in jobs] == [
        {"cache_buster": int(midnight.timestamp() * 1000)},
        {"cache_buster": int((midnight + DAY).timestamp() * 1000)},
    ]


async def test_the_scheduled_update_counts_a_finished_days_job_as_done(app: FastAPI, admin: Caller) -> None:
    now = datetime(2026, 11, 22, 3, tzinfo=UTC)
    assert await scheduled(app, now) == 1
    async with unit_of_work(app.state.sessionmaker) as session:
        (job,) = await session.scalars(select(Job).where(Job.type == UPDATE))
        job.status = "FAILED"
    assert await scheduled(app, now + timedelta(hours=1)) == 0


async def test_without_an_admin_the_scheduled_update_is_skipped_with_a_log_line(app: FastAPI) -> None:
    await make_user(app, roles=[Role.ANALYST, Role.WORKER])
    with capture_logs() as logs:
        assert await scheduled(app, datetime(2026, 11, 22, tzinfo=UTC)) == 0
    assert await update_jobs(app) == []
    assert any("no admin" in str(entry["event"]) for entry in logs)


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "data_spec_update_interval_hours": 24}])
async def test_serve_runs_the_scheduled_update_as_a_sweep(app: FastAPI, admin: Caller) -> None:
    platform: JobPlatform = app.state.jobs
    (sweep,) = [sweep for sweep in platform.sweeper.scheduled if sweep.name == "data_specification_update"]
    assert sweep.every_seconds == 3600
    assert await platform.sweeper.run_once(sweep) == 1
    assert await platform.sweeper.run_once(sweep) == 0
    assert [job.user_id for job in await update_jobs(app)] == [admin.user.id]


async def test_the_scheduled_update_is_off_at_zero_hours(app: FastAPI) -> None:
    platform: JobPlatform = app.state.jobs  # QUIET_SWEEPS turns it off
    assert "data_specification_update" not in [sweep.name for sweep in platform.sweeper.scheduled]


# The worker, end to end.


def write_data(root: Path) -> Path:
    write_geotiff(root / "Cairns-Cooktown" / "depth.tif", [[-9999, -12.5], [np.nan, -2.0]], nodata=-9999)
    write_geotiff(root / "Cairns-Cooktown" / "slope.tif", np.array([[1, 40], [7, 3]], dtype=np.uint8))
    write_geotiff(root / "Townsville" / "depth.tif", np.array([[-30, -4]], dtype=np.int16), tile=(16, 16))
    return root


async def run_worker(app: FastAPI, data_path: Path) -> None:
    """A WORKER account's worker, with the built-in handlers, until it is idle."""
    account = await make_user(app, roles=[Role.WORKER])
    client = WorkerClient(
        "http://test/api",
        Login(account.email, PASSWORD),
        transport=httpx.ASGITransport(app=app),
        retry=RetryPolicy(attempts=2),
    )
    async with client:
        worker = Worker(
            client,
            handlers=builtin_handlers(client, data_path=data_path),
            job_types=[UPDATE],
            poll_interval=0.05,
            idle_timeout=0.5,
            claim_wait_seconds=0,
        )
        await asyncio.wait_for(worker.run(), BOUND)


async def test_the_workers_update_replaces_the_specification_with_what_the_rasters_hold(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller, tmp_path: Path
) -> None:
    job_id = (await request_update(client, admin)).json()["jobId"]
    await run_worker(app, write_data(tmp_path / "data"))

    response = await client.get(f"/api/jobs/{job_id}", headers=admin.headers)
    job: dict[str, Any] = response.json()["job"]
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["result_payload"] == {
        "criteria_count": 2,
        "regions_count": 2,
        "regional_criteria_count": 3,
    }
    assert [(r["name"], r["display_name"], r["criteria_count"]) for r in await regions(client, analyst)] == [
        ("Cairns-Cooktown", "Cairns Cooktown", 2),
        ("Townsville", "Townsville", 1),
    ]
    cairns = await ranges(client, analyst, "Cairns-Cooktown")
    assert {name: (c["min_val"], c["max_val"]) for name, c in cairns.items()} == {
        "depth": (-12.5, -2.0),
        "slope": (1.0, 40.0),
    }
    assert cairns["depth"]["payload_property_prefix"] == "depth_"
    townsville = await ranges(client, analyst, "Townsville")
    assert (townsville["depth"]["default_min_val"], townsville["depth"]["default_max_val"]) == (-30.0, -4.0)
