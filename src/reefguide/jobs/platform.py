"""The job platform's running parts, built once per app: the queue and its events,
the claim waker (and on PostgreSQL its LISTEN connection), and the sweeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.db.engine import is_sqlite
from reefguide.jobs.events import ClaimWaker, JobEvents, JobSignals, PgJobListener
from reefguide.jobs.queue import Queue
from reefguide.jobs.sweeper import Sweeper, sweeps
from reefguide.observability.metrics import JobMetrics
from reefguide.settings import Settings
from reefguide.storage import Storage


def _asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@dataclass
class JobPlatform:
    queue: Queue
    events: JobEvents
    waker: ClaimWaker
    sweeper: Sweeper
    listener: PgJobListener | None
    # Set when the server begins to stop: waiting claims answer at once (empty), so the
    # server's graceful stop does not wait out their long polls. A threading.Event:
    # it is set from a signal handler.
    draining: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        storage: Storage,
        clock: Callable[[], datetime],
        metrics: JobMetrics,
    ) -> JobPlatform:
        database_url = settings.effective_database_url
        postgres = not is_sqlite(database_url)
        events, waker = JobEvents(), ClaimWaker()
        queue = Queue(
            storage=storage,
            events=events,
            signals=JobSignals(waker, postgres=postgres),
            lease_seconds=settings.job_lease_seconds,
            metrics=metrics,
        )
        scheduled = sweeps(
            queue,
            lease_every=settings.sweep_interval_seconds,
            job_expiry_minutes=settings.job_expiry_minutes,
            data_spec_update_hours=settings.data_spec_update_interval_hours,
        )
        return cls(
            queue=queue,
            events=events,
            waker=waker,
            sweeper=Sweeper(sessionmaker, scheduled, clock),
            listener=PgJobListener(_asyncpg_dsn(database_url), waker) if postgres else None,
        )

    def start(self) -> None:
        """Start the sweeps and the LISTEN connection. Neither holds up the start: with
        the database down the API still answers (503), and until the listener is
        connected waiting claims still poll."""
        if self.listener is not None:
            self.listener.start()
        self.sweeper.start()

    def drain(self) -> None:
        """The server is stopping: end waiting claims (within a second)."""
        self.draining.set()

    async def stop(self) -> None:
        self.drain()
        await self.sweeper.stop()
        if self.listener is not None:
            await self.listener.stop()
