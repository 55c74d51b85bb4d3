"""Who is calling: the credential parsers and the role checks routes depend on.

A credential is a bearer JWT (`Authorization: Bearer …`) or an API key
(`x-api-key: …` or `Authorization: Api-Key …`). Roles always come from the
database, never from the token.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy import Select, bindparam, select
from sqlalchemy import inspect as inspect_model
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import instance_state
from sqlalchemy.util import await_, greenlet_spawn

from reefguide.auth import api_keys
from reefguide.auth.context import AuthContext
from reefguide.auth.models import ApiKey
from reefguide.auth.refresh import hash_secret
from reefguide.db.base import utcnow
from reefguide.db.session import request_unit_of_work, unit_of_work
from reefguide.errors import Forbidden, Unauthorized
from reefguide.observability.context import note
from reefguide.users.models import Role, User

# Declared for the OpenAPI document only (`current_user.__security__`): as dependencies
# they would run on every request, and the header is parsed below anyway.
_bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")
_api_key_scheme = APIKeyHeader(
    name="x-api-key", auto_error=False, description="An API key (also accepted as `Authorization: Api-Key …`)"
)


async def get_auth(request: Request) -> AuthContext:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread.
    auth: AuthContext = request.app.state.auth
    return auth


AuthDep = Annotated[AuthContext, Depends(get_auth)]


async def current_user(request: Request) -> User:
    # Usually the request's session has not begun (it may never be opened), and the
    # caller is read on a connection of its own, then adopted by the session. If it
    # has begun, it is used: waiting for a second pooled connection while holding one
    # can starve the pool.
    work = request_unit_of_work(request)
    session = work.active_session
    user = await _authenticate(request, session)
    if session is None:
        user = await work.adopt(user)
    note(user_id=user.id)
    return user


async def _authenticate(request: Request, session: AsyncSession | None) -> User:
    credential = credential_from_headers(
        authorization=request.headers.get("authorization"), api_key=request.headers.get("x-api-key")
    )
    state = request.app.state
    return await authenticate(
        credential, auth=state.auth, engine=state.engine, sessionmaker=state.sessionmaker, session=session
    )


@dataclass(frozen=True)
class Credential:
    """What a client presented: an access token or an API key (exactly one is set)."""

    token: str | None = None
    api_key: str | None = None


def credential_from_headers(*, authorization: str | None, api_key: str | None) -> Credential:
    """`Authorization: Bearer …`, `Authorization: Api-Key …` or `x-api-key: …`; else Unauthorized."""
    if authorization and not api_key:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return Credential(token=value)
        if scheme.lower() == "api-key" and value:
            return Credential(api_key=value)
        raise Unauthorized("Unsupported authorization scheme")
    if api_key:
        return Credential(api_key=api_key)
    raise Unauthorized("Unauthorized")


async def authenticate(
    credential: Credential,
    *,
    auth: AuthContext,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession | None = None,
) -> User:
    """The user a credential stands for, with their current roles, or Unauthorized.
    HTTP requests and Socket.IO connections alike come through here."""
    if credential.token is not None:
        claims = auth.tokens.verify(credential.token)
        if session is None:
            user = await _read_user(engine, claims["id"])
        else:
            user = await session.get(User, claims["id"])
        if user is None:
            raise Unauthorized("Invalid token")
        return user
    if credential.api_key:
        if session is None:
            read, key_user = await _read_key_user(engine, credential.api_key)
            if not read:
                # A transaction of its own: the key's last use is recorded even if the
                # request fails.
                async with unit_of_work(sessionmaker) as own_session:
                    key_user = await api_keys.authenticate(own_session, credential.api_key)
        else:
            key_user = await api_keys.authenticate(session, credential.api_key)
        if key_user is None:
            raise Unauthorized("Invalid API key")
        return key_user
    raise Unauthorized("Unauthorized")


# Every column of the users table, labelled with its attribute name on User.
_USER_COLUMNS = inspect_model(User).column_attrs
_USER_MANAGER = inspect_model(User).class_manager
_USER_BY_ID = select(*(column.columns[0].label(column.key) for column in _USER_COLUMNS)).where(
    User.__table__.c.id == bindparam("user_id")
)


# The same, with the key's expiry and last use, found by the key's hash.
_USER_BY_KEY = (
    select(
        *(column.columns[0].label(column.key) for column in _USER_COLUMNS),
        ApiKey.expires_at.label("key_expires_at"),
        ApiKey.last_used_at.label("key_last_used_at"),
    )
    .join(ApiKey, ApiKey.user_id == User.__table__.c.id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


async def _read_key_user(engine: AsyncEngine, key: str) -> tuple[bool, User | None]:
    """Every request of a worker presents its API key: while the key's last use is
    recorded recently enough, its user is read as `_read_user` reads a token's, in
    one SELECT. (True, the user, or None for an unknown or expired key), or (False,
    None) when this use must be recorded, or the fast read is not to be had: then
    the caller takes the usual path, which writes."""
    if engine.dialect.driver != "asyncpg":
        return False, None
    found, values = await _select_with_asyncpg(engine, _USER_BY_KEY, hash_secret(key))
    if not found:
        return False, None
    if values is None:
        return True, None
    expires_at, last_used_at = values.pop("key_expires_at"), values.pop("key_last_used_at")
    usable, use_unrecorded = api_keys.check(expires_at, last_used_at, utcnow())
    if not usable:
        return True, None
    if use_unrecorded:
        return False, None
    return True, _loaded_user(values)


async def _read_user(engine: AsyncEngine, user_id: int) -> User | None:
    """The caller, read by every authenticated request on a connection of its own:
    one SELECT in autocommit (no BEGIN and COMMIT, no ORM session). The user comes
    back as if loaded by the ORM, with every column."""
    if engine.dialect.driver == "asyncpg":
        found, values = await _select_with_asyncpg(engine, _USER_BY_ID, user_id)
        if found:
            return _loaded_user(values)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (await connection.execute(_USER_BY_ID, {"user_id": user_id})).one_or_none()
    return _loaded_user(None if row is None else dict(row._mapping))


async def _select_with_asyncpg(
    engine: AsyncEngine, statement: Select[Any], value: object
) -> tuple[bool, dict[str, Any] | None]:
    """(True, the row or None) through asyncpg itself on a pooled connection, or
    (False, None) when the query failed. SQLAlchemy's execution layer costs several
    times the round trip, and this runs on every authenticated request; the SQL and
    the column conversions are still SQLAlchemy's, compiled once."""
    # On a driver error (a server refusing connections, a connection lost mid-query)
    # the caller makes the query again the usual way, which recovers or reports it as
    # any other query would; a refused or unreachable host (OSError) is reported as is.
    sql, conversions = _compiled(engine.dialect, statement)
    found, record = await greenlet_spawn(_fetch_row, engine.sync_engine, sql, value)
    if not found:
        return False, None
    if record is None:
        return True, None
    return True, {
        key: value if convert is None else convert(value)
        for (key, convert), value in zip(conversions, record, strict=True)
    }


