"""Password reset by a 6-digit code sent by mail.

A code is stored as an HMAC keyed with a server secret (a million codes are
too few for a plain hash to hide them), lives 30 minutes, and dies after five
tries. A user has at most one live code: asking again retires the older ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth import service as auth_service
from reefguide.auth.context import AuthContext
from reefguide.db.base import utcnow
from reefguide.errors import BadRequest
from reefguide.mail import MailMessage
from reefguide.users import service as users
from reefguide.users.models import PasswordResetCode, User, UserAction

CODE_LIFETIME = timedelta(minutes=30)
MAX_ATTEMPTS = 5
INVALID_CODE = "Invalid or expired reset code"
# Drawing a code that another user's live code already has is a one-in-many
# event; a few draws are enough, and confirm refuses an ambiguous code anyway.
MAX_DRAWS = 10


@dataclass(frozen=True)
class IssuedCode:
    email: str
    code: str
    expires_at: datetime


def hash_code(auth: AuthContext, code: str) -> str:
    return hmac.new(auth.reset_code_key, code.encode(), hashlib.sha256).hexdigest()


def _live(now: datetime) -> list[ColumnElement[bool]]:
    """A code that may still be tried: unused, unexpired, tries left."""
    return [
        PasswordResetCode.used.is_(False),
        PasswordResetCode.expires_at > now,
        PasswordResetCode.attempts < MAX_ATTEMPTS,
    ]


async def _retire_codes(session: AsyncSession, user_id: int) -> None:
    # used without used_at: retired, not spent on a reset.
    await session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.user_id == user_id, PasswordResetCode.used.is_(False))
        .values(used=True)
    )


async def _draw_code(session: AsyncSession, auth: AuthContext, now: datetime) -> tuple[str, str]:
    """A code and its hash, distinct from every live code when possible: a confirm
    without an email finds its code by the hash alone."""
    for _ in range(MAX_DRAWS):
        code = str(100_000 + secrets.randbelow(900_000))
        code_hash = hash_code(auth, code)
        taken = await session.scalar(
            select(PasswordResetCode.id).where(PasswordResetCode.code_hash == code_hash, *_live(now)).limit(1)
        )
        if taken is None:
            break
    return code, code_hash


async def request_reset(session: AsyncSession, auth: AuthContext, email: str) -> IssuedCode | None:
    """Issue a new code for the account with `email`, retiring its older codes.

    None when there is no such account; the caller must answer the same either way.
    """
    user = await users.get_by_email(session, email)
    if user is None:
        return None
    now = utcnow()
    await _retire_codes(session, user.id)
    code, code_hash = await _draw_code(session, auth, now)
    expires_at = now + CODE_LIFETIME
    session.add(PasswordResetCode(user_id=user.id, code_hash=code_hash, expires_at=expires_at))
    await session.flush()
    return IssuedCode(email=user.email, code=code, expires_at=expires_at)


def reset_mail(issued: IssuedCode) -> MailMessage:
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    return MailMessage(
        to=issued.email,
        subject="Your ReefGuide password reset code",
        body=(
            f"Your ReefGuide password reset code is {issued.code}\n\n"
            f"It expires in {minutes} minutes and can be used once. "
            "If you did not ask to reset your password, you can ignore this message."
        ),
    )


async def _code_for_email(
    session: AsyncSession, auth: AuthContext, email: str, code: str, now: datetime
) -> PasswordResetCode:
    """The user's live code, if `code` is it. Every try counts against that code."""
    user = await users.get_by_email(session, email)
    if user is None:
        raise BadRequest(INVALID_CODE)
    reset = await session.scalar(
        select(PasswordResetCode)
        .where(PasswordResetCode.user_id == user.id, *_live(now))
        .order_by(PasswordResetCode.id.desc())
        .limit(1)
    )
    if reset is None:
        raise BadRequest(INVALID_CODE)
    # Count the try before comparing, in one conditional statement, so concurrent
    # guesses cannot share an attempt: a code is tried at most MAX_ATTEMPTS times.
    counted = await session.scalar(
        update(PasswordResetCode)
        .where(PasswordResetCode.id == reset.id, *_live(now))
        .values(attempts=PasswordResetCode.attempts + 1)
        .returning(PasswordResetCode.id)
    )
    if counted is None:
        raise BadRequest(INVALID_CODE)
    if not hmac.compare_digest(reset.code_hash, hash_code(auth, code)):
        # Keep the counted attempt although the answer is an error.
        raise BadRequest(INVALID_CODE, keep_changes=True)
    return reset


async def _code_by_hash(
    session: AsyncSession, auth: AuthContext, code: str, now: datetime
) -> PasswordResetCode:
    """The live code equal to `code`, whoever it belongs to (the original's way)."""
    matches = list(
        await session.scalars(
            select(PasswordResetCode)
            .where(PasswordResetCode.code_hash == hash_code(auth, code), *_live(now))
            .limit(2)
        )
    )
    # Two users holding the same code: only the email can tell them apart.
    if len(matches) != 1:
        raise BadRequest(INVALID_CODE)
    return matches[0]


async def confirm_reset(
    session: AsyncSession,
    auth: AuthContext,
    *,
    code: str,
    new_password: str,
    confirm_password: str,
    email: str | None = None,
) -> User:
    """Set a new password with a live code: the code is spent, the user's other
    codes are retired, and every refresh token of the user is revoked.

    With `email`, a wrong code counts a try against that user's live code; without
    it, a wrong code cannot be charged to anyone, so only the rate limit holds.
    """
    if new_password != confirm_password:
        raise BadRequest("New password and confirmation do not match")
    now = utcnow()
    code = code.strip()
    if email is not None:
        reset = await _code_for_email(session, auth, email, code, now)
    else:
        reset = await _code_by_hash(session, auth, code, now)
    # Of two concurrent confirms with the same code, exactly one spends it.
    spent = await session.scalar(
        update(PasswordResetCode)
        .where(PasswordResetCode.id == reset.id, PasswordResetCode.used.is_(False))
        .values(used=True, used_at=now)
        .returning(PasswordResetCode.id)
    )
    if spent is None:
        raise BadRequest(INVALID_CODE)
    user = await session.get(User, reset.user_id)
    if user is None:
        raise BadRequest(INVALID_CODE)
    await _retire_codes(session, user.id)
    await auth_service.set_password(session, auth, user, new_password, action=UserAction.RESET_PASSWORD)
    return user
