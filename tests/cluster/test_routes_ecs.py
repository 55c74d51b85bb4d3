"""The admin cluster routes with CLUSTER_BACKEND=ecs, against moto's ECS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.cluster.conftest import REGION, EcsWorld
from tests.factories import user_headers


@pytest.fixture
def service_name(ecs_world: EcsWorld) -> str:
    return ecs_world.service


@pytest.fixture
def settings_overrides(ecs_world: EcsWorld, service_name: str) -> dict[str, Any]:
    return {
        "cluster_backend": "ecs",
        "ecs_cluster_name": ecs_world.cluster,
        "ecs_service_name": service_name,
        "s3_region": REGION,
    }


@pytest.fixture
async def admin(app: FastAPI) -> dict[str, str]:
    return await user_headers(app, roles=(Role.ADMIN,))


async def test_status_scale_and_redeploy_go_to_the_ecs_service(
    client: httpx.AsyncClient, admin: dict[str, str], ecs_world: EcsWorld
) -> None:
    status = (await client.get("/api/admin/status", headers=admin)).json()
    assert status["desiredCount"] == 1
    assert status["deployments"][0]["taskDefinition"] == ecs_world.task_definition

    response = await client.post("/api/admin/scale", json={"desiredCount": 3}, headers=admin)
    assert response.status_code == 200
    [service] = ecs_world.ecs.describe_services(cluster=ecs_world.cluster, services=[ecs_world.service])[
        "services"
    ]
    assert service["desiredCount"] == 3

    assert (await client.post("/api/admin/redeploy", headers=admin)).status_code == 200


@pytest.mark.parametrize("service_name", ["no-such-service"])
async def test_a_missing_ecs_service_is_502_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get("/api/admin/status", headers=admin)
    assert response.status_code == 502
    assert "no-such-service" in response.json()["message"]
    response = await client.post("/api/admin/scale", json={"desiredCount": 1}, headers=admin)
    assert response.status_code == 502
    assert "ServiceNotFoundException" in response.json()["message"]
