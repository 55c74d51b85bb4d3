"""What a handler is given (JobContext) and what it may return."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
from pydantic import BaseModel

from reefguide.jobs.types import JobType

InputT = TypeVar("InputT", bound=BaseModel)

# A handler returns its result: a mapping, the type's result model, or None (no payload).
HandlerResult = Mapping[str, Any] | BaseModel | None
Handler = Callable[["JobContext[Any]"], Awaitable[HandlerResult]]
HandlerT = TypeVar("HandlerT", bound=Handler)

# The API keeps at most this much of a progress message.
MAX_MESSAGE_LENGTH = 2000


class JobContext(Generic[InputT]):
    """One job as its handler sees it.

    `input` is the job's payload parsed with its type's input model (annotate the
    handler's parameter as `JobContext[TestInput]` and it is typed as such). Files
    written under `output_dir` are uploaded when the handler returns, with their
    paths relative to it. `progress()` is sent with the next heartbeat.
    """

    def __init__(
        self,
        *,
        job_type: JobType,
        job_id: int,
        assignment_id: int,
        attempt: int,
        input: InputT,
        output_dir: Path,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.job_type = job_type
        self.job_id = job_id
        self.assignment_id = assignment_id
        self.attempt = attempt
        self.input = input
        self.output_dir = output_dir
        self.log = log
        self._progress: float | None = None
        self._message: str | None = None

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record how far the job is (0 to 1, clamped) and what it is doing."""
        if not math.isfinite(fraction):
            raise ValueError(f"progress must be a finite number, not {fraction!r}")
        self._progress = min(1.0, max(0.0, float(fraction)))
        self._message = None if message is None else message[:MAX_MESSAGE_LENGTH]

    @property
    def latest_progress(self) -> tuple[float | None, str | None]:
        """The last `progress()` call's fraction and message (None before the first)."""
        return self._progress, self._message
