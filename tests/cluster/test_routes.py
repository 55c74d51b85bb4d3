"""/api/admin/status, /scale and /redeploy: ADMIN only, the README's shapes, and a
failing backend answered as 502 or 503 with the cause, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.cluster.base import BackendError, BackendUnavailable, ClusterStatus, Pool
from reefguide.users.models import Role
from tests.factories import user_headers

ROUTES = [("GET", "/api/admin/status", None), ("POST", "/api/admin/scale", {"desiredCount": 1})]
ROUTES.append(("POST", "/api/admin/redeploy", None))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Local workers without a credential: nothing can start.
    return {"worker_api_key": None, "worker_username": None, "worker_password": None}


class FakeBackend:
    """Answers as told, and records what it was asked."""

    name = "fake"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.scaled: list[int] = []
        self.redeployed = 0

    async def launch(self, pool: Pool, count: int = 1) -> list[str]:
        raise NotImplementedError

    async def running(self, pool: Pool) -> list[Any]:
        raise NotImplementedError

    async def status(self) -> ClusterStatus:
        if self.error:
            raise self.error
        return ClusterStatus(
            runningCount=1,
            pendingCount=0,
            desiredCount=len(self.scaled),
            deployments=[],
            events=[],
            serviceStatus="ACTIVE",
        )

    async def scale(self, desired_count: int) -> None:
        if self.error:
            raise self.error
        self.scaled.append(desired_count)

    async def redeploy(self) -> None:
        if self.error:
            raise self.error
        self.redeployed += 1

    async def close(self) -> None:
        pass

    def hurry(self) -> None:
        pass


@pytest.fixture
async def admin(app: FastAPI) -> dict[str, str]:
    return await user_headers(app, roles=(Role.ADMIN,))


def use(app: FastAPI, backend: FakeBackend) -> FakeBackend:
    app.state.cluster = backend
    return backend


async def test_an_admin_sees_the_local_worker_service(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get("/api/admin/status", headers=admin)
    assert response.status_code == 200
    status = response.json()
    assert set(status) == {
        "runningCount",
        "pendingCount",
        "desiredCount",
        "deployments",
        "events",
        "serviceStatus",
    }
    assert (status["runningCount"], status["pendingCount"], status["desiredCount"]) == (0, 0, 0)
    [deployment] = status["deployments"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "COMPLETED"
    assert status["serviceStatus"] == "ACTIVE"


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_an_analyst_is_forbidden(
    app: FastAPI, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    fake = use(app, FakeBackend())
    headers = await user_headers(app, roles=(Role.ANALYST,))
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code == 403
    assert "message" in response.json()
    assert (fake.scaled, fake.redeployed) == ([], 0)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_without_credentials_it_is_401(
    app: FastAPI, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    use(app, FakeBackend())
    response = await client.request(method, path, json=body)
    assert response.status_code == 401


@pytest.mark.parametrize("count", [11, -1, "x", "3", 2.5, True, None])
async def test_a_desired_count_outside_0_to_10_is_400_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], count: Any
) -> None:
    fake = use(app, FakeBackend())
    response = await client.post("/api/admin/scale", json={"desiredCount": count}, headers=admin)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["desiredCount"]
    assert fake.scaled == []


async def test_a_missing_desired_count_is_400(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    use(app, FakeBackend())
    response = await client.post("/api/admin/scale", json={}, headers=admin)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["desiredCount"]


@pytest.mark.parametrize("count", [0, 10])
async def test_scale_asks_the_backend_for_the_count(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], count: int
) -> None:
    fake = use(app, FakeBackend())
    response = await client.post("/api/admin/scale", json={"desiredCount": count}, headers=admin)
    assert response.status_code == 200
    assert response.json() == {"message": f"Scaling the worker service to {count}", "desiredCount": count}
    assert fake.scaled == [count]


async def test_redeploy_asks_the_backend(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    fake = use(app, FakeBackend())
    response = await client.post("/api/admin/redeploy", headers=admin)
    assert response.status_code == 200
    assert response.json() == {"message": "Redeploying the worker service"}
    assert fake.redeployed == 1


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_a_backend_error_is_502_naming_the_cause(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str, body: Any
) -> None:
    use(app, FakeBackend(BackendError("ECS service workers not found in cluster reefguide: MISSING")))
    response = await client.request(method, path, json=body, headers=admin)
    assert response.status_code == 502
    assert response.json() == {
        "message": "Compute backend error: ECS service workers not found in cluster reefguide: MISSING"
    }


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_an_unreachable_backend_is_503_naming_the_cause(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str, body: Any
) -> None:
    use(app, FakeBackend(BackendUnavailable("ECS DescribeServices failed: Unable to locate credentials")))
    response = await client.request(method, path, json=body, headers=admin)
    assert response.status_code == 503
    assert "Unable to locate credentials" in response.json()["message"]


async def test_local_workers_without_a_credential_cannot_be_scaled_up(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post("/api/admin/scale", json={"desiredCount": 1}, headers=admin)
    assert response.status_code == 503
    assert "WORKER_API_KEY" in response.json()["message"]
    response = await client.post("/api/admin/scale", json={"desiredCount": 0}, headers=admin)
    assert response.status_code == 200


async def test_the_routes_document_their_auth_and_errors(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for method, path in (
        ("get", "/api/admin/status"),
        ("post", "/api/admin/scale"),
        ("post", "/api/admin/redeploy"),
    ):
        operation = paths[path][method]
        assert {"401", "403", "502", "503"} <= set(operation["responses"]), path
        assert "**Roles:** ADMIN." in operation["description"]
    scale = paths["/api/admin/scale"]["post"]
    assert "400" in scale["responses"]
    status = paths["/api/admin/status"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert status == {"$ref": "#/components/schemas/ClusterStatusOut"}
