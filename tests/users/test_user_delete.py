"""Deleting a user: what goes with the account and what stays."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from reefguide.auth.models import ApiKey, RefreshToken
from reefguide.db.base import utcnow
from reefguide.users.models import PasswordResetCode, PreApprovedUser, Role, UserLog
from tests.factories import PASSWORD
from tests.users.helpers import Caller, caller


async def owner_of_data(client: httpx.AsyncClient, app: FastAPI) -> Caller:
    """An admin who has logged in, made an API key, asked for a reset code and pre-approved someone."""
    owner = await caller(app, Role.ADMIN)
    login = await client.post("/api/auth/login", json={"email": owner.user.email, "password": PASSWORD})
    assert login.status_code == 200
    key = await client.post("/api/auth/api-keys", json={"name": "script"}, headers=owner.headers)
    assert key.status_code == 201
    approval = await client.post(
        "/api/auth/admin/pre-approved-users",
        json={"email": "invited@example.com", "roles": ["ANALYST"]},
        headers=owner.headers,
    )
    assert approval.status_code == 201
    async with app.state.sessionmaker() as session:
        session.add(
            PasswordResetCode(
                user_id=owner.user.id, code_hash="0" * 64, expires_at=utcnow() + timedelta(hours=1)
            )
        )
        await session.commit()
    return owner


async def count(app: FastAPI, model: type, **where: object) -> int:
    async with app.state.sessionmaker() as session:
        statement = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(statement) or 0)


async def test_deleting_a_user_answers_204_and_the_user_is_gone(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    response = await client.delete(f"/api/users/{analyst.user.id}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/users/{analyst.user.id}", headers=admin.headers)).status_code == 404


async def test_a_deleted_users_access_token_stops_working(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    await client.delete(f"/api/users/{analyst.user.id}", headers=admin.headers)
    assert (await client.get("/api/auth/profile", headers=analyst.headers)).status_code == 401


async def test_deleting_a_user_who_owns_data_succeeds(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    owner = await owner_of_data(client, app)
    response = await client.delete(f"/api/users/{owner.user.id}", headers=admin.headers)
    assert response.status_code == 204


async def test_deleting_a_user_deletes_their_refresh_tokens_api_keys_and_reset_codes(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    owner = await owner_of_data(client, app)
    await client.delete(f"/api/users/{owner.user.id}", headers=admin.headers)
    for model in (RefreshToken, ApiKey, PasswordResetCode):
        assert await count(app, model, user_id=owner.user.id) == 0, model.__name__


async def test_deleting_a_user_who_owns_data_keeps_their_audit_rows(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    owner = await owner_of_data(client, app)
    before = await count(app, UserLog, user_id=owner.user.id)
    assert before > 0
    await client.delete(f"/api/users/{owner.user.id}", headers=admin.headers)
    async with app.state.sessionmaker() as session:
        rows = list(await session.scalars(select(UserLog).where(UserLog.user_email == owner.user.email)))
    assert len(rows) == before
    assert all(row.user_id is None for row in rows)


async def test_a_deleted_users_audit_rows_show_in_the_log_with_their_email(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    owner = await owner_of_data(client, app)
    await client.delete(f"/api/users/{owner.user.id}", headers=admin.headers)
    logs = (await client.get("/api/users/utils/log", headers=admin.headers)).json()["logs"]
    login = next(log for log in logs if log["action"] == "LOGIN")
    assert login["userId"] is None
    assert login["user"] is None
    assert login["userEmail"] == owner.user.email


async def test_deleting_a_user_keeps_the_pre_approvals_they_created(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    owner = await owner_of_data(client, app)
    await client.delete(f"/api/users/{owner.user.id}", headers=admin.headers)
    async with app.state.sessionmaker() as session:
        approval = await session.scalar(
            select(PreApprovedUser).where(PreApprovedUser.email == "invited@example.com")
        )
    assert approval is not None
    assert approval.created_by_user_id is None


async def test_an_admin_deleting_themselves_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.delete(f"/api/users/{admin.user.id}", headers=admin.headers)
    assert response.status_code == 400
    assert response.json() == {"message": "You cannot delete your own account"}
    assert (await client.get(f"/api/users/{admin.user.id}", headers=admin.headers)).status_code == 200


async def test_deleting_an_unknown_user_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.delete("/api/users/999999", headers=admin.headers)
    assert response.status_code == 404
    assert response.json() == {"message": "User not found"}


async def test_deleting_a_user_is_audited_under_the_admin_who_did_it(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    target = await caller(app, Role.ANALYST)
    await client.delete(f"/api/users/{target.user.id}", headers=admin.headers)
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(UserLog).where(UserLog.action == "DELETE_USER"))
    assert row is not None
    assert row.user_id == admin.user.id
    assert row.metadata_ == {"deletedUserId": target.user.id, "deletedEmail": target.user.email}
