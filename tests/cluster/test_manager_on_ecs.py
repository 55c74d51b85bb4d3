"""The capacity manager on ECS (moto), configured by the original's per-type
environment: it launches with RunTask in each pool's cluster, from its task
definition, subnets and security group, as many as the formula says and never
more than the pool's maximum, and launches again once tasks have stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from moto.moto_api import state_manager

from reefguide.cluster.ecs import EcsBackend
from reefguide.jobs.types import job_types
from reefguide.manager.config import pools_from_env
from reefguide.manager.loop import CapacityManager
from tests.cluster.conftest import REGION, Calls, EcsWorld


class Backlog:
    """The backlog the manager reads, set by the test."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}

    async def pending_by_type(self) -> dict[str, int]:
        return dict(self.pending)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tasks_keep_running(aws: None) -> Iterator[None]:
    """moto moves a task towards STOPPED each time it is described; real workers run
    until they stop (here: until the test stops them)."""
    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**6})
    try:
        yield
    finally:
        state_manager.unset_transition("ecs::task")


@pytest.fixture
async def ecs(ecs_world: EcsWorld, calls: Calls) -> AsyncIterator[EcsBackend]:
    client = boto3.client("ecs", region_name=REGION)
    client.meta.events.register("provide-client-params.ecs.*", calls)
    # No ECS_CLUSTER_NAME or ECS_SERVICE_NAME: the original's manager has neither.
    backend = EcsBackend(cluster=None, service=None, region=REGION, vpc_id=None, ecs_client=client)
    yield backend
    await backend.close()


@pytest.mark.usefixtures("tasks_keep_running")
async def test_the_manager_launches_with_runtask_from_the_original_environment(
    ecs: EcsBackend, ecs_world: EcsWorld, calls: Calls
) -> None:
    environ = {
        f"{name}_{suffix}": value
        for name in ("TEST", "REGIONAL_ASSESSMENT")
        for suffix, value in (
            ("TASK_DEF", ecs_world.task_definition),
            ("CLUSTER", ecs_world.cluster),
            ("MIN_CAPACITY", "0"),
            ("MAX_CAPACITY", "3"),
            ("COOLDOWN", "60"),
            ("SENSITIVITY", "2.6"),
            ("FACTOR", "3.3"),
            ("SECURITY_GROUP", ecs_world.security_group),
            ("SUBNETS", ecs_world.private_subnet),
        )
    }
    pools = [
        pool
        for pool in pools_from_env(environ, job_types(), require_task_definition=False)
        if pool.task_definition == ecs_world.task_definition
    ]
    assert [sorted(pool.job_types) for pool in pools] == [["REGIONAL_ASSESSMENT", "TEST"]]
    backlog, clock = Backlog(), Clock()
    manager = CapacityManager(backlog, ecs, pools, clock=clock)

    # 4 pending: round(2.6 · ln(4/3.3 + 1)) = 2 tasks.
    backlog.pending = {"TEST": 3, "REGIONAL_ASSESSMENT": 1}
    assert (await manager.poll_once()).ok
    run_tasks = calls.of("RunTask")
    assert len(run_tasks) == 2
    for params in run_tasks:
        assert params["cluster"] == ecs_world.cluster
        assert params["taskDefinition"] == ecs_world.task_definition
        assert params["launchType"] == "FARGATE"
        assert params["networkConfiguration"]["awsvpcConfiguration"] == {
            "subnets": [ecs_world.private_subnet],
            "securityGroups": [ecs_world.security_group],
            "assignPublicIp": "ENABLED",
        }

    # A large backlog, but within the cooldown: nothing more.
    backlog.pending = {"TEST": 500}
    clock.now += 30
    assert (await manager.poll_once()).ok
    assert len(calls.of("RunTask")) == 2

    # After the cooldown: up to the maximum of 3, never more.
    clock.now += 31
    assert (await manager.poll_once()).ok
    assert len(calls.of("RunTask")) == 3
    clock.now += 61
    assert (await manager.poll_once()).ok
    assert len(calls.of("RunTask")) == 3

    # Tasks that stopped are forgotten; their places are filled after the cooldown.
    running = await ecs.running(pools[0])
    assert len(running) == 3
    for worker in running[:2]:
        ecs_world.ecs.stop_task(cluster=ecs_world.cluster, task=worker.id)
    clock.now += 61
    assert (await manager.poll_once()).ok
    assert len(calls.of("RunTask")) == 5
