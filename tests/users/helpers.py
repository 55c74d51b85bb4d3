"""Callers with roles, and direct database set-up for the user admin tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from reefguide.db.base import utcnow
from reefguide.users.models import PreApprovedUser, Role, User
from tests.factories import bearer, make_user, token_for


@dataclass(frozen=True)
class Caller:
    user: User
    headers: dict[str, str]


async def caller(app: FastAPI, *roles: Role, email: str | None = None) -> Caller:
    user = await make_user(app, roles=roles or (Role.ANALYST,), email=email)
    return Caller(user, bearer(token_for(app, user)))


async def add_users(app: FastAPI, emails: Iterable[str]) -> list[User]:
    """Many users at once, without hashing a password for each (they never log in)."""
    users = [User(email=email, password_hash="unusable", roles=[Role.ANALYST.value]) for email in emails]
    async with app.state.sessionmaker() as session:
        session.add_all(users)
        await session.commit()
    return users


PRE_APPROVALS = "/api/auth/admin/pre-approved-users"


async def pre_approve(
    client: httpx.AsyncClient, admin: Caller, email: str, roles: list[str] | None = None
) -> dict[str, Any]:
    """Create a pre-approval through the API and return it."""
    response = await client.post(
        PRE_APPROVALS, json={"email": email, "roles": roles or ["ANALYST"]}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    approval: dict[str, Any] = response.json()["preApprovedUser"]
    return approval


async def mark_used(app: FastAPI, approval_id: int, used_at: datetime | None = None) -> None:
    """Mark a pre-approval used, now or at `used_at`."""
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(PreApprovedUser)
            .where(PreApprovedUser.id == approval_id)
            .values(used=True, used_at=used_at or utcnow())
        )
        await session.commit()
