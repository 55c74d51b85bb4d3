"""The audit log: one row per security-relevant action."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.users.models import User, UserAction, UserLog


def record(
    session: AsyncSession,
    action: UserAction,
    user: User,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the current unit of work (it commits with the change it records)."""
    session.add(UserLog(action=action.value, user_id=user.id, user_email=user.email, metadata_=metadata))
