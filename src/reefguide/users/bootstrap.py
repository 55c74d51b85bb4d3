"""Accounts the service makes for itself at start: the admin, and the WORKER
service accounts for workers and the capacity manager."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import structlog
from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.auth import refresh
from reefguide.auth.passwords import Passwords
from reefguide.db.session import unit_of_work
from reefguide.errors import BadRequest
from reefguide.schemas import normalise_email
from reefguide.settings import Settings
from reefguide.users import service as users
from reefguide.users.models import Role, User

log = structlog.get_logger(__name__)

DEFAULT_ADMIN_EMAIL = "admin@example.com"
# Passes at the accounts when replicas starting together race to create them.
ATTEMPTS = 3


@dataclass(frozen=True)
class GeneratedAdmin:
    email: str
    password: str


async def _ensure_account(
    session: AsyncSession, passwords: Passwords, email: str, password: str, role: Role
) -> None:
    """Create the account, or give an existing one the role and this password."""
    email = str(normalise_email(email))
    user = await users.get_by_email(session, email)
    if user is None:
        await users.create_user(
            session, email=email, password_hash=await passwords.hash(password), roles=[role]
        )
        log.info("account created", email=email, role=role.value)
        return
    if role.value not in user.roles:
        user.roles = users.sorted_roles([*user.roles, role])
        log.info("account given a role", email=email, role=role.value)
    if not await passwords.verify(user.password_hash, password):
        user.password_hash = await passwords.hash(password)
        # Whoever held the old password keeps no session made with it.
        await refresh.revoke_all_for_user(session, user.id)
        log.info("account password updated", email=email)


async def _admin_exists(session: AsyncSession) -> bool:
    # Roles are a JSON list; its text narrows the candidates on both databases
    # without loading every user, and the check on the list itself decides.
    candidates = await session.scalars(select(User).where(cast(User.roles, String).contains('"ADMIN"')))
    return any(Role.ADMIN in user.roles for user in candidates)


async def _ensure_accounts_once(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords
) -> GeneratedAdmin | None:
    generated = None
    async with unit_of_work(sessionmaker) as session:
        admin_email = settings.admin_username or DEFAULT_ADMIN_EMAIL
        if settings.admin_password:
            await _ensure_account(session, passwords, admin_email, settings.admin_password, Role.ADMIN)
        elif not await _admin_exists(session):
            email = str(normalise_email(admin_email))
            password = secrets.token_urlsafe(18)
            await _ensure_account(session, passwords, email, password, Role.ADMIN)
            generated = GeneratedAdmin(email, password)
        for username, secret in (
            (settings.worker_username, settings.worker_password),
            (settings.manager_username, settings.manager_password),
        ):
            if username and secret:
                await _ensure_account(session, passwords, username, secret, Role.WORKER)
    return generated


async def ensure_accounts(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords
) -> GeneratedAdmin | None:
    """Create or update the configured accounts. The admin is ADMIN_USERNAME (default
    admin@example.com) with ADMIN_PASSWORD; with no ADMIN_PASSWORD and no admin yet, one
    is made with a generated password, returned to be printed once."""
    for _ in range(ATTEMPTS - 1):
        try:
            return await _ensure_accounts_once(settings, sessionmaker, passwords)
        except (IntegrityError, BadRequest):
            # Another replica starting at the same moment created an account first
            # (seen by the insert, or by create_user's own look-up); the next pass
            # finds it and updates it instead.
            log.info("accounts created concurrently; checking them again")
    return await _ensure_accounts_once(settings, sessionmaker, passwords)
