"""User accounts: look-up, creation, roles. Knows nothing of HTTP."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import BadRequest
from reefguide.users.models import Role, User


def sorted_roles(roles: Iterable[str | Role]) -> list[str]:
    """Roles as a sorted list without repeats, so equal sets compare and store equal."""
    return sorted({Role(role).value for role in roles})


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def create_user(
    session: AsyncSession, *, email: str, password_hash: str, roles: Iterable[str | Role]
) -> User:
    """Create a user; 400 "User already exists" when the email is taken."""
    if await get_by_email(session, email) is not None:
        raise BadRequest("User already exists")
    user = User(email=email, password_hash=password_hash, roles=sorted_roles(roles))
    session.add(user)
    await session.flush()
    return user
