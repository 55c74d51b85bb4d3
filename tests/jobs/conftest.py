"""For the job routes' tests: quiet sweeps, submitting a job, and a clock the test
moves by hand (routes and sweeps read `app.state.clock()`). The callers (analyst,
worker, admin …) are tests/conftest.py's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.db.base import utcnow
from tests.callers import Caller

# The app's own sweeps stay asleep: a test that moves the clock runs the lease sweep
# itself, when it means to; the scheduled data specification update is off. Merge
# into any `settings_overrides` a test sets.
QUIET_SWEEPS: dict[str, Any] = {"sweep_interval_seconds": 3600.0, "data_spec_update_interval_hours": 0}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET_SWEEPS)


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