def _fetch_row(engine: Engine, sql: str, value: object) -> tuple[bool, Any]:
    """Check out a connection, run the query on asyncpg, check it in: all in one
    greenlet (making one costs about 10 µs of CPU: a 16 KiB stack mapped and unmapped),
    where the pool may wait for a connection and the query is awaited."""
    try:
        connection = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error:
        return False, None
    # On failure the connection is not put back: what state it is in is unknown.
    try:
        record = await_(connection.driver_connection.fetchrow(sql, value))  # type: ignore[union-attr]
    except Exception:
        connection.invalidate()
        return False, None
    except BaseException:
        connection.invalidate()
        raise
    connection.close()
    return True, record


def _loaded_user(values: dict[str, Any] | None) -> User | None:
    if values is None:
        return None
    # As the ORM's loader does: values straight into the instance's dict, without
    # the constructor's attribute events (which would mark every column changed).
    user: User = _USER_MANAGER.new_instance()
    instance_state(user).dict.update(values)
    make_transient_to_detached(user)
    return user


@functools.lru_cache(maxsize=8)
def _compiled(dialect: Dialect, statement: Select[Any]) -> tuple[str, list[tuple[str, Any]]]:
    """The statement's SQL, of one parameter, and each column's name and conversion."""
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None
    assert len(compiled.positiontup) == 1
    conversions = [
        (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
        for column in statement.selected_columns
    ]
    return str(compiled), conversions


current_user.__security__ = (_bearer_scheme, _api_key_scheme)  # type: ignore[attr-defined]  # read by openapi.py
CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency passing users with any of `roles`; ADMIN passes every check."""

    async def check_roles(user: CurrentUser) -> User:
        if not user.has_role(*roles):
            raise Forbidden("You do not have permission to do this")
        return user

    check_roles.__roles__ = sorted({Role.ADMIN, *roles})  # type: ignore[attr-defined]  # read by openapi.py
    return check_roles


# Polygons, notes, projects and jobs: analysts and admins.
AnalystUser = Annotated[User, Depends(require_roles(Role.ANALYST))]
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
# Worker routes: service accounts and admins.
WorkerUser = Annotated[User, Depends(require_roles(Role.WORKER))]
