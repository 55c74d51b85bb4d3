"""Who calls the API in a test: a user of some roles and the headers that carry
their access token."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from reefguide.users.models import Role, User
from tests.factories import bearer, make_user, token_for


@dataclass(frozen=True)
class Caller:
    user: User
    headers: dict[str, str]


async def caller(app: FastAPI, *roles: Role) -> Caller:
    user = await make_user(app, roles=roles)
    return Caller(user=user, headers=bearer(token_for(app, user)))
