"""The worker loop: claim jobs (long poll), run each with its handler, shut down cleanly.

worker = Worker(client)

@worker.handler("TEST")
async def run_test(ctx: JobContext[TestInput]) -> TestResult:
    ctx.progress(0.5, "halfway")
    (ctx.output_dir / "summary.json").write_text("{}")
    return TestResult()

await worker.run()  # until idle for `idle_timeout`, or stop() and the grace period
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from reefguide.jobs.types import JobType, get_job_type
from reefguide.worker.client import DEFAULT_RETRY, NO_RETRY, RetryPolicy, WorkerClient
from reefguide.worker.context import Handler, HandlerT
from reefguide.worker.errors import ApiUnavailable, WorkerError
from reefguide.worker.job import TRACER_NAME, JobRun
from reefguide.worker.schemas import Claimed

log = structlog.get_logger(__name__)

# After the grace period, how long cancelled jobs get to release their leases.
RELEASE_SECONDS = 10.0
# Between failed claims: exponential backoff with jitter, never a tight loop, until it works.
CLAIM_BACKOFF = RetryPolicy(attempts=None, base_seconds=DEFAULT_RETRY.base_seconds, cap_seconds=30.0)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    """Claims jobs of its types and runs at most `max_concurrent_jobs` of them at once.

    `poll_interval`: pause after a claim that found nothing. `idle_timeout`: return
    from run() after this long with nothing to do (None or 0: never).
    `claim_wait_seconds`: how long each claim waits on the server for a job.
    `grace_seconds`: after stop(), how long running jobs may take to finish before
    they are cancelled and their leases released. `claim_retry`: the backoff between
    failed claims (its `attempts` is ignored: claims are tried until stopped or idle).
    `tracer_provider`: where the spans of job runs go (default: the global provider,
    a no-op unless one was set).
    """

    def __init__(
        self,
        client: WorkerClient,
        *,
        handlers: Mapping[str, Handler] | None = None,
        job_types: Sequence[str] | None = None,
        max_concurrent_jobs: int = 1,
        poll_interval: float = 2.0,
        idle_timeout: float | None = 300.0,
        claim_wait_seconds: float = 20.0,
        grace_seconds: float = 30.0,
        worker_id: str | None = None,
        claim_retry: RetryPolicy = CLAIM_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        self.client = client
        self.max_concurrent_jobs = max_concurrent_jobs
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout or None
        self.claim_wait_seconds = claim_wait_seconds
        self.grace_seconds = grace_seconds
        self.claim_retry = claim_retry
        self.worker_id = worker_id or default_worker_id()
        self._clock = clock
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)
        self._handlers: dict[str, Handler] = {}
        self._types: list[str] | None = None if job_types is None else list(job_types)
        for name, handler in (handlers or {}).items():
            self.register(name, handler)
        self._running: dict[asyncio.Task[None], JobRun] = {}
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        self._grace_deadline: float | None = None
        self._last_busy = clock()

    # Handlers.

    def register(self, job_type: str | JobType, handler: Handler) -> None:
        declared = _declared(job_type)
        self._handlers[declared.name] = handler

    def handler(self, job_type: str | JobType) -> Callable[[HandlerT], HandlerT]:
        """Register the decorated coroutine function as the handler of `job_type`."""

        def register(handler: HandlerT) -> HandlerT:
            self.register(job_type, handler)
            return handler

        return register

    @property
    def job_types(self) -> list[str]:
        """The types this worker claims: those it was given, else every type it has a handler for."""
        return list(self._types) if self._types is not None else sorted(self._handlers)

    def check(self) -> None:
        """Raise ValueError unless every type to claim is declared and has a handler."""
        types = self.job_types
        if not types:
            raise ValueError("No job types to claim: register a handler or name the types")
        for name in types:
            _declared(name)
            if name not in self._handlers:
                known = ", ".join(sorted(self._handlers)) or "none"
                raise ValueError(f"No handler for job type {name} (handlers: {known})")

    # Stopping.

    def stop(self) -> None:
        """Stop claiming; running jobs get `grace_seconds` to finish. A second call
        ends the grace period at once. Safe to call from a signal handler in the loop."""
        if self._stopping.is_set():
            self._hurry.set()
            return
        self._grace_deadline = self._clock() + self.grace_seconds
        self._stopping.set()
        log.info("stopping: no more claims", running=len(self._running), grace_seconds=self.grace_seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # The loop.

    async def run(self) -> None:
        """Claim and run jobs until stopped or idle. Raises AuthenticationFailed or
        ApiError when the API refuses this worker (bad credentials, unknown types)."""
        self.check()
        types = self.job_types
        log.info(
            "worker started",
            api=self.client.api_url,
            job_types=types,
            max_concurrent_jobs=self.max_concurrent_jobs,
            worker_id=self.worker_id,
        )
        self._last_busy = self._clock()
        try:
            await self._claim_until_stopped(types)
        finally:
            await self._drain()

    async def _claim_until_stopped(self, types: list[str]) -> None:
        failures = 0
        while not self._stopping.is_set():
            free = self.max_concurrent_jobs - len(self._running)
            if free <= 0:
                await self._wait_any(self._running, stop=True)
                continue
            wait = self.claim_wait_seconds
            if self.idle_timeout is not None:
                if self._running:
                    # The idle countdown starts when these jobs end; a claim made now
                    # must not keep the worker waiting on the server long past it.
                    wait = min(wait, self.idle_timeout)
                else:
                    idle_left = self.idle_timeout - (self._clock() - self._last_busy)
                    if idle_left <= 0:
                        log.info("idle: exiting", idle_seconds=round(self._clock() - self._last_busy, 3))
                        return
                    wait = min(wait, idle_left)
            try:
                claimed = await self._claim(types, free, wait)
            except ApiUnavailable as exc:
                failures += 1
                delay = self.claim_retry.delay(failures, random.random)
                log.warning("claim failed; trying again", error=str(exc), retry_in=round(delay, 3))
                await self._pause(delay)
                continue
            failures = 0
            if self._stopping.is_set():
                await asyncio.gather(*(self._give_back(item) for item in claimed))
                return
            strays = [item for item in claimed if item.job.type not in self._handlers]
            if strays:  # never expected: the claim names our types
                log.error("claimed jobs of a type without a handler", job_ids=[i.job.id for i in strays])
                await asyncio.gather(*(self._give_back(item) for item in strays))
            for item in claimed:
                if item.job.type in self._handlers:
                    self._start(item)
            if not claimed:
                pause = self.poll_interval
                if self.idle_timeout is not None and not self._running:
                    pause = min(pause, max(0.0, self.idle_timeout - (self._clock() - self._last_busy)))
                await self._pause(pause)

    async def _claim(self, types: list[str], free: int, wait: float) -> list[Claimed]:
        """One claim. A stop meanwhile lets it finish within the grace period (what it
        brings is then given back), since a claim dropped mid-wait may still take a job
        that nobody would hear of until its lease ran out."""
        claim = asyncio.create_task(
            self.client.claim(types, limit=free, wait_seconds=wait, worker_id=self.worker_id, retry=NO_RETRY)
        )
        try:
            await self._wait_any([claim], stop=True)
            if not claim.done():
                await self._wait_all([claim], until=self._grace_deadline)
        finally:
            if not claim.done():
                claim.cancel()
                await asyncio.wait({claim})
        return [] if claim.cancelled() else claim.result()

    def _start(self, claimed: Claimed) -> None:
        job_type = _declared(claimed.job.type)
        run = JobRun(self.client, claimed, job_type, self._handlers[job_type.name], self._tracer)
        task = asyncio.create_task(run.run(), name=f"job-{claimed.job.id}")
        self._running[task] = run
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        run = self._running.pop(task, None)
        self._last_busy = self._clock()
        if not task.cancelled() and (exc := task.exception()) is not None and run is not None:
            run.log.error("job run crashed", exc_info=exc)

    async def _give_back(self, claimed: Claimed) -> None:
        try:
            await self.client.release(claimed.assignment.id, claimed.assignment.lease_token)
        except WorkerError as exc:
            log.warning(
                "claimed job not released; its lease will expire", job_id=claimed.job.id, error=str(exc)
            )
        else:
            log.info("claimed job released: stopping", job_id=claimed.job.id)

    async def _drain(self) -> None:
        """Let running jobs finish within the grace period, then cancel and release them."""
        if not self._running:
            return
        if self._grace_deadline is None:  # run() is ending on an error: no grace
            self._grace_deadline = self._clock()
        log.info("waiting for running jobs", running=len(self._running))
        await self._wait_all(list(self._running), until=self._grace_deadline)
        late = dict(self._running)
        if not late:
            return
        log.warning("grace period over: cancelling jobs and releasing their leases", jobs=len(late))
        for run in late.values():
            run.abandon()
        await self._wait_all(list(late), until=self._clock() + RELEASE_SECONDS, hurry=False)
        for task in late:
            if not task.done():
                task.cancel()
        await asyncio.wait(late)

    # Waiting.

    def _watchers(self, *, stop: bool, hurry: bool) -> list[asyncio.Task[bool]]:
        watchers: list[asyncio.Task[bool]] = []
        if stop:
            watchers.append(asyncio.create_task(self._stopping.wait()))
        if hurry and self._stopping.is_set():
            watchers.append(asyncio.create_task(self._hurry.wait()))
        return watchers

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless a stop comes first."""
        await self._wait_any([], stop=True, until=self._clock() + seconds)

    async def _wait_any(
        self, tasks: Iterable[asyncio.Task[Any]], *, stop: bool = False, until: float | None = None
    ) -> None:
        """Until one of `tasks` is done, a stop (with `stop`), a second stop, or `until`."""
        watchers = self._watchers(stop=stop, hurry=True)
        timeout = None if until is None else max(0.0, until - self._clock())
        try:
            await asyncio.wait({*tasks, *watchers}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def _wait_all(
        self, tasks: Iterable[asyncio.Task[Any]], *, until: float | None, hurry: bool = True
    ) -> None:
        """Until all of `tasks` are done, a second stop (with `hurry`), or `until`."""
        pending = {task for task in tasks if not task.done()}
        watchers = self._watchers(stop=False, hurry=hurry)
        try:
            while pending and not any(watcher.done() for watcher in watchers):
                timeout = None if until is None else until - self._clock()
                if timeout is not None and timeout <= 0:
                    return
                await asyncio.wait(
                    {*pending, *watchers}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                pending = {task for task in pending if not task.done()}
        finally:
            for watcher in watchers:
                watcher.cancel()


def _declared(job_type: str | JobType) -> JobType:
    if isinstance(job_type, JobType):
        return job_type
    declared = get_job_type(job_type)
    if declared is None:
        raise ValueError(f"Unknown job type {job_type}")
    return declared
