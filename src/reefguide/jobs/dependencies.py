"""What job routes (and routes that submit jobs) take from the app: its queue and clock.

async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from reefguide.db.base import utcnow
from reefguide.jobs.queue import Queue


async def _queue(request: Request) -> Queue:
    queue: Queue = request.app.state.queue
    return queue


async def _clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = getattr(request.app.state, "clock", utcnow)
    return clock


QueueDep = Annotated[Queue, Depends(_queue)]
ClockDep = Annotated[Callable[[], datetime], Depends(_clock)]
