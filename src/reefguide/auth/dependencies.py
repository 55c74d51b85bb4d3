"""Who is calling: the credential parsers and the role checks routes depend on.

A credential is a bearer JWT (`Authorization: Bearer …`) or an API key
(`x-api-key: …` or `Authorization: Api-Key …`). Roles always come from the
database, never from the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy import inspect as inspect_model
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import make_transient_to_detached

from reefguide.auth import api_keys
from reefguide.auth.context import AuthContext
from reefguide.db.session import UnitOfWork, UnitOfWorkDep
from reefguide.errors import Forbidden, Unauthorized
from reefguide.observability.context import note
from reefguide.users.models import Role, User

# Declared for the OpenAPI document; the header is parsed below.
_bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")
_api_key_scheme = APIKeyHeader(
    name="x-api-key", auto_error=False, description="An API key (also accepted as `Authorization: Api-Key …`)"
)


async def get_auth(request: Request) -> AuthContext:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread.
    auth: AuthContext = request.app.state.auth
    return auth


AuthDep = Annotated[AuthContext, Depends(get_auth)]


async def current_user(
    request: Request,
    work: UnitOfWorkDep,
    auth: AuthDep,
    _bearer: Annotated[object, Depends(_bearer_scheme)] = None,
    _key: Annotated[object, Depends(_api_key_scheme)] = None,
) -> User:
    user = await _authenticate(request, work, auth)
    note(user_id=user.id)
    return user


async def _authenticate(request: Request, work: UnitOfWork, auth: AuthContext) -> User:
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if authorization and not api_key:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            claims = auth.tokens.verify(credential)
            user = await _read_user(request.app.state.engine, claims["id"])
            if user is None:
                raise Unauthorized("Invalid token")
            work.adopt(user)
            return user
        if scheme.lower() == "api-key" and credential:
            api_key = credential
        else:
            raise Unauthorized("Unsupported authorization scheme")
    if api_key:
        user = await api_keys.authenticate(work.session, api_key)
        if user is None:
            raise Unauthorized("Invalid API key")
        return user
    raise Unauthorized("Unauthorized")


# Every column of the users table, labelled with its attribute name on User.
_USER_BY_ID = select(
    *(attribute.columns[0].label(attribute.key) for attribute in inspect_model(User).column_attrs)
).where(User.__table__.c.id == bindparam("user_id"))


async def _read_user(engine: AsyncEngine, user_id: int) -> User | None:
    """The caller's row, read by every authenticated request: one SELECT in autocommit
    on a connection of its own (no BEGIN and COMMIT around it, no ORM session), which
    costs a fraction of `session.get`. The user comes back as if loaded by the ORM, and
    the request's session adopts it if the handler opens one."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (await connection.execute(_USER_BY_ID, {"user_id": user_id})).one_or_none()
    if row is None:
        return None
    user = User(**row._mapping)
    make_transient_to_detached(user)
    return user


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
