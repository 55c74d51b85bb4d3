"""One claimed job, from its handler to its report, with heartbeats alongside.

The handler runs as its own task so that a heartbeat can stop it: when the job's
owner cancels (CANCELLED is reported), when the lease is gone (nothing is
reported: the assignment is someone else's now), or when the worker shuts down
past its grace period (the lease is released, so the job runs again elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import AbstractContextManager
from enum import Enum
from pathlib import Path
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from pydantic import BaseModel, ValidationError

from reefguide.jobs.types import JobType
from reefguide.worker.client import WorkerClient
from reefguide.worker.context import Handler, HandlerResult, JobContext
from reefguide.worker.errors import ApiError, ApiUnavailable, LeaseLost, WorkerError
from reefguide.worker.schemas import Claimed

log = structlog.get_logger(__name__)
TRACER_NAME = "reefguide.worker"

# Heartbeats come every third of the lease, but never more often than this.
MIN_HEARTBEAT_SECONDS = 0.1
# When the lease's length cannot be read from the claim (clock trouble).
FALLBACK_HEARTBEAT_SECONDS = 5.0
SUCCEEDED, FAILED, CANCELLED = "SUCCEEDED", "FAILED", "CANCELLED"
# The API keeps errors of up to 20,000 characters; the context around one adds a few.
MAX_ERROR_LENGTH = 19_000


class Stop(Enum):
    """Why a handler was stopped before it returned."""

    CANCEL_REQUESTED = "cancel requested"
    LEASE_LOST = "lease lost"
    SHUTDOWN = "shutdown"


def heartbeat_interval(claimed: Claimed) -> float:
    """A third of the lease, measured on the server's clock (so the worker's may be off)."""
    lease = (claimed.assignment.expires_at - claimed.assignment.created_at).total_seconds()
    if lease <= 0:
        return FALLBACK_HEARTBEAT_SECONDS
    return max(MIN_HEARTBEAT_SECONDS, lease / 3)


def error_text(exc: BaseException) -> str:
    """`Type: message`, cut to what the API keeps."""
    text = str(exc)
    full = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return full if len(full) <= MAX_ERROR_LENGTH else full[: MAX_ERROR_LENGTH - 1] + "…"


def result_payload(job_type: JobType, value: HandlerResult) -> dict[str, Any] | None:
    """What a handler returned, as the API will check it (raises ValidationError)."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        payload: object = value.model_dump(mode="json", by_alias=True)
    elif isinstance(value, Mapping):
        payload = dict(value)
    else:
        raise TypeError(f"a handler returns a mapping, a pydantic model or None, not {type(value).__name__}")
    return job_type.parse_result(payload)


