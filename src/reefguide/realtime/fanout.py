"""Job events to the sockets that may see them.

`JobEvents` calls `enqueue` in the publisher's stack (right after a commit), so it
only puts the event on a queue; one background task drains it in batches, reads
the batch's requesters in one query, and emits each event once to the union of
its rooms: its owner's, ADMIN, every user the cache answered with the job, and
the job's own room (sockets that subscribed). Socket.IO sends an event addressed
to several rooms once per connection, however many of those rooms it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import socketio
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.jobs.events import JobEvent, JobEvents
from reefguide.jobs.service import job_requesters
from reefguide.realtime.rooms import ADMIN_ROOM, job_room, user_room
from reefguide.realtime.schemas import JOB_UPDATE, JobUpdate

log = structlog.get_logger(__name__)

# Events waiting to be sent. Past this (a stalled Redis, a flood of heartbeats) new
# events are dropped, not the publisher slowed: a client that missed one still has
# `job:subscribe` and the HTTP API.
QUEUE_LIMIT = 10_000
# Events sent per requesters query, at most.
BATCH_LIMIT = 500


def rooms_for(event: JobEvent, requesters: Iterable[int]) -> list[str]:
    rooms = {ADMIN_ROOM, job_room(event.job_id), *(user_room(user_id) for user_id in requesters)}
    if event.user_id is not None:
        rooms.add(user_room(event.user_id))
    return sorted(rooms)


class JobUpdateFanout:
    def __init__(
        self,
        server: socketio.AsyncServer,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        listening: Callable[[], bool] = lambda: True,
    ) -> None:
        """`listening`: whether any socket could hear an update; when none can, events
        are dropped at once (no queue, no requesters query: a busy job platform with
        nobody watching pays nothing for live updates)."""
        self._server = server
        self._listening = listening
        self._sessionmaker = sessionmaker
        self._queue: asyncio.Queue[JobEvent] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.dropped = 0

    def start(self, events: JobEvents) -> None:
        self._task = asyncio.create_task(self._run(), name="realtime-job-updates")
        self._unsubscribe = events.subscribe(self.enqueue, listening=self._listening)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self) -> None:
        """Wait until the events queued so far have been sent."""
        if self._task is not None:
            await self._queue.join()

    def enqueue(self, event: JobEvent) -> None:
        if not self._listening():
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("job updates dropped", dropped=self.dropped, queued=QUEUE_LIMIT)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_LIMIT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.send(batch)
            except Exception:
                log.exception("job updates not sent", events=len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def send(self, batch: list[JobEvent]) -> None:
        requesters = await self._requesters({event.job_id for event in batch})
        for event in batch:
            rooms = rooms_for(event, requesters.get(event.job_id, ()))
            await self._server.emit(JOB_UPDATE, JobUpdate.of(event).wire(), to=rooms)

    async def _requesters(self, job_ids: set[int]) -> dict[int, set[int]]:
        try:
            async with self._sessionmaker() as session:
                return await job_requesters(session, job_ids)
        except (DBAPIError, OSError, TimeoutError) as exc:
            # The owner, admins and subscribers still hear of it.
            log.warning("job requesters unavailable", error=type(exc).__name__, jobs=len(job_ids))
            return {}
