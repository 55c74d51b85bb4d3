"""Workers as ECS tasks on Fargate, and the ECS service an admin steers.

`launch` runs one task per worker from the pool's task definition (RunTask, as the
original capacity manager did) in public subnets with a public IP, so a worker
reaches the API and S3 without a NAT gateway. `running` describes the tasks of a
pool: the ones this process launched and any other still running with the pool's
`startedBy` mark (so a restarted manager still counts the workers it started
before). `status`, `scale` and `redeploy` act on the service ECS_SERVICE_NAME in
ECS_CLUSTER_NAME, as the original admin routes did.

boto3 blocks, so every call runs in a worker thread; its errors become
BackendError (ECS answered with an error) or BackendUnavailable (ECS could not be
reached or asked: no credentials, no network, nothing configured).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from reefguide.cluster.base import (
    BackendError,
    BackendUnavailable,
    ClusterEvent,
    ClusterStatus,
    Deployment,
    Pool,
    RunningWorker,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import (
        DeploymentTypeDef,
        FailureTypeDef,
        NetworkConfigurationTypeDef,
        ServiceEventTypeDef,
        TaskTypeDef,
    )

T = TypeVar("T")

# Tag on every task launched, naming its pool.
POOL_TAG = "reefguide:pool"
# DescribeTasks takes at most this many tasks at once.
DESCRIBE_CHUNK = 100
# `startedBy` holds up to 36 letters, digits, '-' and '_' (the shortest limit ECS documents).
STARTED_BY_MAX = 36
EVENTS_SHOWN = 5
# A redeploy keeps at least half the tasks up and starts new ones before stopping old.
REDEPLOY_MIN_HEALTHY_PERCENT = 50
REDEPLOY_MAX_PERCENT = 200
PENDING_STATES = {"PROVISIONING", "PENDING", "ACTIVATING"}


def started_by(pool: str) -> str:
    """The mark a pool's tasks carry in `startedBy`, to find them with ListTasks. A name
    too long for it is cut and ends with a digest of the whole name, so pools named
    alike (task definitions with a long common prefix) still tell their tasks apart."""
    mark = re.sub(r"[^A-Za-z0-9_-]", "-", f"reefguide-{pool}")
    if len(mark) <= STARTED_BY_MAX:
        return mark
    digest = hashlib.sha256(pool.encode()).hexdigest()[:8]
    return f"{mark[: STARTED_BY_MAX - len(digest) - 1]}-{digest}"


class EcsBackend:
    name = "ecs"

    def __init__(
        self,
        *,
        cluster: str | None,
        service: str | None,
        region: str | None = None,
        vpc_id: str | None = None,
        ecs_client: ECSClient | None = None,
        ec2_client: EC2Client | None = None,
    ) -> None:
        """`cluster`, `service`: the worker service the admin routes steer (ECS_CLUSTER_NAME,
        ECS_SERVICE_NAME); `cluster` is also where a pool naming none launches. `vpc_id`:
        where to find public subnets for a pool that names none (VPC_ID)."""
        self._cluster = cluster
        self._service = service
        self._vpc_id = vpc_id
        self._session = boto3.session.Session(region_name=region)
        self._ecs: ECSClient = ecs_client or self._session.client("ecs")
        self._ec2 = ec2_client
        self._vpc_subnets: list[str] | None = None
        # Per pool, the tasks it runs (task ARN -> cluster), as last seen.
        self._tasks: dict[str, dict[str, str]] = {}

    # The protocol.

    async def launch(self, pool: Pool, count: int = 1) -> list[str]:
        cluster = self._pool_cluster(pool)
        task_definition = pool.task_definition
        if not task_definition:
            raise BackendUnavailable(f"Pool {pool.name} has no ECS task definition")
        network = await self._network(pool)
        tracked = self._tasks.setdefault(pool.name, {})
        started: list[str] = []
        for _ in range(count):
            # One task per call, as the original: a refusal stops at the first.
            response = await self._call(
                "ECS RunTask",
                lambda: self._ecs.run_task(
                    cluster=cluster,
                    taskDefinition=task_definition,
                    launchType="FARGATE",
                    count=1,
                    startedBy=started_by(pool.name),
                    tags=[{"key": POOL_TAG, "value": pool.name}],
                    networkConfiguration=network,
                ),
            )
            tasks = response.get("tasks", [])
            if not tasks:
                reasons = _failures(response.get("failures", []))
                raise BackendError(f"ECS started no task for pool {pool.name}: {reasons}")
            for task in tasks:
                tracked[task["taskArn"]] = cluster
                started.append(task["taskArn"])
        return started

    async def running(self, pool: Pool) -> list[RunningWorker]:
        cluster = self._pool_cluster(pool)
        tracked = self._tasks.setdefault(pool.name, {})
        mark = started_by(pool.name)
        for arn in await self._call("ECS ListTasks", lambda: self._list_tasks(cluster, mark)):
            tracked.setdefault(arn, cluster)
        alive: list[RunningWorker] = []
        for task_cluster in sorted(set(tracked.values())):
            arns = sorted(arn for arn, where in tracked.items() if where == task_cluster)
            tasks = await self._call(
                "ECS DescribeTasks", functools.partial(self._describe_tasks, task_cluster, arns)
            )
            alive.extend(_worker(task, pool.name) for task in tasks if not _ended(task))
        # Stopped tasks, and those ECS no longer knows (failures: MISSING), are forgotten.
        alive_arns = {worker.id for worker in alive}
        for arn in [arn for arn in tracked if arn not in alive_arns]:
            del tracked[arn]
        return alive

    async def status(self) -> ClusterStatus:
        cluster, service = self._service_names()
        response = await self._call(
            "ECS DescribeServices", lambda: self._ecs.describe_services(cluster=cluster, services=[service])
        )
        services = response.get("services", [])
        if not services:
            reasons = _failures(response.get("failures", []))
            raise BackendError(f"ECS service {service} not found in cluster {cluster}: {reasons}")
        found = services[0]
        return ClusterStatus(
            runningCount=found.get("runningCount", 0),
            pendingCount=found.get("pendingCount", 0),
            desiredCount=found.get("desiredCount", 0),
            deployments=[_deployment(deployment) for deployment in found.get("deployments", [])],
            events=[_event(event) for event in found.get("events", [])[:EVENTS_SHOWN]],
            serviceStatus=found.get("status", "UNKNOWN"),
        )

    async def scale(self, desired_count: int) -> None:
        if desired_count < 0:
            raise BackendError("The desired count must be 0 or more")
        cluster, service = self._service_names()
        await self._call(
            "ECS UpdateService",
            lambda: self._ecs.update_service(cluster=cluster, service=service, desiredCount=desired_count),
        )

    async def redeploy(self) -> None:
        cluster, service = self._service_names()
        await self._call(
            "ECS UpdateService",
            lambda: self._ecs.update_service(
                cluster=cluster,
                service=service,
                forceNewDeployment=True,
                deploymentConfiguration={
                    "minimumHealthyPercent": REDEPLOY_MIN_HEALTHY_PERCENT,
                    "maximumPercent": REDEPLOY_MAX_PERCENT,
                },
            ),
        )

    async def close(self) -> None:
        self._ecs.close()
        if self._ec2 is not None:
            self._ec2.close()

    def hurry(self) -> None:
        """ECS tasks run on after close(): none is being stopped."""

    # Helpers.

    def _pool_cluster(self, pool: Pool) -> str:
        cluster = pool.cluster or self._cluster
        if not cluster:
            raise BackendUnavailable(f"Pool {pool.name} names no ECS cluster and ECS_CLUSTER_NAME is not set")
        return cluster

    def _service_names(self) -> tuple[str, str]:
        if not self._cluster:
            raise BackendUnavailable("ECS_CLUSTER_NAME is not set")
        if not self._service:
            raise BackendUnavailable("ECS_SERVICE_NAME is not set")
        return self._cluster, self._service

    async def _network(self, pool: Pool) -> NetworkConfigurationTypeDef:
        subnets = list(pool.subnets) or await self._public_subnets(pool)
        network: NetworkConfigurationTypeDef = {
            "awsvpcConfiguration": {"subnets": subnets, "assignPublicIp": "ENABLED"}
        }
        if pool.security_group:
            network["awsvpcConfiguration"]["securityGroups"] = [pool.security_group]
        return network

    async def _public_subnets(self, pool: Pool) -> list[str]:
        """The VPC's subnets that give a public IP at launch (found once, then kept)."""
        if self._vpc_subnets:
            return self._vpc_subnets
        vpc = self._vpc_id
        if not vpc:
            raise BackendUnavailable(f"Pool {pool.name} names no subnets and VPC_ID is not set")
        subnets = await self._call("EC2 DescribeSubnets", lambda: self._describe_public_subnets(vpc))
        if not subnets:
            raise BackendError(f"VPC {vpc} has no subnet that gives a public IP at launch")
        self._vpc_subnets = subnets
        return subnets

    # Blocking calls, run in a worker thread.

    def _describe_public_subnets(self, vpc: str) -> list[str]:
        if self._ec2 is None:
            self._ec2 = self._session.client("ec2")
        pages = self._ec2.get_paginator("describe_subnets").paginate(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "map-public-ip-on-launch", "Values": ["true"]},
            ]
        )
        return sorted(subnet["SubnetId"] for page in pages for subnet in page.get("Subnets", []))

    def _describe_tasks(self, cluster: str, arns: Sequence[str]) -> list[TaskTypeDef]:
        tasks: list[TaskTypeDef] = []
        for chunk in _chunks(arns, DESCRIBE_CHUNK):
            tasks.extend(self._ecs.describe_tasks(cluster=cluster, tasks=chunk).get("tasks", []))
        return tasks

    def _list_tasks(self, cluster: str, mark: str) -> list[str]:
        pages = self._ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, startedBy=mark, desiredStatus="RUNNING"
        )
        return [arn for page in pages for arn in page.get("taskArns", [])]

    async def _call(self, operation: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Error"), error.get("Message", "")
            raise BackendError(f"{operation} failed: {code}: {message}".rstrip(": ")) from exc
        except BotoCoreError as exc:  # no credentials, no region, no connection …
            raise BackendUnavailable(f"{operation} failed: {exc}") from exc


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _failures(failures: Sequence[FailureTypeDef]) -> str:
    described = [
        f"{failure.get('reason', 'unknown')}" + (f" ({failure['detail']})" if failure.get("detail") else "")
        for failure in failures
    ]
    return "; ".join(described) or "no reason given"


def _ended(task: TaskTypeDef) -> bool:
    # A task ECS is stopping takes no more jobs: it no longer counts.
    return task.get("lastStatus") == "STOPPED" or task.get("desiredStatus") == "STOPPED"


def _worker(task: TaskTypeDef, pool: str) -> RunningWorker:
    pending = task.get("lastStatus") in PENDING_STATES
    state: Literal["PENDING", "RUNNING"] = "PENDING" if pending else "RUNNING"
    return RunningWorker(
        id=task["taskArn"], pool=pool, status=state, started_at=task.get("startedAt") or task.get("createdAt")
    )


def _deployment(deployment: DeploymentTypeDef) -> Deployment:
    return Deployment(
        status=deployment.get("status", "UNKNOWN"),
        taskDefinition=deployment.get("taskDefinition", "UNKNOWN"),
        desiredCount=deployment.get("desiredCount", 0),
        pendingCount=deployment.get("pendingCount", 0),
        runningCount=deployment.get("runningCount", 0),
        failedTasks=deployment.get("failedTasks", 0),
        rolloutState=deployment.get("rolloutState", ""),
        rolloutStateReason=deployment.get("rolloutStateReason", ""),
    )


def _event(event: ServiceEventTypeDef) -> ClusterEvent:
    created = event.get("createdAt")
    return ClusterEvent(createdAt=_iso(created) if created else "", message=event.get("message", ""))


def _iso(moment: datetime) -> str:
    """As the original's JSON had it: UTC, milliseconds, a Z."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
