"""Refresh tokens: opaque random strings, stored hashed, rotated on every use.

A login starts a family. Each use marks the presented token rotated and issues
the next one in the same family. Presenting a rotated token again means it was
copied: the whole family is revoked, so the thief and the victim both have to
log in again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth.models import RefreshToken
from reefguide.db.base import utcnow
from reefguide.errors import Unauthorized
from reefguide.users.models import User


def hash_secret(secret: str) -> str:
    """SHA-256 is enough for 256-bit random secrets (unlike passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue(
    session: AsyncSession, user: User, lifetime: timedelta, *, family_id: str | None = None
) -> str:
    secret = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or str(uuid.uuid4()),
            token_hash=hash_secret(secret),
            expires_at=utcnow() + lifetime,
        )
    )
    await session.flush()
    return secret


async def _find(session: AsyncSession, secret: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_secret(secret)))


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_all_for_user(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def rotate(session: AsyncSession, secret: str, lifetime: timedelta) -> tuple[User, str]:
    """Spend `secret` and return its user and the next token of the family."""
    token = await _find(session, secret)
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        raise Unauthorized("Invalid refresh token")
    # Conditional update: of two concurrent uses, exactly one wins; the other is a reuse.
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, token.family_id)
        raise Unauthorized("Refresh token reuse detected; please log in again", keep_changes=True)
    user = await session.get(User, token.user_id)
    if user is None:
        raise Unauthorized("Invalid refresh token")
    return user, await issue(session, user, lifetime, family_id=token.family_id)


async def revoke(session: AsyncSession, secret: str) -> User | None:
    """Log out: revoke the token's family (the login session). Returns its user, if any."""
    token = await _find(session, secret)
    if token is None:
        return None
    await revoke_family(session, token.family_id)
    return await session.get(User, token.user_id)
