"""The sweeps `serve` runs by itself: a dead worker's job comes back without anyone
calling a sweep, and expired refresh tokens are deleted while live ones stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reefguide.auth.models import RefreshToken
from reefguide.db.session import unit_of_work
from reefguide.jobs.sweeper import Sweeper
from tests.callers import Caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim_one, stored_job

FAST_SWEEPS = {"sweep_interval_seconds": 0.05, "job_lease_seconds": 1}


@pytest.mark.parametrize("settings_overrides", [FAST_SWEEPS])
async def test_a_job_whose_worker_died_is_pending_again_without_help(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    await claim_one(client, worker)  # and never heard from again

    async with asyncio.timeout(10):
        while (job := await stored_job(app, job_id)).status != "PENDING":
            await asyncio.sleep(0.05)
    assert job.attempt_count == 1
    assert (await claim_one(client, worker)).attempt == 2


async def test_the_refresh_token_sweep_deletes_only_expired_tokens(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller
) -> None:
    credentials = {"email": analyst.user.email, "password": "password123"}
    login = await client.post("/api/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    async with unit_of_work(app.state.sessionmaker) as session:
        live = (await session.scalars(select(RefreshToken))).one()
        expired = RefreshToken(
            user_id=analyst.user.id,
            family_id="expired-family",
            token_hash="0" * 64,
            expires_at=live.expires_at - timedelta(days=30),
        )
        session.add(expired)
    sweeper: Sweeper = app.state.jobs.sweeper
    (refresh_tokens,) = [sweep for sweep in sweeper.scheduled if sweep.name == "refresh_tokens"]

    assert await sweeper.run_once(refresh_tokens) == 1
    assert await sweeper.run_once(refresh_tokens) == 0  # idempotent

    async with unit_of_work(app.state.sessionmaker) as session:
        remaining = (await session.scalars(select(RefreshToken.family_id))).all()
    assert remaining == [live.family_id]
