"""Callers of the job routes: an analyst who submits, a worker who runs, an admin;
and a clock the test moves by hand (routes and sweeps read `app.state.clock()`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.db.base import utcnow
from reefguide.users.models import Role, User
from tests.factories import bearer, make_user, token_for

# The app's own sweeps stay asleep: a test that moves the clock runs the lease sweep
# itself, when it means to; the scheduled data specification update is off. Merge
# into any `settings_overrides` a test sets.
QUIET_SWEEPS: dict[str, Any] = {"sweep_interval_seconds": 3600.0, "data_spec_update_interval_hours": 0}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET_SWEEPS)


@dataclass(frozen=True)
class Caller:
    user: User
    headers: dict[str, str]


async def caller(app: FastAPI, *roles: Role) -> Caller:
    user = await make_user(app, roles=roles)
    return Caller(user=user, headers=bearer(token_for(app, user)))


@pytest.fixture
async def analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)


@pytest.fixture
async def other_analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)


@pytest.fixture
async def worker(app: FastAPI) -> Caller:
    return await caller(app, Role.WORKER)


@pytest.fixture
async def other_worker(app: FastAPI) -> Caller:
    return await caller(app, Role.WORKER)


@pytest.fixture
async def admin(app: FastAPI) -> Caller:
    return await caller(app, Role.ADMIN)


class Clock:
    """The app's time, moved only by `advance`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    # Whole seconds: every backend stores them exactly, so times compare equal.
    fixed = Clock(utcnow().replace(microsecond=0))
    app.state.clock = fixed
    return fixed


async def submit(client: httpx.AsyncClient, who: Caller, type_: str = "TEST", **payload: object) -> int:
    response = await client.post(
        "/api/jobs", json={"type": type_, "inputPayload": payload or {"id": 1}}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    job_id: int = response.json()["jobId"]
    return job_id
