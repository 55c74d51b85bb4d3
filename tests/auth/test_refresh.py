"""Refresh tokens rotate on every use; reuse of a spent one revokes its family."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from reefguide.auth.models import RefreshToken
from reefguide.db.base import utcnow
from tests.factories import PASSWORD, bearer, make_user


async def login_pair(client: httpx.AsyncClient, app: FastAPI) -> dict[str, str]:
    user = await make_user(app)
    response = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    pair: dict[str, str] = response.json()
    return pair


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/token", json={"refreshToken": token})


async def test_refresh_returns_a_working_token_and_a_new_refresh_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await login_pair(client, app)
    response = await refresh(client, first["refreshToken"])
    assert response.status_code == 200
    second = response.json()
    assert second["refreshToken"] != first["refreshToken"]
    assert (await client.get("/api/auth/profile", headers=bearer(second["token"]))).status_code == 200


async def test_the_rotated_token_keeps_working_along_the_chain(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    token = (await login_pair(client, app))["refreshToken"]
    for _ in range(3):
        response = await refresh(client, token)
        assert response.status_code == 200
        token = response.json()["refreshToken"]


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = (await login_pair(client, app))["refreshToken"]
    second = (await refresh(client, first)).json()["refreshToken"]
    reuse = await refresh(client, first)
    assert reuse.status_code == 401
    # The legitimate holder's newer token is revoked too: both must log in again.
    assert (await refresh(client, second)).status_code == 401


async def test_reuse_does_not_touch_other_login_sessions(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    body = {"email": user.email, "password": PASSWORD}
    session_a = (await client.post("/api/auth/login", json=body)).json()["refreshToken"]
    session_b = (await client.post("/api/auth/login", json=body)).json()["refreshToken"]
    await refresh(client, session_a)
    await refresh(client, session_a)
    assert (await refresh(client, session_b)).status_code == 200


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await refresh(client, "not-a-token")
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid refresh token"}


async def test_expired_refresh_token_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    pair = await login_pair(client, app)
    async with app.state.sessionmaker() as session:
        await session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert (await refresh(client, pair["refreshToken"])).status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    pair = await login_pair(client, app)
    response = await client.post("/api/auth/logout", json={"refreshToken": pair["refreshToken"]})
    assert response.status_code == 200
    assert (await refresh(client, pair["refreshToken"])).status_code == 401


async def test_logout_revokes_tokens_rotated_from_the_same_login(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = (await login_pair(client, app))["refreshToken"]
    second = (await refresh(client, first)).json()["refreshToken"]
    await client.post("/api/auth/logout", json={"refreshToken": first})
    assert (await refresh(client, second)).status_code == 401
