"""The error handlers: each kind of failure gets its status and a `{"message": …}` body,
and the request's transaction keeps or drops its writes as the error says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy import select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from reefguide.db.session import SessionDep
from reefguide.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from reefguide.http.handlers import CONFLICT, DATABASE_DOWN, VALUE_NOT_STORABLE, install_error_handlers
from reefguide.users.models import User
from tests.factories import make_user, unique_email


class PgError(Exception):
    """What asyncpg's errors carry through SQLAlchemy: the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


def _statement_error(cls: type[DBAPIError], orig: Exception, **kwargs: bool) -> DBAPIError:
    return cls("SELECT 1", {"value": 1}, orig, **kwargs)


RAISED: dict[str, tuple[BaseException, int, str]] = {
    "integrity": (_statement_error(IntegrityError, Exception("duplicate key")), 409, CONFLICT),
    "operational": (_statement_error(OperationalError, Exception("server closed")), 503, DATABASE_DOWN),
    "invalidated": (
        _statement_error(DBAPIError, Exception("gone"), connection_invalidated=True),
        503,
        DATABASE_DOWN,
    ),
    "pool timeout": (PoolTimeoutError("QueuePool limit reached"), 503, DATABASE_DOWN),
    "refused": (ConnectionRefusedError(111, "Connection refused"), 503, DATABASE_DOWN),
    "timeout": (TimeoutError(), 503, DATABASE_DOWN),
    "data error": (_statement_error(DataError, Exception("out of range")), 400, VALUE_NOT_STORABLE),
    "int32 out of range": (_statement_error(DBAPIError, PgError("22003")), 400, VALUE_NOT_STORABLE),
    "NUL in text": (_statement_error(DBAPIError, PgError("22021")), 400, VALUE_NOT_STORABLE),
    "sqlite overflow": (
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        400,
        VALUE_NOT_STORABLE,
    ),
    "bind overflow": (
        StatementError("date value out of range", "INSERT", {}, OverflowError("date value out of range")),
        400,
        VALUE_NOT_STORABLE,
    ),
    "undefined table": (_statement_error(ProgrammingError, PgError("42P01")), 500, ApiError.default_message),
    "bug": (RuntimeError("a bug"), 500, ApiError.default_message),
    "http": (HTTPException(418, "I'm a teapot"), 418, "I'm a teapot"),
    "bad request": (BadRequest("Bad thing"), 400, "Bad thing"),
    "unauthorized": (Unauthorized(), 401, "Unauthorized"),
    "forbidden": (Forbidden(), 403, "Forbidden"),
    "not found": (NotFound("Polygon not found"), 404, "Polygon not found"),
    "conflict": (Conflict("Job is not available for assignment"), 409, "Job is not available for assignment"),
    "too large": (PayloadTooLarge(), 413, "Request body too large"),
    "too many": (TooManyRequests(), 429, "Too many attempts, please try again later"),
    "unavailable": (ServiceUnavailable(), 503, "Service unavailable"),
}


@pytest.fixture
async def bare_client() -> AsyncIterator[httpx.AsyncClient]:
    """Only the handlers: no database, no middleware."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_it(name: str) -> None:
        raise RAISED[name][0]

    @app.get("/raise-limited")
    async def raise_limited() -> None:
        raise TooManyRequests(headers={"Retry-After": "7"}, extra={"limit": "5/15 minutes"})

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize("name", list(RAISED))
async def test_each_failure_gets_its_status_and_a_message(bare_client: httpx.AsyncClient, name: str) -> None:
    _exc, status, message = RAISED[name]
    response = await bare_client.get(f"/raise/{name}")
    assert response.status_code == status
    assert response.json() == {"message": message}


async def test_api_error_carries_its_headers_and_extra_fields(bare_client: httpx.AsyncClient) -> None:
    response = await bare_client.get("/raise-limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "message": "Too many attempts, please try again later",
        "limit": "5/15 minutes",
    }


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.post("/probe/write-then-fail")
    async def write_then_fail(session: SessionDep, email: str, keep: bool) -> None:
        session.add(User(email=email, password_hash="x", roles=[]))
        await session.flush()
        raise Conflict("Refused after writing", keep_changes=keep)

    @router.post("/probe/write-then-bug")
    async def write_then_bug(session: SessionDep, email: str) -> None:
        session.add(User(email=email, password_hash="x", roles=[]))
        await session.flush()
        raise RuntimeError("a bug")

    @router.post("/probe/insert")
    async def insert(session: SessionDep, email: str, flush: bool) -> dict[str, str]:
        session.add(User(email=email, password_hash="x", roles=[]))
        if flush:
            await session.flush()
        # Without a flush, the INSERT (and its IntegrityError) happens at the commit
        # that ends the request.
        return {"email": email}

    app.include_router(router)


async def user_exists(app: FastAPI, email: str) -> bool:
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(User.id).where(User.email == email)) is not None


async def test_an_api_error_rolls_back_the_requests_writes(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    email = unique_email()
    response = await client.post("/probe/write-then-fail", params={"email": email, "keep": "false"})
    assert response.status_code == 409
    assert not await user_exists(app, email)


async def test_an_api_error_with_keep_changes_commits_them(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    email = unique_email()
    response = await client.post("/probe/write-then-fail", params={"email": email, "keep": "true"})
    assert response.status_code == 409
    assert response.json() == {"message": "Refused after writing"}
    assert await user_exists(app, email)


async def test_an_unexpected_error_rolls_back(lenient_client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    email = unique_email()
    response = await lenient_client.post("/probe/write-then-bug", params={"email": email})
    assert response.status_code == 500
    assert not await user_exists(app, email)


@pytest.mark.parametrize("flush", [True, False], ids=["at-flush", "at-commit"])
async def test_a_lost_uniqueness_race_is_409_not_500(
    client: httpx.AsyncClient, app: FastAPI, flush: bool
) -> None:
    add_probe_routes(app)
    taken = (await make_user(app)).email
    response = await client.post("/probe/insert", params={"email": taken, "flush": str(flush).lower()})
    assert response.status_code == 409
    assert response.json() == {"message": CONFLICT}


async def test_concurrent_registrations_of_one_email_never_500(client: httpx.AsyncClient) -> None:
    body = {"email": "race@example.com", "password": "password123"}
    responses = await asyncio.gather(*(client.post("/api/auth/register", json=body) for _ in range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 409}, statuses
    assert all("message" in response.json() for response in responses if response.status_code != 200)
