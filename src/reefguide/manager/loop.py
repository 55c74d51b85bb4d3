"""The capacity manager's loop: read the backlog, count each pool's workers, launch
what the formula asks for, and wait for the next poll.

Everything it learns comes over HTTP (`GET /api/jobs/stats`, the whole backlog per
type) and from the compute backend (the workers it launched that are still alive);
the only state it keeps is when it last launched for each pool. A poll that fails
(API unreachable, backend error) is logged and the next one comes later, backing off
up to a minute; the loop itself never stops for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import structlog
from opentelemetry import trace

from reefguide.cluster.base import ComputeBackend, Pool
from reefguide.manager.formula import Decision, decide
from reefguide.manager.schemas import StatsAnswer
from reefguide.worker.client import RetryPolicy, WorkerClient
from reefguide.worker.errors import ApiError, WorkerError

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("reefguide.manager")

# Reading the backlog: a few quick tries; past them the poll fails and the loop backs off.
STATS_RETRY = RetryPolicy(attempts=3, cap_seconds=5.0)
# After failed polls the next waits longer (interval · 2^n with jitter), up to this.
MAX_BACKOFF_SECONDS = 60.0
# Unhealthy when no poll has succeeded for this many intervals, and at least this long.
STALE_POLLS = 5
STALE_MIN_SECONDS = 30.0
# On stop, a poll under way gets this long to finish (it may be launching) before it is cancelled.
STOP_GRACE_SECONDS = 10.0


@dataclass
class PollOutcome:
    decisions: list[Decision] = field(default_factory=list)
    # What went wrong, one line each; empty when the poll did all it had to.
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class BacklogUnavailable(Exception):
    """The backlog could not be read (a reason the poll fails, as an API error is)."""


class Backlog(Protocol):
    async def pending_by_type(self) -> dict[str, int]:
        """The whole backlog per job type."""
        ...


class HttpBacklog:
    """The backlog as the API counts it, `GET /api/jobs/stats` (a standalone manager)."""

    def __init__(self, client: WorkerClient) -> None:
        self._client = client

    async def pending_by_type(self) -> dict[str, int]:
        response = await self._client.request("GET", "jobs/stats", retry=STATS_RETRY)
        answer = StatsAnswer.model_validate(response.json())
        return {name: stats.pending for name, stats in answer.job_types.items()}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class CapacityManager:
    def __init__(
        self,
        backlog: Backlog,
        backend: ComputeBackend,
        pools: Sequence[Pool],
        *,
        poll_interval: float = 3.0,
        dry_run: bool = False,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.pools = tuple(pools)
        self.poll_interval = poll_interval
        self.dry_run = dry_run
        self._backlog = backlog
        self._backend = backend
        self._clock = clock
        self._draw = draw
        self._stop_grace = stop_grace
        self._backoff = RetryPolicy(
            attempts=None,
            base_seconds=poll_interval,
            cap_seconds=max(poll_interval, MAX_BACKOFF_SECONDS),
            floor_seconds=poll_interval,
        )
        self._last_launch: dict[str, float] = {}
        self._last_logged: dict[str, tuple[int, int, int, int]] = {}
        self._started = clock()
        self._last_success: float | None = None
        self._stopping = asyncio.Event()

    # Health.

    @property
    def stale_after(self) -> float:
        return max(STALE_POLLS * self.poll_interval, STALE_MIN_SECONDS)

    def healthy(self) -> bool:
        """A poll succeeded lately (or the manager started lately and is still trying)."""
        since = self._last_success if self._last_success is not None else self._started
        return self._clock() - since <= self.stale_after

    # One poll.

    async def poll_once(self) -> PollOutcome:
        """Read the backlog, then for each pool count its workers and launch the difference."""
        # A span per poll (a no-op unless tracing is on): its log lines and its stats
        # request share one trace id.
        with tracer.start_as_current_span("capacity poll"):
            return await self._poll()

    async def _poll(self) -> PollOutcome:
        outcome = PollOutcome()
        # ValueError: an answer that is not JSON, or not the stats' shape (ValidationError).
        try:
            pending = await self._backlog.pending_by_type()
        except (WorkerError, httpx.HTTPError, ValueError, BacklogUnavailable) as exc:
            status = exc.status_code if isinstance(exc, ApiError) else None
            log.error("cannot read the job backlog", error=_describe(exc), status=status)
            outcome.errors.append(f"GET jobs/stats: {_describe(exc)}")
            return outcome
        for pool in self.pools:
            decision, error = await self._serve_pool(
                pool, sum(pending.get(name, 0) for name in pool.job_types)
            )
            if decision is not None:
                outcome.decisions.append(decision)
            if error is not None:
                outcome.errors.append(error)
        if outcome.ok:
            self._last_success = self._clock()
        return outcome

    async def _serve_pool(self, pool: Pool, pending: int) -> tuple[Decision | None, str | None]:
        # A backend is another system (AWS, processes): whatever it raises is logged and
        # the pool is served again next poll. Never launch blind: no count, no launch.
        try:
            tracked = len(await self._backend.running(pool))
        except Exception as exc:
            log.error("cannot count the pool's workers", pool=pool.name, error=_describe(exc))
            return None, f"{pool.name}: running: {_describe(exc)}"
        now = self._clock()
        last = self._last_launch.get(pool.name)
        decision = decide(
            pool, pending=pending, tracked=tracked, since_last_launch=None if last is None else now - last
        )
        self._log_decision(pool, decision)
        if decision.launches == 0:
            return decision, None
        if self.dry_run:
            # The cooldown runs as if the launch had happened, so the log reads like the real thing.
            self._last_launch[pool.name] = now
            log.info("dry run: launch skipped", pool=pool.name, count=decision.launches)
            return decision, None
        try:
            started = await self._backend.launch(pool, decision.launches)
        except Exception as exc:
            log.error("cannot launch workers", pool=pool.name, count=decision.launches, error=_describe(exc))
            return decision, f"{pool.name}: launch: {_describe(exc)}"
        if started:
            self._last_launch[pool.name] = now
        if len(started) < decision.launches:
            log.warning(
                "fewer workers launched than asked",
                pool=pool.name,
                asked=decision.launches,
                launched=len(started),
                workers=started,
            )
        else:
            log.info("workers launched", pool=pool.name, count=len(started), workers=started)
        return decision, None

    def _log_decision(self, pool: Pool, decision: Decision) -> None:
        # Every poll decides for every pool; a line at INFO when something changed or
        # something is launched, at DEBUG otherwise, so a steady state is not a flood.
        key = (decision.pending, decision.tracked, decision.target, decision.launches)
        changed = self._last_logged.get(pool.name) != key
        self._last_logged[pool.name] = key
        emit = log.info if changed or decision.launches else log.debug
        emit(
            "capacity decision",
            pool=pool.name,
            job_types=list(pool.job_types),
            pending=decision.pending,
            tracked=decision.tracked,
            target=decision.target,
            launches=decision.launches,
            cooldown_remaining=round(decision.cooldown_remaining, 3),
            min_capacity=pool.min_capacity,
            max_capacity=pool.max_capacity,
            dry_run=self.dry_run,
        )

    # The loop.

    def stop(self) -> None:
        """Ask the loop to end: at once between polls, or when the poll under way ends."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Poll until stopped."""
        failures = 0
        while not self._stopping.is_set():
            outcome = await self._poll_unless_stopped()
            if outcome is None:
                break
            failures = 0 if outcome.ok else failures + 1
            delay = self.poll_interval
            if failures:
                delay = self._backoff.delay(failures, self._draw)
                log.warning("poll failed; next poll later", failures=failures, retry_in=round(delay, 3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _poll_unless_stopped(self) -> PollOutcome | None:
        """One poll, cut short (after a grace) when a stop comes meanwhile; None if it was."""
        poll = asyncio.create_task(self.poll_once())
        stopped = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not poll.done():
                await asyncio.wait({poll}, timeout=self._stop_grace)
            if poll.done():
                return poll.result()
            log.warning("stopping in the middle of a poll", grace_seconds=self._stop_grace)
            return None
        finally:
            stopped.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
