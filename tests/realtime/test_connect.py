"""Connecting: a JWT or an API key, in the `auth` payload or in the HTTP headers;
anything else is refused with a reason the client can read."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from reefguide.observability.metrics import SOCKETIO_CONNECTIONS
from reefguide.realtime.rooms import ADMIN_ROOM, user_room
from tests.callers import Caller
from tests.realtime.conftest import Connect, Listener, Refused, token_auth


async def api_key_of(client: httpx.AsyncClient, who: Caller) -> str:
    response = await client.post("/api/auth/api-keys", json={"name": "live"}, headers=who.headers)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def rooms_of(app: FastAPI, listener: Listener) -> set[str]:
    sid = listener.client.get_sid()
    return set(app.state.realtime.server.rooms(sid)) - {sid}


async def test_a_token_in_auth_connects_to_the_users_room(
    app: FastAPI, connect: Connect, analyst: Caller
) -> None:
    listener = await connect(auth=token_auth(analyst))
    assert rooms_of(app, listener) == {user_room(analyst.user.id)}


async def test_an_admin_also_joins_the_admin_room(app: FastAPI, connect: Connect, admin: Caller) -> None:
    listener = await connect(auth=token_auth(admin))
    assert rooms_of(app, listener) == {user_room(admin.user.id), ADMIN_ROOM}


async def test_an_api_key_in_auth_connects(
    app: FastAPI, client: httpx.AsyncClient, connect: Connect, analyst: Caller
) -> None:
    listener = await connect(auth={"apiKey": await api_key_of(client, analyst)})
    assert rooms_of(app, listener) == {user_room(analyst.user.id)}


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
async def test_the_http_headers_connect_too(
    app: FastAPI, client: httpx.AsyncClient, connect: Connect, analyst: Caller, header: str
) -> None:
    headers = {"x-api-key": await api_key_of(client, analyst)} if header == "x-api-key" else analyst.headers
    listener = await connect(headers=headers)
    assert rooms_of(app, listener) == {user_room(analyst.user.id)}


async def test_no_credential_is_refused(connect: Connect) -> None:
    with pytest.raises(Refused) as refused:
        await connect()
    assert refused.value.reason == {"message": "Unauthorized"}


async def test_a_bad_token_is_refused(connect: Connect, analyst: Caller) -> None:
    with pytest.raises(Refused) as refused:
        await connect(auth={"token": token_auth(analyst)["token"][:-4] + "AAAA"})
    assert refused.value.reason == {"message": "Invalid token"}


async def test_a_token_signed_by_another_key_is_refused(connect: Connect) -> None:
    forged = (
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MSwiaXNzIjoiaHR0cDovL3Rlc3QiLCJleHAiOjQxMDI0NDQ4MDB9."
        "c2lnbmF0dXJl"
    )
    with pytest.raises(Refused) as refused:
        await connect(auth={"token": forged})
    assert refused.value.reason == {"message": "Invalid token"}


async def test_an_unknown_api_key_is_refused(connect: Connect) -> None:
    with pytest.raises(Refused) as refused:
        await connect(auth={"apiKey": "rg_not-a-key"})
    assert refused.value.reason == {"message": "Invalid API key"}


async def test_a_revoked_api_key_is_refused(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller
) -> None:
    key = await api_key_of(client, analyst)
    listed = (await client.get("/api/auth/api-keys", headers=analyst.headers)).json()["apiKeys"]
    revoked = await client.delete(f"/api/auth/api-keys/{listed[0]['id']}", headers=analyst.headers)
    assert revoked.status_code == 204
    with pytest.raises(Refused) as refused:
        await connect(auth={"apiKey": key})
    assert refused.value.reason == {"message": "Invalid API key"}


async def test_a_deleted_users_token_is_refused(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, admin: Caller
) -> None:
    deleted = await client.delete(f"/api/users/{analyst.user.id}", headers=admin.headers)
    assert deleted.status_code in (200, 204), deleted.text
    with pytest.raises(Refused) as refused:
        await connect(auth=token_auth(analyst))
    assert refused.value.reason == {"message": "Invalid token"}


async def test_http_routes_still_answer_beside_socket_io(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url) as http:
        health = await http.get("/api/health")
        handshake = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert health.json() == {"status": "ok"}
    assert "x-request-id" in health.headers
    assert handshake.status_code == 200
    assert '"sid"' in handshake.text


async def test_open_connections_are_counted_for_metrics(connect: Connect, analyst: Caller) -> None:
    before = SOCKETIO_CONNECTIONS._value.get()
    with pytest.raises(Refused):
        await connect()
    assert SOCKETIO_CONNECTIONS._value.get() == before  # a refused one is not counted
    listener = await connect(auth=token_auth(analyst))
    assert SOCKETIO_CONNECTIONS._value.get() == before + 1
    await listener.client.disconnect()
    for _ in range(200):
        if SOCKETIO_CONNECTIONS._value.get() == before:
            break
        await asyncio.sleep(0.01)  # between checks of the condition, not instead of it
    assert SOCKETIO_CONNECTIONS._value.get() == before
