"""Registration, login, token refresh, logout and password change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth import refresh
from reefguide.auth.context import AuthContext
from reefguide.db.base import utcnow
from reefguide.errors import BadRequest, Unauthorized
from reefguide.users import audit
from reefguide.users import service as users
from reefguide.users.models import PreApprovedUser, Role, User, UserAction


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str


def access_token(auth: AuthContext, user: User) -> str:
    return auth.tokens.issue(user_id=user.id, email=user.email, roles=list(user.roles))


async def register(session: AsyncSession, auth: AuthContext, *, email: str, password: str) -> User:
    """Open registration gives ANALYST; approval mode gives DEFAULT. Either way a
    pre-approval for the email adds its roles and is marked used."""
    base_role = Role.ANALYST if auth.registration_mode == "open" else Role.DEFAULT
    roles: set[str] = {base_role.value}
    if await users.get_by_email(session, email) is not None:
        raise BadRequest("User already exists")
    approval = await session.scalar(select(PreApprovedUser).where(PreApprovedUser.email == email))
    if approval is not None:
        if approval.used:
            raise BadRequest("Pre-approval for this email has already been used")
        roles |= set(approval.roles)
        approval.used = True
        approval.used_at = utcnow()
    return await users.create_user(
        session, email=email, password_hash=await auth.passwords.hash(password), roles=roles
    )


async def login(session: AsyncSession, auth: AuthContext, *, email: str, password: str) -> TokenPair:
    user = await users.get_by_email(session, email)
    # An unknown email is checked against a dummy hash: both failures take as long.
    if not await auth.passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("Invalid credentials")
    if auth.passwords.needs_rehash(user.password_hash):
        user.password_hash = await auth.passwords.hash(password)
    audit.record(session, UserAction.LOGIN, user)
    refresh_token = await refresh.issue(session, user, auth.refresh_lifetime)
    return TokenPair(access_token(auth, user), refresh_token)


async def refresh_tokens(session: AsyncSession, auth: AuthContext, *, refresh_token: str) -> TokenPair:
    user, next_refresh = await refresh.rotate(session, refresh_token, auth.refresh_lifetime)
    return TokenPair(access_token(auth, user), next_refresh)


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    user = await refresh.revoke(session, refresh_token)
    if user is not None:
        audit.record(session, UserAction.LOGOUT, user)


async def set_password(
    session: AsyncSession,
    auth: AuthContext,
    user: User,
    new_password: str,
    *,
    action: UserAction,
    by: User | None = None,
) -> None:
    """Set a password, end every login session of the user, and audit it."""
    user.password_hash = await auth.passwords.hash(new_password)
    await refresh.revoke_all_for_user(session, user.id)
    metadata = {"byUserId": by.id} if by is not None and by.id != user.id else None
    audit.record(session, action, user, metadata)


async def change_password(
    session: AsyncSession,
    auth: AuthContext,
    user: User,
    *,
    old_password: str,
    new_password: str,
    confirm_password: str,
) -> None:
    if new_password != confirm_password:
        raise BadRequest("New password and confirmation do not match")
    if not await auth.passwords.verify(user.password_hash, old_password):
        raise Unauthorized("Current password is incorrect")
    await set_password(session, auth, user, new_password, action=UserAction.CHANGE_PASSWORD)
