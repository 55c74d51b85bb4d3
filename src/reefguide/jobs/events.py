"""What happens to jobs, told to whoever listens, once it has committed.

Two audiences: `JobEvents` carries every state change and progress report (the
realtime layer forwards them to browsers), and `ClaimWaker` wakes workers
long-polling for a job type when a job of that type becomes claimable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.db.session import after_commit

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JobEvent:
    job_id: int
    type: str
    status: str
    user_id: int | None
    progress: float | None
    message: str | None
    updated_at: datetime


Listener = Callable[[JobEvent], None]


class JobEvents:
    """In-process fan-out. Listeners are called in the event loop's thread and must
    not block (put the event on a queue and return)."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, Callable[[], bool]]] = []

    def subscribe(
        self, listener: Listener, *, listening: Callable[[], bool] = lambda: True
    ) -> Callable[[], None]:
        """`listening`: whether the listener wants events now. While no listener does,
        events are not even built (publish_after_commit takes them lazily)."""
        entry = (listener, listening)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

    def listened(self) -> bool:
        return any(listening() for _, listening in self._listeners)

    def publish(self, event: JobEvent) -> None:
        for listener, listening in list(self._listeners):
            if not listening():
                continue
            try:
                listener(event)
            except Exception:
                log.exception("job_event_listener_failed", job_id=event.job_id)

    def publish_after_commit(self, session: AsyncSession, events: Iterable[JobEvent]) -> None:
        """Publish `events` once the session's transaction commits. They are taken
        now (a generator is run to its end here), and only if someone listens."""
        if not self.listened():
            return
        pending = list(events)

        def publish_all() -> None:
            for event in pending:
                self.publish(event)

        if pending:
            after_commit(session, publish_all)


class ClaimWaker:
    """Long-polling claims wait here; each job that becomes claimable wakes one
    waiter of its type (the oldest), so a burst of jobs does not wake every worker
    for every job. A woken claim that finds nothing simply waits again."""

    def __init__(self) -> None:
        self._waiters: dict[str, deque[asyncio.Event]] = defaultdict(deque)

    def notify(self, job_type: str, count: int = 1) -> None:
        waiters = self._waiters.get(job_type)
        while waiters and count > 0:
            waiter = waiters.popleft()
            if not waiter.is_set():
                waiter.set()
                count -= 1

    async def wait(self, job_types: Iterable[str], seconds: float) -> bool:
        """True when woken, False after `seconds`."""
        waiter = asyncio.Event()
        types = list(job_types)
        for job_type in types:
            self._waiters[job_type].append(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter.wait()
            return True
        except TimeoutError:
            return False
        finally:
            for job_type in types:
                queue = self._waiters.get(job_type)
                if queue is not None and waiter in queue:
                    queue.remove(waiter)
                    if not queue:
                        del self._waiters[job_type]


NOTIFY_CHANNEL = "reefguide_jobs"


class JobSignals:
    """Says that jobs of a type became claimable, to every API process.

    On PostgreSQL it sends NOTIFY in the same transaction (PostgreSQL delivers it
    only on commit) and each process's `PgJobListener` wakes its own waiters; on
    SQLite (one process) it wakes the waiters itself after the commit."""

    def __init__(self, waker: ClaimWaker, *, postgres: bool) -> None:
        self.waker = waker
        self.postgres = postgres

    async def announce(self, session: AsyncSession, job_type: str, count: int = 1) -> None:
        if count <= 0:
            return
        if self.postgres:
            payload = f"{count}:{job_type}"
            await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))
        else:
            after_commit(session, lambda: self.waker.notify(job_type, count))


def parse_notification(payload: str) -> tuple[str, int] | None:
    count, _, job_type = payload.partition(":")
    if not count.isdigit() or not job_type:
        return None
    return job_type, int(count)


class PgJobListener:
    """One LISTEN connection per API process, kept open (reconnecting after a loss)
    for as long as the process runs. Missed notifications only cost latency: a
    waiting claim also polls."""

    RETRY_SECONDS = 2.0

    def __init__(self, dsn: str, waker: ClaimWaker) -> None:
        self._dsn = dsn
        self._waker = waker
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-job-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        parsed = parse_notification(payload)
        if parsed is not None:
            self._waker.notify(*parsed)

    async def _run(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("job_listener_connect_failed", error=str(error))
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            try:
                await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self.connected.set()
                await lost.wait()
                log.warning("job_listener_connection_lost")
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("job_listener_failed", error=str(error))
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
            await asyncio.sleep(self.RETRY_SECONDS)
