"""The ECS backend against moto's ECS and EC2: tasks launched per pool, counted and
forgotten, and the worker service described, scaled and redeployed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from reefguide.cluster.base import BackendError, BackendUnavailable
from reefguide.cluster.ecs import POOL_TAG, EcsBackend, started_by
from tests.cluster.conftest import REGION, Calls, EcsWorld


@pytest.fixture
async def backend(ecs_world: EcsWorld, calls: Calls) -> AsyncIterator[EcsBackend]:
    client = boto3.client("ecs", region_name=REGION)
    client.meta.events.register("provide-client-params.ecs.*", calls)
    ecs = EcsBackend(
        cluster=ecs_world.cluster,
        service=ecs_world.service,
        region=REGION,
        vpc_id=ecs_world.vpc_id,
        ecs_client=client,
    )
    yield ecs
    await ecs.close()


def describe(world: EcsWorld, arns: list[str]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = world.ecs.describe_tasks(
        cluster=world.cluster, tasks=arns, include=["TAGS"]
    )["tasks"]
    return tasks


async def test_launch_runs_one_fargate_task_per_worker_from_the_pools_settings(
    backend: EcsBackend, ecs_world: EcsWorld, calls: Calls
) -> None:
    pool = ecs_world.pool(subnets=(ecs_world.private_subnet,))
    arns = await backend.launch(pool, 2)
    assert len(arns) == 2
    run_tasks = calls.of("RunTask")
    assert len(run_tasks) == 2
    assert run_tasks[0] == {
        "cluster": ecs_world.cluster,
        "taskDefinition": ecs_world.task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": "reefguide-reefguide",
        "tags": [{"key": POOL_TAG, "value": "reefguide"}],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": [ecs_world.private_subnet],
                "assignPublicIp": "ENABLED",
                "securityGroups": [ecs_world.security_group],
            }
        },
    }
    for task in describe(ecs_world, arns):
        assert task["taskDefinitionArn"] == ecs_world.task_definition
        assert task["clusterArn"].endswith(f":cluster/{ecs_world.cluster}")
        assert task["launchType"] == "FARGATE"
        assert {"key": POOL_TAG, "value": "reefguide"} in task["tags"]


async def test_a_pool_without_subnets_uses_the_vpcs_public_ones(
    backend: EcsBackend, ecs_world: EcsWorld, calls: Calls
) -> None:
    await backend.launch(ecs_world.pool())
    [run_task] = calls.of("RunTask")
    assert run_task["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [ecs_world.public_subnet]


async def test_a_pool_without_subnets_or_a_vpc_cannot_launch(ecs_world: EcsWorld) -> None:
    backend = EcsBackend(cluster=ecs_world.cluster, service=ecs_world.service, region=REGION)
    with pytest.raises(BackendUnavailable, match="VPC_ID is not set"):
        await backend.launch(ecs_world.pool())


async def test_a_pool_without_a_task_definition_cannot_launch(
    backend: EcsBackend, ecs_world: EcsWorld
) -> None:
    with pytest.raises(BackendUnavailable, match="no ECS task definition"):
        await backend.launch(ecs_world.pool(task_definition=None))


async def test_running_counts_launched_tasks_and_forgets_stopped_ones(
    backend: EcsBackend, ecs_world: EcsWorld
) -> None:
    pool = ecs_world.pool()
    first, second = await backend.launch(pool, 2)
    assert sorted(worker.id for worker in await backend.running(pool)) == sorted([first, second])
    ecs_world.ecs.stop_task(cluster=ecs_world.cluster, task=first, reason="test")
    running = await backend.running(pool)
    assert [worker.id for worker in running] == [second]
    assert running[0].pool == "reefguide"
    assert running[0].status in {"PENDING", "RUNNING"}
    assert await backend.running(ecs_world.pool(name="adria")) == []


async def test_a_restarted_backend_still_counts_the_tasks_started_before(
    backend: EcsBackend, ecs_world: EcsWorld
) -> None:
    pool = ecs_world.pool()
    [arn] = await backend.launch(pool)
    again = EcsBackend(cluster=ecs_world.cluster, service=ecs_world.service, region=REGION)
    assert [worker.id for worker in await again.running(pool)] == [arn]


def test_the_started_by_mark_fits_ecs_limits() -> None:
    assert started_by("reefguide") == "reefguide-reefguide"
    long = started_by("adria model run/with spaces and a very long name")
    assert len(long) == 36
    assert set(long) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    # Task definitions named alike (a long common prefix, as CDK names them) stay apart.
    first = started_by("reefguide-stack-ReefGuideWorkerTaskDefinitionA1B2C3:7")
    second = started_by("reefguide-stack-ReefGuideWorkerTaskDefinitionA1B2C3:8")
    assert first != second
    assert len(first) == len(second) == 36


async def test_status_describes_the_worker_service(backend: EcsBackend, ecs_world: EcsWorld) -> None:
    status = await backend.status()
    assert set(status) == {
        "runningCount",
        "pendingCount",
        "desiredCount",
        "deployments",
        "events",
        "serviceStatus",
    }
    assert status["desiredCount"] == 1
    assert status["serviceStatus"] == "ACTIVE"
    [deployment] = status["deployments"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["taskDefinition"] == ecs_world.task_definition
    assert deployment["desiredCount"] == 1
    assert set(deployment) == {
        "status",
        "taskDefinition",
        "desiredCount",
        "pendingCount",
        "runningCount",
        "failedTasks",
        "rolloutState",
        "rolloutStateReason",
    }


async def test_status_shows_the_five_latest_events_in_utc(aws: None) -> None:
    client = boto3.client("ecs", region_name=REGION)
    sydney = timezone(timedelta(hours=11))
    events = [
        {
            "id": str(n),
            "createdAt": datetime(2024, 10, 23, 12, 3, n, 329000, tzinfo=sydney),
            "message": f"e{n}",
        }
        for n in range(7, 0, -1)
    ]
    service = {
        "serviceName": "workers",
        "status": "ACTIVE",
        "runningCount": 5,
        "pendingCount": 0,
        "desiredCount": 3,
        "deployments": [
            {"status": "PRIMARY", "taskDefinition": "arn:td:8", "desiredCount": 3, "runningCount": 3},
            {"status": "ACTIVE", "taskDefinition": "arn:td:7", "desiredCount": 0, "runningCount": 2},
        ],
        "events": events,
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_services", {"services": [service]}, {"cluster": "c", "services": ["workers"]}
        )
        status = await EcsBackend(cluster="c", service="workers", ecs_client=client).status()
    assert [event["message"] for event in status["events"]] == ["e7", "e6", "e5", "e4", "e3"]
    assert status["events"][0]["createdAt"] == "2024-10-23T01:03:07.329Z"
    assert [d["status"] for d in status["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert status["deployments"][1]["runningCount"] == 2
    assert status["deployments"][1]["failedTasks"] == 0  # absent in the answer
    assert (status["runningCount"], status["desiredCount"]) == (5, 3)
    assert datetime.fromisoformat(status["events"][0]["createdAt"]).tzinfo == UTC


async def test_a_missing_service_is_a_backend_error_naming_it(ecs_world: EcsWorld) -> None:
    backend = EcsBackend(cluster=ecs_world.cluster, service="no-such-service", region=REGION)
    with pytest.raises(
        BackendError, match="ECS service no-such-service not found in cluster reefguide-cluster"
    ):
        await backend.status()
    with pytest.raises(BackendError, match="ServiceNotFoundException"):
        await backend.scale(2)


async def test_a_missing_cluster_is_a_backend_error(ecs_world: EcsWorld) -> None:
    backend = EcsBackend(cluster="no-such-cluster", service=ecs_world.service, region=REGION)
    with pytest.raises(BackendError, match="ClusterNotFoundException"):
        await backend.status()


async def test_scale_sets_the_services_desired_count(backend: EcsBackend, ecs_world: EcsWorld) -> None:
    await backend.scale(4)
    [service] = ecs_world.ecs.describe_services(cluster=ecs_world.cluster, services=[ecs_world.service])[
        "services"
    ]
    assert service["desiredCount"] == 4
    assert (await backend.status())["desiredCount"] == 4


async def test_redeploy_forces_a_rolling_deployment(
    backend: EcsBackend, ecs_world: EcsWorld, calls: Calls
) -> None:
    before = ecs_world.ecs.describe_services(cluster=ecs_world.cluster, services=[ecs_world.service])
    await backend.redeploy()
    [update] = calls.of("UpdateService")
    assert update == {
        "cluster": ecs_world.cluster,
        "service": ecs_world.service,
        "forceNewDeployment": True,
        "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 200},
    }
    after = ecs_world.ecs.describe_services(cluster=ecs_world.cluster, services=[ecs_world.service])
    assert after["services"][0]["deployments"][0]["id"] != before["services"][0]["deployments"][0]["id"]


async def test_without_aws_credentials_the_backend_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    backend = EcsBackend(cluster="c", service="s", region=REGION)
    with pytest.raises(BackendUnavailable, match="Unable to locate credentials"):
        await backend.status()
