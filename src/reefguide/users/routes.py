"""HTTP routes of /api/users: user admin, search, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from reefguide.auth import service as auth_service
from reefguide.auth.dependencies import AdminUser, AnalystUser, AuthDep
from reefguide.auth.schemas import UserOut
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.schemas import Message
from reefguide.users import service as users
from reefguide.users.models import UserAction
from reefguide.users.schemas import (
    CreatedUserOut,
    CreateUserIn,
    LogEntryOut,
    LogPageOut,
    PageOut,
    PasswordIn,
    RolesIn,
    SearchOut,
    UserSummary,
)

router = ApiRouter(prefix="/users", tags=["users"])

# /search and /utils/log are declared before /{user_id}, which would otherwise claim them.


@router.get("")
async def list_users(session: SessionDep, _admin: AdminUser) -> list[UserOut]:
    """Every user, as a bare array (as the original)."""
    return [UserOut.model_validate(user) for user in await users.list_users(session)]


@router.get("/search")
async def search_users(
    session: SessionDep,
    _user: AnalystUser,
    q: Annotated[str, Query(max_length=320, description="Part of an email address, any case")],
    limit: Annotated[int, Query(description="Clamped to 1–50")] = 20,
) -> SearchOut:
    """Find users by part of their email, for pickers (sharing, groups).

    Ranked: the exact address, then addresses starting with `q`, then by where
    the match begins, then alphabetically. A missing, empty or blank `q` is 400:
    it would match everyone, which is a listing, not a search (admins have
    `GET /api/users` for that)."""
    found = await users.search(session, q, limit)
    return SearchOut(results=[UserSummary.model_validate(user) for user in found])


@router.get("/utils/log")
async def list_logs(
    session: SessionDep,
    _admin: AdminUser,
    user_id: Annotated[int | None, Query(alias="userId", description="Only this user's actions")] = None,
    page: Annotated[int, Query(description="1-based; below 1 reads as 1")] = 1,
    limit: Annotated[int, Query(description="Clamped to 1–100")] = 50,
) -> LogPageOut:
    """The audit log, newest first. Entries of deleted users keep their email
    (`userEmail`) and have `userId` and `user` null."""
    result = await users.list_logs(session, user_id=user_id, page=page, limit=limit)
    logs = [
        LogEntryOut(
            id=log.id,
            time=log.time,
            action=log.action,
            metadata=log.metadata_,
            user_id=log.user_id,
            user_email=log.user_email,
            user=UserOut.model_validate(user) if user is not None else None,
        )
        for log, user in result.entries
    ]
    pagination = PageOut(page=result.page, limit=result.limit, total=result.total, pages=result.pages)
    return LogPageOut(logs=logs, pagination=pagination)


@router.get("/{user_id}")
async def get_user(user_id: int, session: SessionDep, _admin: AdminUser) -> UserOut:
    return UserOut.model_validate(await users.get_user(session, user_id))


@router.post("")
async def create_user(
    body: CreateUserIn, session: SessionDep, auth: AuthDep, _admin: AdminUser
) -> CreatedUserOut:
    """Create an account with the given roles (none by default). 400 "User already
    exists" when the email is taken."""
    user = await users.create_user(
        session, email=body.email, password_hash=await auth.passwords.hash(body.password), roles=body.roles
    )
    return CreatedUserOut(id=user.id)


@router.put("/{user_id}/roles")
async def update_roles(user_id: int, body: RolesIn, session: SessionDep, admin: AdminUser) -> UserOut:
    """Replace a user's roles. Audited as UPDATED with the roles before and after."""
    return UserOut.model_validate(await users.update_roles(session, user_id, body.roles, by=admin))


@router.put("/{user_id}/password")
async def set_password(
    user_id: int, body: PasswordIn, session: SessionDep, auth: AuthDep, admin: AdminUser
) -> Message:
    """Set a user's password. Every refresh token they hold is revoked (their
    sessions end at the next refresh); audited as CHANGE_PASSWORD."""
    user = await users.get_user(session, user_id)
    await auth_service.set_password(
        session, auth, user, body.password, action=UserAction.CHANGE_PASSWORD, by=admin
    )
    return Message(message="Password updated successfully")


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: int, session: SessionDep, admin: AdminUser) -> None:
    """Delete an account and what belongs only to it.

    Refresh tokens, API keys and password reset codes are deleted with the
    user. Audit log entries are kept, with `userId` null and the email they
    were recorded with. Pre-approvals the user created are kept, with
    `created_by_user_id` null. (The original answered 500 for any user with an
    audit entry.) An admin cannot delete their own account (400): that would
    end the session doing it and could leave the service with no admin.
    Unknown ids are 404."""
    await users.delete_user(session, user_id, by=admin)
