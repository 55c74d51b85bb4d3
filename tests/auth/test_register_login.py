"""Registration, login, profile and password change through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reefguide.users.models import PreApprovedUser, Role, UserLog
from tests.factories import PASSWORD, bearer, make_user


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_register_returns_the_new_user_id(client: httpx.AsyncClient) -> None:
    response = await register(client, "new@example.com")
    assert response.status_code == 200
    assert isinstance(response.json()["userId"], int)


async def test_register_twice_answers_user_already_exists(client: httpx.AsyncClient) -> None:
    await register(client, "twice@example.com")
    response = await register(client, "  TWICE@Example.com ")
    assert response.status_code == 400
    assert response.json() == {"message": "User already exists"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "short@example.com", "password": "1234567"}, "password"),
        ({"email": "missing@example.com"}, "password"),
    ],
)
async def test_register_rejects_bad_input_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request"
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_email_is_trimmed_and_lower_cased(client: httpx.AsyncClient) -> None:
    await register(client, "  Mixed.Case@Example.COM ")
    response = await login(client, "mixed.case@example.com")
    assert response.status_code == 200
    profile = await client.get("/api/auth/profile", headers=bearer(response.json()["token"]))
    assert profile.json()["user"]["email"] == "mixed.case@example.com"


async def test_open_registration_gives_analyst(client: httpx.AsyncClient) -> None:
    await register(client, "analyst@example.com")
    token = (await login(client, "analyst@example.com")).json()["token"]
    profile = await client.get("/api/auth/profile", headers=bearer(token))
    assert profile.json()["user"]["roles"] == ["ANALYST"]


@pytest.mark.parametrize("settings_overrides", [{"registration_mode": "approval"}])
async def test_approval_mode_gives_default_plus_pre_approved_roles(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async with app.state.sessionmaker() as session:
        session.add(PreApprovedUser(email="approved@example.com", roles=["ANALYST"]))
        await session.commit()
    await register(client, "plain@example.com")
    await register(client, "Approved@example.com")
    plain = (await login(client, "plain@example.com")).json()["token"]
    approved = (await login(client, "approved@example.com")).json()["token"]
    assert (await client.get("/api/auth/profile", headers=bearer(plain))).json()["user"]["roles"] == [
        "DEFAULT"
    ]
    roles = (await client.get("/api/auth/profile", headers=bearer(approved))).json()["user"]["roles"]
    assert roles == ["ANALYST", "DEFAULT"]
    async with app.state.sessionmaker() as session:
        approval = await session.scalar(select(PreApprovedUser))
        assert approval is not None
        assert approval.used
        assert approval.used_at is not None


async def test_login_returns_token_and_refresh_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    response = await login(client, user.email)
    assert response.status_code == 200
    assert set(response.json()) == {"token", "refreshToken"}


async def test_wrong_password_and_unknown_email_answer_alike(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    wrong = await login(client, user.email, "wrong-password")
    unknown = await login(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"message": "Invalid credentials"}


async def test_unknown_email_is_verified_against_a_dummy_hash(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Equal timing comes from doing the same work: count the Argon2 verifications.
    passwords = app.state.auth.passwords
    verified: list[str] = []

    class CountingHasher:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return bool(self._inner.verify(hash_, password))

    monkeypatch.setattr(passwords, "_hasher", CountingHasher(passwords._hasher))
    await login(client, "nobody@example.com")
    assert len(verified) == 1
    assert verified[0].startswith("$argon2id$")


async def test_login_is_recorded_in_the_audit_log(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    await login(client, user.email)
    async with app.state.sessionmaker() as session:
        actions = list(await session.scalars(select(UserLog.action).where(UserLog.user_id == user.id)))
    assert actions == ["LOGIN"]


async def test_profile_returns_id_email_roles(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app, roles=[Role.ANALYST, Role.ADMIN])
    token = (await login(client, user.email)).json()["token"]
    response = await client.get("/api/auth/profile", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"user": {"id": user.id, "email": user.email, "roles": ["ADMIN", "ANALYST"]}}


async def test_profile_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/profile")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


async def test_change_password_revokes_refresh_tokens(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    tokens = (await login(client, user.email)).json()
    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(tokens["token"]),
        json={"oldPassword": PASSWORD, "newPassword": "new-password-1", "confirmPassword": "new-password-1"},
    )
    assert response.status_code == 200
    assert (
        await client.post("/api/auth/token", json={"refreshToken": tokens["refreshToken"]})
    ).status_code == 401
    assert (await login(client, user.email)).status_code == 401
    assert (await login(client, user.email, "new-password-1")).status_code == 200


async def test_change_password_with_mismatched_confirmation_is_400(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_user(app)
    token = (await login(client, user.email)).json()["token"]
    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(token),
        json={"oldPassword": PASSWORD, "newPassword": "new-password-1", "confirmPassword": "new-password-2"},
    )
    assert response.status_code == 400


async def test_change_password_with_wrong_old_password_is_401(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_user(app)
    token = (await login(client, user.email)).json()["token"]
    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(token),
        json={
            "oldPassword": "not-it-at-all",
            "newPassword": "new-password-1",
            "confirmPassword": "new-password-1",
        },
    )
    assert response.status_code == 401
    assert (await login(client, user.email)).status_code == 200
