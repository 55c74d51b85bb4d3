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

from reefguide.auth import api_keys
from reefguide.auth.context import AuthContext
from reefguide.db.session import SessionDep
from reefguide.errors import Forbidden, Unauthorized
from reefguide.observability.context import note
from reefguide.users.models import Role, User

# Declared for the OpenAPI document; the header is parsed below.
_bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")
_api_key_scheme = APIKeyHeader(
    name="x-api-key", auto_error=False, description="An API key (also accepted as `Authorization: Api-Key …`)"
)


def get_auth(request: Request) -> AuthContext:
    auth: AuthContext = request.app.state.auth
    return auth


AuthDep = Annotated[AuthContext, Depends(get_auth)]


async def current_user(
    request: Request,
    session: SessionDep,
    auth: AuthDep,
    _bearer: Annotated[object, Depends(_bearer_scheme)] = None,
    _key: Annotated[object, Depends(_api_key_scheme)] = None,
) -> User:
    user = await _authenticate(request, session, auth)
    note(user_id=user.id)
    return user


async def _authenticate(request: Request, session: SessionDep, auth: AuthContext) -> User:
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if authorization and not api_key:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            claims = auth.tokens.verify(credential)
            user = await session.get(User, claims["id"])
            if user is None:
                raise Unauthorized("Invalid token")
            return user
        if scheme.lower() == "api-key" and credential:
            api_key = credential
        else:
            raise Unauthorized("Unsupported authorization scheme")
    if api_key:
        user = await api_keys.authenticate(session, api_key)
        if user is None:
            raise Unauthorized("Invalid API key")
        return user
    raise Unauthorized("Unauthorized")


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
