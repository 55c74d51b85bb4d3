"""API keys: long-lived credentials a user creates for scripts and workers.

A key is shown once, stored as a SHA-256 hash, and acts as its user with that
user's current roles.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth.models import ApiKey
from reefguide.auth.refresh import hash_secret
from reefguide.db.base import utcnow
from reefguide.errors import BadRequest, NotFound
from reefguide.users import audit
from reefguide.users.models import User, UserAction

KEY_PREFIX = "rg_"
PREFIX_LENGTH = 12  # "rg_" and nine characters: enough to tell keys apart in a list
# last_used_at is written at most this often per key, so a busy key costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create(
    session: AsyncSession, user: User, *, name: str, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    if expires_at is not None and expires_at <= utcnow():
        raise BadRequest("expiresAt must be in the future")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_secret(key),
        expires_at=expires_at,
    )
    session.add(api_key)
    await session.flush()
    audit.record(session, UserAction.CREATE_API_KEY, user, {"apiKeyId": api_key.id, "name": name})
    return api_key, key


async def list_for(session: AsyncSession, user: User) -> list[ApiKey]:
    result = await session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
    return list(result)


async def revoke(session: AsyncSession, user: User, key_id: int) -> None:
    api_key = await session.get(ApiKey, key_id)
    if api_key is None or api_key.user_id != user.id:
        raise NotFound("API key not found")
    await session.delete(api_key)
    audit.record(session, UserAction.REVOKE_API_KEY, user, {"apiKeyId": key_id, "name": api_key.name})


async def authenticate(session: AsyncSession, key: str) -> User | None:
    """The key's user, or None for an unknown or expired key."""
    now = utcnow()
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == hash_secret(key))
        )
    ).first()
    if row is None:
        return None
    api_key, user = row
    usable, use_unrecorded = check(api_key.expires_at, api_key.last_used_at, now)
    if not usable:
        return None
    if use_unrecorded:
        await session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
    return user


def check(expires_at: datetime | None, last_used_at: datetime | None, now: datetime) -> tuple[bool, bool]:
    """Whether a key is usable now (not expired), and whether this use must be
    recorded (its last recorded use is older than LAST_USED_RESOLUTION)."""
    usable = expires_at is None or expires_at > now
    return usable, last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION
