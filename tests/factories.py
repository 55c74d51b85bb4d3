"""Helpers that build users and credentials for tests, straight through the services."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from fastapi import FastAPI

from reefguide.auth.context import AuthContext
from reefguide.db.session import unit_of_work
from reefguide.users import service as users
from reefguide.users.models import Role, User

PASSWORD = "password123"
_counter = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


async def make_user(
    app: FastAPI,
    *,
    email: str | None = None,
    roles: Iterable[Role | str] = (Role.ANALYST,),
    password: str = PASSWORD,
) -> User:
    auth: AuthContext = app.state.auth
    async with unit_of_work(app.state.sessionmaker) as session:
        return await users.create_user(
            session,
            email=email or unique_email(),
            password_hash=await auth.passwords.hash(password),
            roles=roles,
        )


def token_for(app: FastAPI, user: User) -> str:
    auth: AuthContext = app.state.auth
    return auth.tokens.issue(user_id=user.id, email=user.email, roles=list(user.roles))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_headers(app: FastAPI, roles: Iterable[Role | str] = (Role.ANALYST,)) -> dict[str, str]:
    """Authorization headers of a new user with `roles`."""
    return bearer(token_for(app, await make_user(app, roles=roles)))
