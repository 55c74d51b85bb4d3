"""Listing, reading, creating users and changing their roles and passwords."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from reefguide.users.models import Role, UserLog
from tests.factories import PASSWORD, make_user
from tests.users.helpers import Caller


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_listing_users_returns_a_bare_array_of_id_email_roles(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app, roles=[Role.ANALYST, Role.DEFAULT])
    response = await client.get("/api/users", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == [
        {"id": admin.user.id, "email": admin.user.email, "roles": ["ADMIN"]},
        {"id": other.id, "email": other.email, "roles": ["ANALYST", "DEFAULT"]},
    ]


async def test_getting_a_user_returns_id_email_roles(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    response = await client.get(f"/api/users/{other.id}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"id": other.id, "email": other.email, "roles": ["ANALYST"]}


async def test_getting_an_unknown_user_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.get("/api/users/999999", headers=admin.headers)
    assert response.status_code == 404
    assert response.json() == {"message": "User not found"}


async def test_a_non_numeric_user_id_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.get("/api/users/abc", headers=admin.headers)
    assert response.status_code == 400


async def test_creating_a_user_returns_its_id_and_the_user_can_log_in(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    body = {"email": " Created@Example.com ", "password": "password123", "roles": ["ANALYST"]}
    response = await client.post("/api/users", json=body, headers=admin.headers)
    assert response.status_code == 200
    user_id = response.json()["id"]
    assert response.json() == {"id": user_id}
    fetched = await client.get(f"/api/users/{user_id}", headers=admin.headers)
    assert fetched.json() == {"id": user_id, "email": "created@example.com", "roles": ["ANALYST"]}
    assert (await login(client, "created@example.com", "password123")).status_code == 200


async def test_creating_a_user_without_roles_gives_no_roles(client: httpx.AsyncClient, admin: Caller) -> None:
    body = {"email": "noroles@example.com", "password": "password123"}
    user_id = (await client.post("/api/users", json=body, headers=admin.headers)).json()["id"]
    assert (await client.get(f"/api/users/{user_id}", headers=admin.headers)).json()["roles"] == []


async def test_creating_a_user_with_a_taken_email_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    existing = await make_user(app)
    body = {"email": existing.email.upper(), "password": "password123"}
    response = await client.post("/api/users", json=body, headers=admin.headers)
    assert response.status_code == 400
    assert response.json() == {"message": "User already exists"}


async def test_creating_a_user_with_a_short_password_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    body = {"email": "short@example.com", "password": "1234567"}
    response = await client.post("/api/users", json=body, headers=admin.headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["password"]


async def test_creating_a_user_with_an_unknown_role_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    body = {"email": "role@example.com", "password": "password123", "roles": ["SUPERUSER"]}
    response = await client.post("/api/users", json=body, headers=admin.headers)
    assert response.status_code == 400


async def test_updating_roles_returns_the_user_with_the_new_roles(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    response = await client.put(
        f"/api/users/{other.id}/roles", json={"roles": ["DEFAULT", "ADMIN", "ADMIN"]}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json() == {"id": other.id, "email": other.email, "roles": ["ADMIN", "DEFAULT"]}


async def test_updated_roles_apply_to_the_users_next_request(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await client.put(f"/api/users/{analyst.user.id}/roles", json={"roles": ["ADMIN"]}, headers=admin.headers)
    assert (await client.get("/api/users", headers=analyst.headers)).status_code == 200


async def test_updating_roles_is_audited_with_before_after_and_who(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app, roles=[Role.ANALYST])
    await client.put(f"/api/users/{other.id}/roles", json={"roles": ["ADMIN"]}, headers=admin.headers)
    async with app.state.sessionmaker() as session:
        log = await session.scalar(select(UserLog).where(UserLog.user_id == other.id))
    assert log is not None
    assert log.action == "UPDATED"
    assert log.metadata_ == {"before": ["ANALYST"], "after": ["ADMIN"], "byUserId": admin.user.id}


async def test_updating_roles_of_an_unknown_user_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.put("/api/users/999999/roles", json={"roles": ["ADMIN"]}, headers=admin.headers)
    assert response.status_code == 404


async def test_updating_roles_with_an_unknown_role_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    response = await client.put(
        f"/api/users/{other.id}/roles", json={"roles": ["ROOT"]}, headers=admin.headers
    )
    assert response.status_code == 400


async def test_setting_a_password_answers_with_a_message_and_the_new_password_works(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    response = await client.put(
        f"/api/users/{other.id}/password", json={"password": "brand-new-pw"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert set(response.json()) == {"message"}
    assert (await login(client, other.email)).status_code == 401
    assert (await login(client, other.email, "brand-new-pw")).status_code == 200


async def test_setting_a_password_revokes_the_users_refresh_tokens(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    refresh_token = (await login(client, other.email)).json()["refreshToken"]
    await client.put(
        f"/api/users/{other.id}/password", json={"password": "brand-new-pw"}, headers=admin.headers
    )
    response = await client.post("/api/auth/token", json={"refreshToken": refresh_token})
    assert response.status_code == 401


async def test_setting_a_password_is_audited_as_change_password_by_the_admin(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    await client.put(
        f"/api/users/{other.id}/password", json={"password": "brand-new-pw"}, headers=admin.headers
    )
    async with app.state.sessionmaker() as session:
        log = await session.scalar(select(UserLog).where(UserLog.user_id == other.id))
    assert log is not None
    assert log.action == "CHANGE_PASSWORD"
    assert log.metadata_ == {"byUserId": admin.user.id}


async def test_setting_a_short_password_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    other = await make_user(app)
    response = await client.put(
        f"/api/users/{other.id}/password", json={"password": "short"}, headers=admin.headers
    )
    assert response.status_code == 400
    assert (await login(client, other.email)).status_code == 200


async def test_setting_the_password_of_an_unknown_user_is_404(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.put(
        "/api/users/999999/password", json={"password": "brand-new-pw"}, headers=admin.headers
    )
    assert response.status_code == 404
