"""What every compute backend offers.

Two users call a backend. The capacity manager launches workers for a pool and
counts the ones still running; the admin cluster routes read the status of the
service that runs workers, scale it to a fixed count, and redeploy it. The rest
of the code sees only `ComputeBackend`, never a backend class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypedDict


@dataclass(frozen=True)
class Pool:
    """Workers that serve the same job types from the same image or command.

    Job types that share a task definition share a pool (the original's rule)."""

    name: str
    job_types: tuple[str, ...]
    min_capacity: int = 0
    max_capacity: int = 5
    cooldown_seconds: float = 60.0
    sensitivity: float = 2.6
    factor: float = 3.3
    # ECS only: the task definition (family or ARN) and cluster a launch uses.
    task_definition: str | None = None
    cluster: str | None = None
    security_group: str | None = None
    subnets: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RunningWorker:
    """A worker a backend launched and that has not ended yet."""

    id: str  # a process id for `local`, a task ARN for `ecs`
    pool: str
    status: Literal["PENDING", "RUNNING"]
    started_at: datetime | None = None


class Deployment(TypedDict):
    status: str
    taskDefinition: str
    desiredCount: int
    pendingCount: int
    runningCount: int
    failedTasks: int
    rolloutState: str
    rolloutStateReason: str


class ClusterEvent(TypedDict):
    createdAt: str
    message: str


class ClusterStatus(TypedDict):
    """`GET /api/admin/status`, in the original README's shape."""

    runningCount: int
    pendingCount: int
    desiredCount: int
    deployments: list[Deployment]
    events: list[ClusterEvent]
    serviceStatus: str


class BackendError(Exception):
    """The backend refused or failed a request (ECS answered with an error, a worker
    process could not be started). The message names the cause, for an admin."""


class BackendUnavailable(BackendError):
    """The backend cannot be used: unreachable, without credentials, or not configured."""


class ComputeBackend(Protocol):
    """Every method may raise BackendError (BackendUnavailable when the backend cannot
    be used at all); none raises anything else for a failure of the backend."""

    # "local" or "ecs", as CLUSTER_BACKEND names it.
    name: str

    async def launch(self, pool: Pool, count: int = 1) -> list[str]:
        """Start `count` workers for `pool`; the ids of those started."""
        ...

    async def running(self, pool: Pool) -> list[RunningWorker]:
        """The workers launched for `pool` that have not ended (ended ones are forgotten)."""
        ...

    async def status(self) -> ClusterStatus:
        """The worker service's state, for admins."""
        ...

    async def scale(self, desired_count: int) -> None:
        """Keep `desired_count` always-on workers running (0 stops them)."""
        ...

    async def redeploy(self) -> None:
        """Replace the always-on workers with fresh ones, without dropping below half."""
        ...

    async def close(self) -> None:
        """Release what the backend holds (clients, child processes it must stop)."""
        ...

    def hurry(self) -> None:
        """A close() under way is urgent: the workers it is stopping give their jobs
        back now instead of finishing them (nothing to do for workers it does not stop)."""
        ...
