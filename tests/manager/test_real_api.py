"""The manager against the real API (httpx on the ASGI app): it reads the whole
backlog from GET /api/jobs/stats as a WORKER account, logged in with a password."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reefguide.db.base import utcnow
from reefguide.manager.loop import CapacityManager, HttpBacklog
from reefguide.users.models import Role
from reefguide.worker import Login, WorkerClient
from tests.factories import PASSWORD, make_user
from tests.jobs.helpers import insert_jobs
from tests.manager.fakes import Clock, FakeBackend, pool


async def test_the_backlog_is_read_from_the_api_and_launches_follow_it(app: FastAPI) -> None:
    analyst = await make_user(app, roles=[Role.ANALYST])
    manager_account = await make_user(app, roles=[Role.WORKER])
    await insert_jobs(app, analyst, 25, utcnow())
    await insert_jobs(app, analyst, 2, utcnow(), "ADRIA_MODEL_RUN")
    backend = FakeBackend()
    pools = [
        pool(
            "default", ("TEST", "SUITABILITY_ASSESSMENT", "REGIONAL_ASSESSMENT", "DATA_SPECIFICATION_UPDATE")
        ),
        pool("adria", ("ADRIA_MODEL_RUN",), sensitivity=2.1),
    ]
    transport = httpx.ASGITransport(app=app)
    async with WorkerClient(
        "http://test/api", Login(manager_account.email, PASSWORD), transport=transport
    ) as client:
        outcome = await CapacityManager(HttpBacklog(client), backend, pools, clock=Clock()).poll_once()

    assert outcome.ok
    # 2.6·ln(25/3.3 + 1) = 5.6 -> 6, capped at 5; 2.1·ln(2/3.3 + 1) = 0.99 -> 1.
    assert [(d.pool, d.pending, d.target) for d in outcome.decisions] == [("default", 25, 5), ("adria", 2, 1)]
    assert backend.launches == [("default", 5), ("adria", 1)]


async def test_an_account_without_the_worker_role_is_refused_and_the_poll_fails(app: FastAPI) -> None:
    account = await make_user(app, roles=[Role.DEFAULT])
    transport = httpx.ASGITransport(app=app)
    async with WorkerClient("http://test/api", Login(account.email, PASSWORD), transport=transport) as client:
        outcome = await CapacityManager(
            HttpBacklog(client), FakeBackend(), [pool()], clock=Clock()
        ).poll_once()
    assert not outcome.ok
    assert "AuthenticationFailed: 403" in outcome.errors[0]
