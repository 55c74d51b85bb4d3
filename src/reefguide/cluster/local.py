"""Workers as child processes of this one: `reefguide worker` with a given environment.

Two kinds of worker. Launched ones (the capacity manager's) serve one pool's job
types and exit by themselves once idle. Always-on ones (an admin's `scale`) never
idle out: a supervision task restarts any that end, and `redeploy` replaces them,
starting the new ones before it stops the old. `status()` describes the always-on
workers the way ECS describes a service; launched ones appear in its events.

Children are reaped by asyncio's child watcher as they end, so none is left a
zombie; this module forgets them when it next looks. They run in a session of
their own (a Ctrl-C in the terminal reaches the server, which stops them in order)
and, on Linux, get SIGTERM if this process dies without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shlex
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import structlog

from reefguide.cluster.base import (
    BackendError,
    BackendUnavailable,
    ClusterEvent,
    ClusterStatus,
    Deployment,
    Pool,
    RunningWorker,
)

log = structlog.get_logger(__name__)

# How long a SIGTERM'd worker may finish its jobs before it releases them (its own
# --grace-seconds), and how long this backend waits for it before SIGKILL.
WORKER_GRACE_SECONDS = 10.0
STOP_GRACE_SECONDS = 20.0
# Launched workers exit after this long without work (the worker's own default).
DEFAULT_IDLE_TIMEOUT_MS = "300000"
# A started worker counts as PENDING this long, then RUNNING; one that ends sooner
# failed to start, and the next restart waits (doubling up to the cap).
READY_SECONDS = 2.0
RESTART_BACKOFF_SECONDS = 1.0
RESTART_BACKOFF_CAP_SECONDS = 60.0
SUPERVISE_INTERVAL_SECONDS = 1.0
EVENTS_KEPT = 100
EVENTS_SHOWN = 5
# After SIGKILL, how long to wait for the kernel to report the end.
KILL_WAIT_SECONDS = 5.0
PR_SET_PDEATHSIG = 1


def default_command() -> list[str]:
    """`reefguide worker` run by this interpreter (the console script may not be on PATH)."""
    return [sys.executable, "-m", "reefguide", "worker", "--grace-seconds", str(WORKER_GRACE_SECONDS)]


@dataclass(eq=False)
class _Child:
    process: asyncio.subprocess.Process
    # The pool of a launched worker; None for an always-on one.
    pool: str | None
    # The deployment an always-on worker belongs to (0 for launched ones).
    generation: int
    started_at: datetime
    started: float  # monotonic
    stopping_since: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ended(self) -> bool:
        return self.process.returncode is not None

    def ready(self, now: float, ready_seconds: float) -> bool:
        return now - self.started >= ready_seconds


class LocalBackend:
    name = "local"

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        command: Sequence[str] | None = None,
        service_job_types: Sequence[str] = (),
        cwd: Path | None = None,
        unavailable: str | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
        ready_seconds: float = READY_SECONDS,
        supervise_interval_seconds: float = SUPERVISE_INTERVAL_SECONDS,
        restart_backoff_seconds: float = RESTART_BACKOFF_SECONDS,
        restart_backoff_cap_seconds: float = RESTART_BACKOFF_CAP_SECONDS,
    ) -> None:
        """`env`: the whole environment of every worker (API_ENDPOINT, a credential,
        IDLE_TIMEOUT_MS …); each pool's JOB_TYPES and the idle timeout are set on top.
        `command`: what a worker runs (default: `reefguide worker`). `service_job_types`:
        what always-on workers claim (default: JOB_TYPES of `env`, else every built-in).
        `unavailable`: why no worker can start (e.g. no credential); launch, scale and
        redeploy then raise BackendUnavailable with it, while status still answers."""
        self._env = dict(env)
        self._command = list(command) if command is not None else default_command()
        self._service_job_types = tuple(service_job_types)
        self._cwd = cwd
        self._unavailable = unavailable
        self._stop_grace = stop_grace_seconds
        self._ready_seconds = ready_seconds
        self._interval = supervise_interval_seconds
        self._backoff = (restart_backoff_seconds, restart_backoff_cap_seconds)

        self._launched: dict[str, list[_Child]] = {}
        self._service: list[_Child] = []
        self._desired = 0
        self._generation = 1
        self._failed: dict[int, int] = {}
        self._rolled_out = True
        self._quick_failures = 0
        self._restart_at = 0.0
        self._events: deque[ClusterEvent] = deque(maxlen=EVENTS_KEPT)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False

    # The protocol.

    async def launch(self, pool: Pool, count: int = 1) -> list[str]:
        self._check_usable()
        env = {**self._env, "IDLE_TIMEOUT_MS": self._env.get("IDLE_TIMEOUT_MS", DEFAULT_IDLE_TIMEOUT_MS)}
        if env["IDLE_TIMEOUT_MS"].strip() in {"", "0"}:
            env["IDLE_TIMEOUT_MS"] = DEFAULT_IDLE_TIMEOUT_MS  # launched workers must go when idle
        if pool.job_types:
            env["JOB_TYPES"] = ",".join(pool.job_types)
        started: list[str] = []
        async with self._lock:
            self._reap()
            for _ in range(count):
                child = await self._spawn(env, pool=pool.name, generation=0)
                self._launched.setdefault(pool.name, []).append(child)
                self._event(f"started worker pid {child.pid} for pool {pool.name}")
                started.append(str(child.pid))
        self._ensure_supervisor()
        return started

    async def running(self, pool: Pool) -> list[RunningWorker]:
        async with self._lock:
            self._reap()
            now = time.monotonic()
            return [
                RunningWorker(
                    id=str(child.pid),
                    pool=pool.name,
                    status=self._state(child, now),
                    started_at=child.started_at,
                )
                for child in self._launched.get(pool.name, [])
            ]

    async def status(self) -> ClusterStatus:
        async with self._lock:
            self._reap()
            now = time.monotonic()
            self._note_rollout(now)
            states = [self._state(child, now) for child in self._service]
            generations = sorted({child.generation for child in self._service} | {self._generation})
            deployments = [self._deployment(generation, now) for generation in reversed(generations)]
            return ClusterStatus(
                runningCount=states.count("RUNNING"),
                pendingCount=states.count("PENDING"),
                desiredCount=self._desired,
                deployments=deployments,
                events=list(self._events)[-EVENTS_SHOWN:][::-1],
                serviceStatus="INACTIVE" if self._closed else "ACTIVE",
            )

    async def scale(self, desired_count: int) -> None:
        if desired_count < 0:
            raise BackendError("The desired count must be 0 or more")
        if desired_count > 0:
            self._check_usable()
        elif self._closed:
            raise BackendUnavailable("The local compute backend is closed")
        async with self._lock:
            if desired_count != self._desired:
                self._event(f"desired count set to {desired_count}")
            self._desired = desired_count
            # An admin's request is a fresh start: no waiting out an earlier crash loop.
            self._quick_failures, self._restart_at = 0, 0.0
            await self._converge()
        self._ensure_supervisor()

    async def redeploy(self) -> None:
        self._check_usable()
        async with self._lock:
            self._generation += 1
            self._rolled_out = False
            self._quick_failures, self._restart_at = 0, 0.0
            self._event(f"deployment {self._generation} started")
            await self._converge()
        self._ensure_supervisor()

    async def close(self) -> None:
        """Stop supervising, SIGTERM every worker, SIGKILL those still running after
        the grace period."""
        self._closed = True
        self._stopping.set()
        if self._supervisor is not None:
            # A round still running after that is cancelled by wait_for.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._supervisor, self._interval + KILL_WAIT_SECONDS)
            self._supervisor = None
        async with self._lock:
            children = [c for c in (*self._service, *self._all_launched()) if not c.ended]
            now = time.monotonic()
            for child in children:
                if child.stopping_since is None:
                    child.stopping_since = now
                self._signal(child, signal.SIGTERM)
            waits = [asyncio.ensure_future(child.process.wait()) for child in children]
            if waits:
                _done, pending = await asyncio.wait(waits, timeout=self._stop_grace)
                for child in children:
                    if not child.ended:
                        self._signal(child, signal.SIGKILL)
                        log.warning("worker did not stop in time: killed", pid=child.pid)
                if pending:
                    await asyncio.wait(pending, timeout=KILL_WAIT_SECONDS)
                for wait in waits:
                    wait.cancel()
            self._service.clear()
            self._launched.clear()

    def hurry(self) -> None:
        """Workers being stopped get SIGTERM again, their second: they cancel their
        jobs and release them at once rather than finishing them in their grace."""
        for child in (*self._service, *self._all_launched()):
            if child.stopping_since is not None:
                self._signal(child, signal.SIGTERM)

    # Supervision.

    def _ensure_supervisor(self) -> None:
        if self._supervisor is None and not self._closed:
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name="local-workers-supervisor"
            )

    async def _supervise(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if self._stopping.is_set():
                return
            try:
                async with self._lock:
                    await self._converge()
            except BackendError as exc:
                # Logged and kept in the events; the next round tries again after a pause.
                log.error("cannot keep the always-on workers running", error=str(exc))
            except Exception:
                log.exception("local worker supervision failed; it goes on")

    async def _converge(self) -> None:
        """One round: forget ended workers, bring the current deployment to the desired
        count, stop the old deployment once the new one is up, kill overdue stoppers.
        Called with the lock held."""
        now = time.monotonic()
        self._reap()
        current = [c for c in self._service if c.generation == self._generation and c.stopping_since is None]
        if len(current) > self._desired:
            # The newest go first: the oldest have warmed up (caches, connections).
            current.sort(key=lambda c: c.started)
            for child in current[self._desired :]:
                self._stop(child, now)
            current = current[: self._desired]
        elif len(current) < self._desired and now >= self._restart_at:
            env = {**self._env, "IDLE_TIMEOUT_MS": "0"}
            if self._service_job_types:
                env["JOB_TYPES"] = ",".join(self._service_job_types)
            for _ in range(self._desired - len(current)):
                try:
                    child = await self._spawn(env, pool=None, generation=self._generation)
                except BackendError as exc:
                    self._note_failed_start(str(exc), now)
                    raise
                self._service.append(child)
                current.append(child)
                self._event(f"started worker pid {child.pid}")
        old = [c for c in self._service if c.generation != self._generation and c.stopping_since is None]
        if old and len(current) >= self._desired and all(c.ready(now, self._ready_seconds) for c in current):
            for child in old:
                self._stop(child, now)
        for child in self._service:
            if child.stopping_since is not None and now - child.stopping_since > self._stop_grace:
                self._signal(child, signal.SIGKILL)
        self._note_rollout(now)

    def _rollout_complete(self, now: float) -> bool:
        """The current deployment has its desired count up, and no older one is left."""
        live = [c for c in self._service if c.stopping_since is None]
        return (
            all(c.generation == self._generation for c in self._service)
            and len(live) == self._desired
            and all(c.ready(now, self._ready_seconds) for c in live)
        )

    def _note_rollout(self, now: float) -> None:
        if not self._rolled_out and self._rollout_complete(now):
            self._rolled_out = True
            self._event(f"deployment {self._generation} completed")

    def _reap(self) -> None:
        """Forget the workers that have ended, noting why in the events."""
        now = time.monotonic()
        for pool, children in list(self._launched.items()):
            for child in [c for c in children if c.ended]:
                code = child.process.returncode
                self._event(f"worker pid {child.pid} of pool {pool} exited with code {code}")
            alive = [c for c in children if not c.ended]
            if alive:
                self._launched[pool] = alive
            else:
                del self._launched[pool]
        for child in [c for c in self._service if c.ended]:
            code = child.process.returncode
            self._service.remove(child)
            if child.stopping_since is not None:
                self._event(f"worker pid {child.pid} stopped (code {code})")
                continue
            self._failed[child.generation] = self._failed.get(child.generation, 0) + 1
            if child.ready(now, self._ready_seconds):
                self._quick_failures = 0
                self._event(f"worker pid {child.pid} exited with code {code}; starting another")
            else:
                self._note_failed_start(f"worker pid {child.pid} exited with code {code} at start", now)

    def _note_failed_start(self, what: str, now: float) -> None:
        self._quick_failures += 1
        base, cap = self._backoff
        delay = min(cap, base * 2 ** (self._quick_failures - 1))
        self._restart_at = now + delay
        self._event(f"{what}; next start in {delay:g} s")

    # Processes.

    async def _spawn(self, env: Mapping[str, str], *, pool: str | None, generation: int) -> _Child:
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                env=dict(env),
                cwd=self._cwd,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"Cannot start a worker ({shlex.join(self._command[:1])}): {exc}") from exc
        log.info("worker process started", pid=process.pid, pool=pool)
        return _Child(
            process=process,
            pool=pool,
            generation=generation,
            started_at=datetime.now(UTC),
            started=time.monotonic(),
        )

    def _stop(self, child: _Child, now: float) -> None:
        child.stopping_since = now
        self._signal(child, signal.SIGTERM)
        self._event(f"stopping worker pid {child.pid}")

    @staticmethod
    def _signal(child: _Child, signum: signal.Signals) -> None:
        if child.ended:
            return
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signum)

    # Helpers.

    def _check_usable(self) -> None:
        if self._closed:
            raise BackendUnavailable("The local compute backend is closed")
        if self._unavailable is not None:
            raise BackendUnavailable(self._unavailable)

    def _all_launched(self) -> list[_Child]:
        return [child for children in self._launched.values() for child in children]

    def _state(self, child: _Child, now: float) -> Literal["PENDING", "RUNNING"]:
        return "RUNNING" if child.ready(now, self._ready_seconds) else "PENDING"

    def _deployment(self, generation: int, now: float) -> Deployment:
        children = [c for c in self._service if c.generation == generation]
        states = [self._state(c, now) for c in children]
        primary = generation == self._generation
        desired = self._desired if primary else 0
        done = primary and self._rollout_complete(now)
        return Deployment(
            status="PRIMARY" if primary else "ACTIVE",
            taskDefinition=f"{shlex.join(self._command)} (deployment {generation})",
            desiredCount=desired,
            pendingCount=states.count("PENDING"),
            runningCount=states.count("RUNNING"),
            failedTasks=self._failed.get(generation, 0),
            rolloutState="COMPLETED" if done else "IN_PROGRESS",
            rolloutStateReason=f"Local deployment {generation} {'completed' if done else 'in progress'}.",
        )

    def _event(self, message: str) -> None:
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._events.append(ClusterEvent(createdAt=created, message=message))


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a function run in the child before `exec` that asks the kernel to
    SIGTERM it when this process dies, so no always-on worker outlives a killed server."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took hold
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange
