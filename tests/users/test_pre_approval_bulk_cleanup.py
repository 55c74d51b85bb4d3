"""Bulk pre-approval, cleanup of used pre-approvals, and registration consuming one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.db.base import utcnow
from tests.factories import PASSWORD, bearer, make_user
from tests.users.helpers import PRE_APPROVALS as PRE
from tests.users.helpers import Caller, mark_used, pre_approve

APPROVAL_MODE = {"registration_mode": "approval"}


def entry(email: str, roles: list[str] | None = None) -> dict[str, Any]:
    return {"email": email, "roles": roles or ["ANALYST"]}


async def listed_emails(client: httpx.AsyncClient, admin: Caller) -> list[str]:
    body = (await client.get(PRE, headers=admin.headers)).json()
    return sorted(approval["email"] for approval in body["preApprovedUsers"])


async def test_bulk_pre_approval_creates_every_entry(client: httpx.AsyncClient, admin: Caller) -> None:
    users = [entry("a@reef.org"), entry(" B@Reef.org ", ["ADMIN"])]
    response = await client.post(f"{PRE}/bulk", json={"users": users}, headers=admin.headers)
    assert response.status_code == 201
    body = response.json()
    assert [(a["email"], a["roles"]) for a in body["created"]] == [
        ("a@reef.org", ["ANALYST"]),
        ("b@reef.org", ["ADMIN"]),
    ]
    assert body["errors"] == []
    assert body["summary"] == {"totalRequested": 2, "totalCreated": 2, "totalErrors": 0}


async def test_bulk_pre_approval_creates_what_it_can_and_lists_the_rest(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    registered = await make_user(app, email="registered@reef.org")
    await pre_approve(client, admin, "existing@reef.org")
    users = [
        entry("fresh@reef.org"),
        entry("existing@reef.org"),
        entry(registered.email),
        entry("repeat@reef.org"),
        entry("REPEAT@reef.org"),
    ]
    response = await client.post(f"{PRE}/bulk", json={"users": users}, headers=admin.headers)
    assert response.status_code == 201
    body = response.json()
    assert [a["email"] for a in body["created"]] == ["fresh@reef.org", "repeat@reef.org"]
    assert body["errors"] == [
        {"email": "existing@reef.org", "error": "Pre-approval already exists for email: existing@reef.org"},
        {"email": "registered@reef.org", "error": "User already registered with email: registered@reef.org"},
        {"email": "repeat@reef.org", "error": "Pre-approval already exists for email: repeat@reef.org"},
    ]
    assert body["summary"] == {"totalRequested": 5, "totalCreated": 2, "totalErrors": 3}
    assert await listed_emails(client, admin) == ["existing@reef.org", "fresh@reef.org", "repeat@reef.org"]


async def test_bulk_pre_approval_with_a_malformed_entry_creates_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    users = [entry("good@reef.org"), entry("not-an-email")]
    response = await client.post(f"{PRE}/bulk", json={"users": users}, headers=admin.headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["users.1.email"]
    assert await listed_emails(client, admin) == []


async def test_bulk_pre_approval_with_no_users_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.post(f"{PRE}/bulk", json={"users": []}, headers=admin.headers)
    assert response.status_code == 400


async def test_cleanup_deletes_used_pre_approvals_older_than_the_cutoff(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    old = await pre_approve(client, admin, "old@reef.org")
    recent = await pre_approve(client, admin, "recent@reef.org")
    await mark_used(app, old["id"], utcnow() - timedelta(days=10))
    await mark_used(app, recent["id"], utcnow() - timedelta(days=3))
    response = await client.post(f"{PRE}/cleanup", json={"olderThanDays": 7}, headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"deletedCount": 1}
    assert await listed_emails(client, admin) == ["recent@reef.org"]


async def test_cleanup_keeps_unused_pre_approvals(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    await pre_approve(client, admin, "waiting@reef.org")
    response = await client.post(f"{PRE}/cleanup", json={"olderThanDays": 1}, headers=admin.headers)
    assert response.json() == {"deletedCount": 0}
    assert await listed_emails(client, admin) == ["waiting@reef.org"]


@pytest.mark.parametrize("body", [None, {}], ids=["no-body", "empty-body"])
async def test_cleanup_defaults_to_30_days(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, body: dict[str, Any] | None
) -> None:
    old = await pre_approve(client, admin, "old@reef.org")
    recent = await pre_approve(client, admin, "recent@reef.org")
    await mark_used(app, old["id"], utcnow() - timedelta(days=31))
    await mark_used(app, recent["id"], utcnow() - timedelta(days=29))
    response = await client.post(f"{PRE}/cleanup", json=body, headers=admin.headers)
    assert response.json() == {"deletedCount": 1}
    assert await listed_emails(client, admin) == ["recent@reef.org"]


@pytest.mark.parametrize("days", [0, -5, "soon"])
async def test_cleanup_needs_a_whole_number_of_days_of_at_least_one(
    client: httpx.AsyncClient, admin: Caller, days: object
) -> None:
    response = await client.post(f"{PRE}/cleanup", json={"olderThanDays": days}, headers=admin.headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["olderThanDays"]


async def register(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})


async def profile_roles(client: httpx.AsyncClient, email: str) -> list[str]:
    token = (await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json()[
        "token"
    ]
    roles: list[str] = (await client.get("/api/auth/profile", headers=bearer(token))).json()["user"]["roles"]
    return roles


@pytest.mark.parametrize("settings_overrides", [APPROVAL_MODE])
async def test_registering_a_pre_approved_email_grants_its_roles_and_marks_it_used(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "invited@reef.org", ["ANALYST"])
    assert (await register(client, " Invited@Reef.org ")).status_code == 200
    assert await profile_roles(client, "invited@reef.org") == ["ANALYST", "DEFAULT"]
    used = (await client.get(f"{PRE}/{approval['id']}", headers=admin.headers)).json()["preApprovedUser"]
    assert used["used"] is True
    assert used["used_at"] is not None


@pytest.mark.parametrize("settings_overrides", [APPROVAL_MODE])
async def test_registering_without_a_pre_approval_gives_only_default(client: httpx.AsyncClient) -> None:
    assert (await register(client, "walk-in@reef.org")).status_code == 200
    assert await profile_roles(client, "walk-in@reef.org") == ["DEFAULT"]


@pytest.mark.parametrize("settings_overrides", [APPROVAL_MODE])
async def test_a_used_pre_approval_cannot_be_used_again(client: httpx.AsyncClient, admin: Caller) -> None:
    await pre_approve(client, admin, "once@reef.org")
    user_id = (await register(client, "once@reef.org")).json()["userId"]
    assert (await client.delete(f"/api/users/{user_id}", headers=admin.headers)).status_code == 204
    response = await register(client, "once@reef.org")
    assert response.status_code == 400
    assert (await client.get("/api/users", headers=admin.headers)).json() == [
        {"id": admin.user.id, "email": admin.user.email, "roles": ["ADMIN"]}
    ]
