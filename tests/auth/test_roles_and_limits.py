"""The role check every guarded route shares, and the credential routes' rate limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from reefguide.auth.dependencies import AdminUser, AnalystUser, WorkerUser
from reefguide.users.models import Role
from tests.factories import bearer, make_user, token_for


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/probe/analyst")
    async def analyst(user: AnalystUser) -> dict[str, int]:
        return {"id": user.id}

    @router.get("/probe/admin")
    async def admin(user: AdminUser) -> dict[str, int]:
        return {"id": user.id}

    @router.get("/probe/worker")
    async def worker(user: WorkerUser) -> dict[str, int]:
        return {"id": user.id}

    app.include_router(router)


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([Role.ADMIN], {"analyst": 200, "admin": 200, "worker": 200}),
        ([Role.ANALYST], {"analyst": 200, "admin": 403, "worker": 403}),
        ([Role.DEFAULT], {"analyst": 403, "admin": 403, "worker": 403}),
        ([Role.WORKER], {"analyst": 403, "admin": 403, "worker": 200}),
    ],
)
async def test_role_matrix(
    client: httpx.AsyncClient, app: FastAPI, roles: list[Role], expected: dict[str, int]
) -> None:
    add_probe_routes(app)
    headers = bearer(token_for(app, await make_user(app, roles=roles)))
    for route, status in expected.items():
        response = await client.get(f"/probe/{route}", headers=headers)
        assert response.status_code == status, route
        if status == 403:
            assert response.json() == {"message": "You do not have permission to do this"}


async def test_anonymous_caller_gets_401_not_403(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    assert (await client.get("/probe/analyst")).status_code == 401


LIMITED = {"test_mode": False}


@pytest.mark.parametrize("settings_overrides", [LIMITED])
async def test_login_is_limited_to_five_per_fifteen_minutes(client: httpx.AsyncClient) -> None:
    body = {"email": "nobody@example.com", "password": "whatever1"}
    statuses = [(await client.post("/api/auth/login", json=body)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    limited = await client.post("/api/auth/login", json=body)
    assert limited.json()["message"].startswith("Too many attempts")
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60


@pytest.mark.parametrize("settings_overrides", [LIMITED])
async def test_register_is_limited_to_three_per_fifteen_minutes(client: httpx.AsyncClient) -> None:
    statuses = []
    for n in range(4):
        body: dict[str, Any] = {"email": f"r{n}@example.com", "password": "password123"}
        statuses.append((await client.post("/api/auth/register", json=body)).status_code)
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("settings_overrides", [LIMITED])
async def test_change_password_is_limited_to_five(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    body = {"oldPassword": "wrong-one", "newPassword": "password456", "confirmPassword": "password456"}
    statuses = [
        (await client.post("/api/auth/change-password", headers=headers, json=body)).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


async def test_no_limits_in_test_mode(client: httpx.AsyncClient) -> None:
    body = {"email": "nobody@example.com", "password": "whatever1"}
    statuses = {(await client.post("/api/auth/login", json=body)).status_code for _ in range(8)}
    assert statuses == {401}
