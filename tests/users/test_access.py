"""Who may call the user admin and pre-approval routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.users.helpers import Caller, caller

PRE = "/api/auth/admin/pre-approved-users"

ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/users", None),
    ("GET", "/api/users/1", None),
    ("POST", "/api/users", {"email": "new@example.com", "password": "password123"}),
    ("PUT", "/api/users/1/roles", {"roles": ["ADMIN"]}),
    ("PUT", "/api/users/1/password", {"password": "password456"}),
    ("DELETE", "/api/users/1", None),
    ("GET", "/api/users/utils/log", None),
    ("POST", PRE, {"email": "new@example.com", "roles": ["ANALYST"]}),
    ("POST", f"{PRE}/bulk", {"users": [{"email": "new@example.com", "roles": ["ANALYST"]}]}),
    ("GET", PRE, None),
    ("GET", f"{PRE}/1", None),
    ("PUT", f"{PRE}/1", {"roles": ["ADMIN"]}),
    ("DELETE", f"{PRE}/1", None),
    ("POST", f"{PRE}/cleanup", {"olderThanDays": 1}),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ADMIN_ROUTES]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=ROUTE_IDS)
async def test_admin_routes_refuse_an_analyst_with_403(
    client: httpx.AsyncClient, analyst: Caller, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, path, json=body, headers=analyst.headers)
    assert response.status_code == 403
    assert response.json() == {"message": "You do not have permission to do this"}


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=ROUTE_IDS)
async def test_admin_routes_refuse_an_anonymous_caller_with_401(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 401


async def test_search_is_open_to_analysts(client: httpx.AsyncClient, analyst: Caller) -> None:
    response = await client.get("/api/users/search", params={"q": "example"}, headers=analyst.headers)
    assert response.status_code == 200


async def test_search_refuses_a_default_user_with_403(client: httpx.AsyncClient, app: FastAPI) -> None:
    default = await caller(app, Role.DEFAULT)
    response = await client.get("/api/users/search", params={"q": "example"}, headers=default.headers)
    assert response.status_code == 403


async def test_search_refuses_an_anonymous_caller_with_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/search", params={"q": "example"})
    assert response.status_code == 401
