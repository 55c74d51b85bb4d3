"""API keys: created once, stored hashed, usable as x-api-key or Authorization: Api-Key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from reefguide.auth.models import ApiKey
from reefguide.users.models import Role, User, UserLog
from tests.factories import bearer, make_user, token_for


async def create_key(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> httpx.Response:
    return await client.post("/api/auth/api-keys", headers=headers, json={"name": "laptop", **body})


async def test_create_shows_the_key_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    response = await create_key(client, headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "key", "prefix", "expiresAt"}
    assert body["key"].startswith(body["prefix"])
    listing = (await client.get("/api/auth/api-keys", headers=headers)).json()
    assert "key" not in listing["apiKeys"][0]
    assert set(listing["apiKeys"][0]) == {"id", "name", "prefix", "createdAt", "lastUsedAt", "expiresAt"}


async def test_key_is_stored_hashed(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    key = (await create_key(client, headers)).json()["key"]
    async with app.state.sessionmaker() as session:
        stored = await session.scalar(select(ApiKey))
    assert stored is not None
    assert key not in stored.key_hash
    assert len(stored.key_hash) == 64


async def test_key_authenticates_in_either_header(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    key = (await create_key(client, bearer(token_for(app, user)))).json()["key"]
    for headers in ({"x-api-key": key}, {"Authorization": f"Api-Key {key}"}):
        response = await client.get("/api/auth/profile", headers=headers)
        assert response.status_code == 200
        assert response.json()["user"]["id"] == user.id


async def test_key_acts_with_the_users_current_roles(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    key = (await create_key(client, bearer(token_for(app, user)))).json()["key"]
    async with app.state.sessionmaker() as session:
        await session.execute(update(User).where(User.id == user.id).values(roles=[Role.WORKER.value]))
        await session.commit()
    profile = await client.get("/api/auth/profile", headers={"x-api-key": key})
    assert profile.json()["user"]["roles"] == ["WORKER"]


async def test_use_records_last_used(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    key = (await create_key(client, headers)).json()["key"]
    assert (await client.get("/api/auth/api-keys", headers=headers)).json()["apiKeys"][0][
        "lastUsedAt"
    ] is None
    await client.get("/api/auth/profile", headers={"x-api-key": key})
    assert (await client.get("/api/auth/api-keys", headers=headers)).json()["apiKeys"][0][
        "lastUsedAt"
    ] is not None


async def test_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/profile", headers={"x-api-key": "rg_not-a-key"})
    assert response.status_code == 401


async def test_expired_key_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    expires = datetime.now(UTC) + timedelta(hours=1)
    key = (await create_key(client, headers, expiresAt=expires.isoformat())).json()["key"]
    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 200
    async with app.state.sessionmaker() as session:
        await session.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await session.commit()
    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 401


async def test_expiry_in_the_past_is_400(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    past = datetime.now(UTC) - timedelta(hours=1)
    assert (await create_key(client, headers, expiresAt=past.isoformat())).status_code == 400


async def test_deleted_key_stops_working(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    created = (await create_key(client, headers)).json()
    assert (await client.delete(f"/api/auth/api-keys/{created['id']}", headers=headers)).status_code == 204
    assert (await client.get("/api/auth/profile", headers={"x-api-key": created["key"]})).status_code == 401


async def test_cannot_delete_someone_elses_key(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = bearer(token_for(app, await make_user(app)))
    other = bearer(token_for(app, await make_user(app)))
    created = (await create_key(client, owner)).json()
    assert (await client.delete(f"/api/auth/api-keys/{created['id']}", headers=other)).status_code == 404
    assert (await client.get("/api/auth/profile", headers={"x-api-key": created["key"]})).status_code == 200


async def test_creation_and_revocation_are_audited(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    headers = bearer(token_for(app, user))
    created = (await create_key(client, headers)).json()
    await client.delete(f"/api/auth/api-keys/{created['id']}", headers=headers)
    async with app.state.sessionmaker() as session:
        actions = list(await session.scalars(select(UserLog.action).where(UserLog.user_id == user.id)))
    assert actions == ["CREATE_API_KEY", "REVOKE_API_KEY"]


async def test_last_use_is_written_at_most_once_a_minute(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    key = (await create_key(client, headers)).json()["key"]

    async def last_used() -> datetime | None:
        async with app.state.sessionmaker() as session:
            return await session.scalar(select(ApiKey.last_used_at))

    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 200
    recorded = await last_used()
    assert recorded is not None
    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 200
    assert await last_used() == recorded  # a minute has not passed: not written again
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    async with app.state.sessionmaker() as session:
        await session.execute(update(ApiKey).values(last_used_at=long_ago))
        await session.commit()
    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 200
    latest = await last_used()
    assert latest is not None
    assert latest > long_ago
