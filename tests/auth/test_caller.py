"""Reading the caller on every request: a remembered token still expires, the user
and roles come from the database each time, and the request's session holds the
caller so that a handler's changes to it are saved."""

from __future__ import annotations

import time
import types

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Engine

from reefguide.auth import tokens as tokens_module
from reefguide.auth.dependencies import CurrentUser
from reefguide.db.session import SessionDep, unit_of_work
from reefguide.users.models import Role, User
from tests.factories import bearer, make_user, token_for


async def test_a_remembered_token_is_refused_once_it_expires(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    assert (await client.get("/api/auth/profile", headers=headers)).status_code == 200

    two_hours_later = time.time() + 2 * 60 * 60  # tokens last 60 minutes
    monkeypatch.setattr(tokens_module, "time", types.SimpleNamespace(time=lambda: two_hours_later))
    response = await client.get("/api/auth/profile", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Token expired"}


async def test_roles_changed_in_the_database_apply_to_a_token_already_used(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_user(app, roles=[Role.ANALYST])
    headers = bearer(token_for(app, user))
    assert (await client.get("/api/users", headers=headers)).status_code == 403

    async with unit_of_work(app.state.sessionmaker) as session:
        await session.execute(update(User).where(User.id == user.id).values(roles=[Role.ADMIN.value]))
    assert (await client.get("/api/users", headers=headers)).status_code == 200


async def test_the_token_of_a_deleted_user_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    headers = bearer(token_for(app, user))
    assert (await client.get("/api/auth/profile", headers=headers)).status_code == 200

    async with unit_of_work(app.state.sessionmaker) as session:
        await session.execute(delete(User).where(User.id == user.id))
    response = await client.get("/api/auth/profile", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid token"}


async def _query_first(session: SessionDep) -> None:
    await session.execute(text("SELECT 1"))


def add_renaming_routes(app: FastAPI) -> None:
    """Three ways a handler gets the caller and the session: the caller first, the
    session first, and a session that has already run a query."""
    router = APIRouter(prefix="/probe")

    @router.post("/caller-first")
    async def caller_first(user: CurrentUser, session: SessionDep) -> None:
        user.email = f"renamed-{user.id}@example.com"

    @router.post("/session-first")
    async def session_first(session: SessionDep, user: CurrentUser) -> None:
        user.email = f"renamed-{user.id}@example.com"

    @router.post("/session-busy", dependencies=[Depends(_query_first)])
    async def session_busy(session: SessionDep, user: CurrentUser) -> None:
        user.email = f"renamed-{user.id}@example.com"

    app.include_router(router)


@pytest.mark.parametrize("route", ["caller-first", "session-first", "session-busy"])
async def test_a_handler_that_changes_the_caller_saves_the_change(
    client: httpx.AsyncClient, app: FastAPI, route: str
) -> None:
    add_renaming_routes(app)
    user = await make_user(app)
    response = await client.post(f"/probe/{route}", headers=bearer(token_for(app, user)))
    assert response.status_code == 200, response.text

    async with unit_of_work(app.state.sessionmaker) as session:
        email = (await session.execute(select(User.email).where(User.id == user.id))).scalar_one()
    assert email == f"renamed-{user.id}@example.com"


@pytest.mark.postgres_only
async def test_a_connection_lost_under_the_callers_query_is_dropped_and_the_request_answered(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    failed: list[asyncpg.Connection] = []
    fetchrow = asyncpg.Connection.fetchrow

    async def fail_once(self: asyncpg.Connection, *args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(self)
            raise asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            )
        return await fetchrow(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", fail_once)
    response = await client.get("/api/auth/profile", headers=headers)
    assert response.status_code == 200, response.text
    assert failed, "the caller was read through asyncpg"
    assert failed[0].is_closed(), "the connection that failed went back to the pool"


@pytest.mark.postgres_only
async def test_a_driver_error_at_checkout_is_left_to_the_usual_query(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    engine = app.state.engine
    refused: list[bool] = []

    raw_connection = type(engine.sync_engine).raw_connection

    def refuse_once(self: Engine) -> object:  # the usual query checks out a connection too
        if refused:
            return raw_connection(self)
        refused.append(True)
        raise engine.dialect.loaded_dbapi.OperationalError("the database system is starting up")

    monkeypatch.setattr(type(engine.sync_engine), "raw_connection", refuse_once)
    response = await client.get("/api/auth/profile", headers=headers)
    assert response.status_code == 200, response.text
    assert refused, "the caller was read through asyncpg first"
