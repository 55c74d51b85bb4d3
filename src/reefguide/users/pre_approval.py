"""Pre-approvals: an admin names an email and its roles before the person registers.

Registration (reefguide.auth.service.register) consumes the pre-approval: the
new account gets its roles and the pre-approval is marked used. Knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.db.base import utcnow
from reefguide.errors import ApiError, BadRequest, NotFound
from reefguide.users import service as users
from reefguide.users.models import PreApprovedUser, Role, User

LIST_LIMIT_MAX = 100


@dataclass(frozen=True)
class NewPreApproval:
    email: str
    roles: Sequence[str | Role]


@dataclass
class BulkResult:
    created: list[PreApprovedUser] = field(default_factory=list)
    # (email, reason) for each pre-approval that could not be created
    errors: list[tuple[str, str]] = field(default_factory=list)


async def _check_email_is_free(session: AsyncSession, email: str, *, except_id: int | None = None) -> None:
    existing = await session.scalar(select(PreApprovedUser).where(PreApprovedUser.email == email))
    if existing is not None and existing.id != except_id:
        raise BadRequest(f"Pre-approval already exists for email: {email}")
    if await users.get_by_email(session, email) is not None:
        raise BadRequest(f"User already registered with email: {email}")


def _roles(roles: Iterable[str | Role]) -> list[str]:
    checked = users.sorted_roles(roles)
    if not checked:
        raise BadRequest("At least one role must be specified")
    return checked


async def create(
    session: AsyncSession, *, email: str, roles: Iterable[str | Role], created_by: User
) -> PreApprovedUser:
    """Pre-approve `email` (already normalised); 400 if it is pre-approved or registered."""
    checked = _roles(roles)
    await _check_email_is_free(session, email)
    approval = PreApprovedUser(email=email, roles=checked, created_by_user_id=created_by.id, used=False)
    session.add(approval)
    await session.flush()
    return approval


async def bulk_create(
    session: AsyncSession, approvals: Iterable[NewPreApproval], *, created_by: User
) -> BulkResult:
    """Create each pre-approval that can be; list the others with the reason.
    A refused entry writes nothing, so the created ones commit without it."""
    result = BulkResult()
    for approval in approvals:
        try:
            result.created.append(
                await create(session, email=approval.email, roles=approval.roles, created_by=created_by)
            )
        except ApiError as exc:
            result.errors.append((approval.email, exc.message))
    return result


def _filters(
    email: str | None, used: bool | None, created_by_user_id: int | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if email:
        conditions.append(PreApprovedUser.email.icontains(email.strip().lower(), autoescape=True))
    if used is not None:
        conditions.append(PreApprovedUser.used == used)
    if created_by_user_id is not None:
        conditions.append(PreApprovedUser.created_by_user_id == created_by_user_id)
    return conditions


@dataclass(frozen=True)
class PreApprovalPage:
    items: list[PreApprovedUser]
    total: int
    limit: int
    offset: int


async def list_page(
    session: AsyncSession,
    *,
    email: str | None = None,
    used: bool | None = None,
    created_by_user_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PreApprovalPage:
    """Newest first. `email` matches any part of the address, in any case;
    `limit` is clamped to 1–100."""
    limit = min(LIST_LIMIT_MAX, max(1, limit))
    offset = max(0, offset)
    conditions = _filters(email, used, created_by_user_id)
    total = await session.scalar(select(func.count()).select_from(PreApprovedUser).where(*conditions))
    items = await session.scalars(
        select(PreApprovedUser)
        .where(*conditions)
        .order_by(PreApprovedUser.created_at.desc(), PreApprovedUser.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return PreApprovalPage(list(items), total or 0, limit, offset)


async def get(session: AsyncSession, approval_id: int) -> PreApprovedUser:
    approval = await session.get(PreApprovedUser, approval_id)
    if approval is None:
        raise NotFound(f"Pre-approved user with ID {approval_id} not found")
    return approval


async def update(
    session: AsyncSession,
    approval_id: int,
    *,
    email: str | None = None,
    roles: Iterable[str | Role] | None = None,
) -> PreApprovedUser:
    """Change an unused pre-approval's email or roles. Unlike the original, keeping
    the same email is not a conflict with itself."""
    approval = await get(session, approval_id)
    if approval.used:
        raise BadRequest("Cannot update a pre-approval that has already been used")
    if email is not None and email != approval.email:
        await _check_email_is_free(session, email, except_id=approval.id)
        approval.email = email
    if roles is not None:
        approval.roles = _roles(roles)
    await session.flush()
    return approval


async def remove(session: AsyncSession, approval_id: int) -> None:
    await session.delete(await get(session, approval_id))
    await session.flush()


async def cleanup(session: AsyncSession, *, older_than_days: int) -> int:
    """Delete pre-approvals used more than `older_than_days` ago; return how many.
    Unused pre-approvals are kept however old they are."""
    if older_than_days < 1:
        raise BadRequest("olderThanDays must be at least 1")
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = await session.execute(
        delete(PreApprovedUser).where(PreApprovedUser.used, PreApprovedUser.used_at < cutoff)
    )
    return cast(CursorResult[tuple[()]], result).rowcount
