"""The sweeps `serve` runs on a schedule: expired leases, old jobs, dead refresh tokens,
and the daily DATA_SPECIFICATION_UPDATE job.

Each sweep is a few conditional statements in one transaction, idempotent and safe
to run in several API processes at once; a failing sweep is logged and tried again
at the next tick, never taking the process down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.auth.models import RefreshToken
from reefguide.dataspec import service as dataspec
from reefguide.db.session import unit_of_work
from reefguide.jobs import queue as job_queue
from reefguide.jobs.queue import Queue

log = structlog.get_logger(__name__)

JOB_AGE_SWEEP_SECONDS = 60.0
REFRESH_TOKEN_SWEEP_SECONDS = 3600.0
# The scheduled data specification update looks this often whether its period's job exists.
DATA_SPEC_SWEEP_SECONDS = 3600.0


@dataclass(frozen=True)
class Sweep:
    name: str
    every_seconds: float
    run: Callable[[AsyncSession, datetime], Awaitable[int]]


def sweeps(
    queue: Queue, *, lease_every: float, job_expiry_minutes: int, data_spec_update_hours: float = 0
) -> list[Sweep]:
    async def leases(session: AsyncSession, now: datetime) -> int:
        return len(await job_queue.expire_leases(session, queue, now=now))

    async def old_jobs(session: AsyncSession, now: datetime) -> int:
        older_than = timedelta(minutes=job_expiry_minutes)
        return len(await job_queue.time_out_old_jobs(session, queue, now=now, older_than=older_than))

    async def refresh_tokens(session: AsyncSession, now: datetime) -> int:
        # Only expired ones: a rotated or revoked token that is still within its life
        # must stay, so that presenting it again is recognised as reuse.
        result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def data_spec_update(session: AsyncSession, now: datetime) -> int:
        every = timedelta(hours=data_spec_update_hours)
        return await dataspec.submit_scheduled_update(session, queue, now=now, every=every)

    scheduled = [
        Sweep("expired_leases", lease_every, leases),
        Sweep("refresh_tokens", REFRESH_TOKEN_SWEEP_SECONDS, refresh_tokens),
    ]
    if job_expiry_minutes > 0:
        scheduled.append(Sweep("old_jobs", JOB_AGE_SWEEP_SECONDS, old_jobs))
    if data_spec_update_hours > 0:
        every = min(DATA_SPEC_SWEEP_SECONDS, data_spec_update_hours * 3600)
        scheduled.append(Sweep("data_specification_update", every, data_spec_update))
    return scheduled


class Sweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        scheduled: list[Sweep],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessionmaker = sessionmaker
        self.scheduled = scheduled
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(sweep), name=f"sweep-{sweep.name}") for sweep in self.scheduled
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def run_once(self, sweep: Sweep) -> int:
        async with unit_of_work(self._sessionmaker) as session:
            changed = await sweep.run(session, self._clock())
        if changed:
            log.info("sweep", sweep=sweep.name, changed=changed)
        return changed

    async def _loop(self, sweep: Sweep) -> None:
        while True:
            await asyncio.sleep(sweep.every_seconds)
            try:
                await self.run_once(sweep)
            except Exception:
                log.exception("sweep_failed", sweep=sweep.name)
