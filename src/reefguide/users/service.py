"""User accounts: look-up, creation, search, roles, deletion, the audit log's pages.
Knows nothing of HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import BadRequest, NotFound
from reefguide.users import audit
from reefguide.users.models import Role, User, UserAction, UserLog


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


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.id)))


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


SEARCH_LIMIT_MAX = 50


async def search(session: AsyncSession, query: str, limit: int) -> list[User]:
    """Users whose email contains `query` (any case), best match first: the exact
    address, then addresses starting with it, then by where the match begins,
    then alphabetically. `limit` is clamped to 1–50."""
    needle = query.strip().lower()
    if not needle:
        raise BadRequest("Search query must not be empty")
    email = func.lower(User.email)
    # Where the match starts (1-based): the function is named differently per database.
    position = func.strpos if session.get_bind().dialect.name == "postgresql" else func.instr
    rank = case((email == needle, 0), (email.startswith(needle, autoescape=True), 1), else_=2)
    statement = (
        select(User)
        .where(email.contains(needle, autoescape=True))
        .order_by(rank, position(email, needle), User.email, User.id)
        .limit(min(SEARCH_LIMIT_MAX, max(1, limit)))
    )
    return list(await session.scalars(statement))


async def update_roles(session: AsyncSession, user_id: int, roles: Iterable[str | Role], *, by: User) -> User:
    """Replace a user's roles; the audit row keeps the roles before and after."""
    user = await get_user(session, user_id)
    before = list(user.roles)
    user.roles = sorted_roles(roles)
    audit.record(
        session, UserAction.UPDATED, user, {"before": before, "after": user.roles, "byUserId": by.id}
    )
    await session.flush()
    return user


async def delete_user(session: AsyncSession, user_id: int, *, by: User) -> None:
    """Delete an account. Its refresh tokens, API keys and reset codes go with it
    (ON DELETE CASCADE); its audit rows stay, with user_id NULL and the email kept;
    pre-approvals it created stay, with created_by_user_id NULL."""
    if user_id == by.id:
        raise BadRequest("You cannot delete your own account")
    user = await get_user(session, user_id)
    await session.delete(user)
    await session.flush()
    audit.record(session, UserAction.DELETE_USER, by, {"deletedUserId": user_id, "deletedEmail": user.email})


LOG_LIMIT_MAX = 100


@dataclass(frozen=True)
class LogPage:
    entries: list[tuple[UserLog, User | None]]
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit)


async def list_logs(session: AsyncSession, *, user_id: int | None, page: int, limit: int) -> LogPage:
    """The audit log, newest first, optionally for one user. `page` is at least 1;
    `limit` is clamped to 1–100."""
    page = max(1, page)
    limit = min(LOG_LIMIT_MAX, max(1, limit))
    condition = true() if user_id is None else UserLog.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(UserLog).where(condition))
    rows = await session.execute(
        select(UserLog, User)
        .outerjoin(User, User.id == UserLog.user_id)
        .where(condition)
        .order_by(UserLog.time.desc(), UserLog.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return LogPage([(log, user) for log, user in rows], page, limit, total or 0)