def output_files(root: Path) -> list[str]:
    """Every regular file under `root`, as a relative path with `/`, sorted."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if path.is_file():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


class JobRun:
    def __init__(
        self,
        client: WorkerClient,
        claimed: Claimed,
        job_type: JobType,
        handler: Handler,
        tracer: Tracer | None = None,
    ) -> None:
        self.client = client
        self.claimed = claimed
        self.job_type = job_type
        self.handler = handler
        self.assignment = claimed.assignment
        # A no-op unless a tracer provider is configured.
        self.tracer = tracer or trace.get_tracer(TRACER_NAME)
        self.span: Span = trace.INVALID_SPAN
        self.log = log.bind(
            job_id=claimed.job.id,
            job_type=claimed.job.type,
            assignment_id=claimed.assignment.id,
            attempt=claimed.assignment.attempt,
        )
        self.stopped: Stop | None = None
        self._handler_task: asyncio.Task[HandlerResult] | None = None
        self._context: JobContext[Any] | None = None

    def abandon(self) -> None:
        """Shutdown past the grace period: stop the handler; its lease is then released."""
        if self._handler_task is None and self.stopped is None:
            self.stopped = Stop.SHUTDOWN  # not started yet: it never will be
        self._stop(Stop.SHUTDOWN)

    def _stop(self, reason: Stop) -> None:
        task = self._handler_task
        if task is not None and not task.done() and self.stopped is None:
            self.stopped = reason
            task.cancel()

    async def run(self) -> None:
        """Run the job to its report. Never raises but CancelledError.

        In a span that continues the trace the claim answer carries (that of the
        request that created the job); the heartbeats, uploads and report made within
        it carry it on to the API."""
        with self.tracer.start_as_current_span(
            f"run {self.job_type.name}",
            context=propagate.extract(self.claimed.trace_context or {}),
            kind=SpanKind.CONSUMER,
            attributes={
                "reefguide.job.id": self.claimed.job.id,
                "reefguide.job.type": self.job_type.name,
                "reefguide.assignment.id": self.assignment.id,
                "reefguide.job.attempt": self.assignment.attempt,
            },
        ) as span:
            self.span = span
            await self._run()

    async def _run(self) -> None:
        self.log.info("job started")
        try:
            parsed = self.job_type.input.model_validate(self.claimed.job.input_payload)
        except ValidationError as exc:
            await self._report(FAILED, error=f"Invalid input payload: {error_text(exc)}")
            return
        output_dir = Path(
            await asyncio.to_thread(tempfile.mkdtemp, prefix=f"reefguide-job-{self.claimed.job.id}-")
        )
        beats: asyncio.Task[None] | None = None
        try:
            if self.stopped is Stop.SHUTDOWN:
                await self._release()
                return
            self._context = JobContext(
                job_type=self.job_type,
                job_id=self.claimed.job.id,
                assignment_id=self.assignment.id,
                attempt=self.assignment.attempt,
                input=parsed,
                output_dir=output_dir,
                log=self.log,
            )
            self._handler_task = asyncio.create_task(self._call_handler(self._context))
            beats = asyncio.create_task(self._heartbeats(heartbeat_interval(self.claimed)))
            await asyncio.wait({self._handler_task})
            await self._conclude(self._handler_task, output_dir)
        finally:
            for task in (self._handler_task, beats):
                if task is not None and not task.done():
                    task.cancel()
                    await asyncio.wait({task})
            await asyncio.to_thread(shutil.rmtree, output_dir, ignore_errors=True)

    async def _call_handler(self, context: JobContext[Any]) -> HandlerResult:
        with self.tracer.start_as_current_span("handler"):
            return await self.handler(context)

    async def _conclude(self, handler: asyncio.Task[HandlerResult], output_dir: Path) -> None:
        exc = None if handler.cancelled() else handler.exception()
        if self.stopped is Stop.LEASE_LOST:
            self.log.warning("lease lost: job abandoned without a report")
        elif self.stopped is Stop.SHUTDOWN:
            await self._release()
        elif self.stopped is Stop.CANCEL_REQUESTED:
            await self._report(CANCELLED)
        elif handler.cancelled():
            await self._report(FAILED, error="The handler was cancelled")
        elif exc is not None:
            self.log.error("handler failed", exc_info=exc)
            await self._report(FAILED, error=error_text(exc))
        else:
            await self._succeed(handler.result(), output_dir)

    async def _succeed(self, value: HandlerResult, output_dir: Path) -> None:
        try:
            payload = result_payload(self.job_type, value)
        except (ValidationError, TypeError) as exc:
            await self._report(FAILED, error=f"Invalid result payload: {error_text(exc)}")
            return
        files = await asyncio.to_thread(output_files, output_dir)
        if files:
            try:
                with self.tracer.start_as_current_span(
                    "upload result files", attributes={"reefguide.files": len(files)}
                ):
                    await self.client.upload_files(
                        self.assignment.id, self.assignment.lease_token, output_dir, files
                    )
            except LeaseLost:
                self.log.warning("lease lost while uploading: job abandoned without a report")
                return
            except (WorkerError, OSError) as exc:
                # The files may well upload next time: let the job be tried again.
                await self._report(
                    FAILED, error=f"Uploading result files failed: {error_text(exc)}", retryable=True
                )
                return
            self.log.info("result files uploaded", files=len(files))
        try:
            with self._reporting(SUCCEEDED):
                await self.client.report(
                    self.assignment.id, self.assignment.lease_token, status=SUCCEEDED, result_payload=payload
                )
        except ApiError as exc:
            if isinstance(exc, LeaseLost):
                self.log.warning("lease lost before the result was reported", status=exc.status_code)
                return
            # The API refused the result (e.g. it does not match the type's result schema).
            await self._report(FAILED, error=f"The result was refused: {exc.message}")
            return
        except ApiUnavailable as exc:
            self.log.error("result not reported; the job will be tried again", error=str(exc))
            return
        self.log.info("job succeeded", files=len(files))

    def _reporting(self, status: str, error: str | None = None) -> AbstractContextManager[Span]:
        """The span of reporting the outcome; the run's span records it too."""
        self.span.set_attribute("reefguide.job.outcome", status)
        if status == FAILED:
            self.span.set_status(StatusCode.ERROR, error)
        return self.tracer.start_as_current_span(
            "report result", attributes={"reefguide.job.outcome": status}
        )

    async def _report(self, status: str, *, error: str | None = None, retryable: bool = False) -> None:
        try:
            with self._reporting(status, error):
                await self.client.report(
                    self.assignment.id,
                    self.assignment.lease_token,
                    status=status,
                    error=error,
                    retryable=retryable,
                )
        except LeaseLost as exc:
            self.log.warning(
                "lease lost before the outcome was reported", outcome=status, status=exc.status_code
            )
        except WorkerError as exc:
            self.log.error("outcome not reported", outcome=status, error=str(exc))
        else:
            if status == FAILED:
                self.log.warning("job failed", error=error)
            else:
                self.log.info("job ended", outcome=status)

    async def _release(self) -> None:
        self.span.add_event("released")
        try:
            await self.client.release(self.assignment.id, self.assignment.lease_token)
        except WorkerError as exc:
            self.log.warning("lease not released; it will expire", error=str(exc))
        else:
            self.log.info("job released: it will run again")

    async def _heartbeats(self, interval: float) -> None:
        """Keep the lease, carry progress, and listen for a cancel, until the job ends."""
        assert self._context is not None
        while True:
            await asyncio.sleep(interval)
            fraction, message = self._context.latest_progress
            try:
                answer = await self.client.heartbeat(
                    self.assignment.id, self.assignment.lease_token, progress=fraction, message=message
                )
            except LeaseLost:
                self._stop(Stop.LEASE_LOST)
                self.span.add_event("lease lost")
                self.log.warning("lease lost: stopping the handler")
                return
            except WorkerError as exc:
                # The next beat tries again; a lease that ran out meanwhile answers 409.
                self.log.warning("heartbeat failed", error=str(exc))
                continue
            if answer.cancel_requested and self.stopped is None and not self._handler_done():
                self.span.add_event("cancel requested")
                self.log.info("cancel requested: stopping the handler")
                self._stop(Stop.CANCEL_REQUESTED)

    def _handler_done(self) -> bool:
        return self._handler_task is None or self._handler_task.done()
