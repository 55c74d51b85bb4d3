"""Who is connecting: the credential of a Socket.IO handshake, checked by the same
code as an HTTP request's (`auth.dependencies.authenticate`).

A client sends `auth: {token: <JWT>}` or `auth: {apiKey: …}`, or the headers an
HTTP request would carry (`Authorization: Bearer …`, `x-api-key: …`). A bad or
missing credential refuses the connection; the reason reaches the client as the
`connect_error` message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from socketio.exceptions import ConnectionRefusedError as Refused
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reefguide.auth.context import AuthContext
from reefguide.auth.dependencies import Credential, authenticate, credential_from_headers
from reefguide.errors import ApiError
from reefguide.http.handlers import DATABASE_DOWN
from reefguide.users.models import User

log = structlog.get_logger(__name__)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def credential_of(auth: object, environ: Mapping[str, Any]) -> Credential:
    """The handshake's credential: the `auth` payload first, then the headers."""
    if isinstance(auth, Mapping):
        token, api_key = _text(auth.get("token")), _text(auth.get("apiKey"))
        if token is not None:
            # Clients often send the header's value as it is.
            scheme, _, rest = token.partition(" ")
            return Credential(token=rest.strip() if scheme.lower() == "bearer" and rest.strip() else token)
        if api_key is not None:
            return Credential(api_key=api_key)
    return credential_from_headers(
        authorization=environ.get("HTTP_AUTHORIZATION"), api_key=environ.get("HTTP_X_API_KEY")
    )


async def connecting_user(
    auth_payload: object,
    environ: Mapping[str, Any],
    *,
    auth: AuthContext,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> User:
    """The user behind the handshake, or `ConnectionRefusedError` saying why."""
    try:
        credential = credential_of(auth_payload, environ)
        return await authenticate(credential, auth=auth, engine=engine, sessionmaker=sessionmaker)
    except ApiError as exc:
        raise Refused(exc.message) from None
    except (DBAPIError, OSError, TimeoutError) as exc:
        log.warning("database unavailable", error=type(exc).__name__)
        raise Refused(DATABASE_DOWN) from None
