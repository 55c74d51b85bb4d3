"""Accounts the service makes for itself at start: the admin, and the WORKER
service accounts for workers and the capacity manager."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.auth.passwords import Passwords
from reefguide.db.session import unit_of_work
from reefguide.schemas import normalise_email
from reefguide.settings import Settings
from reefguide.users import service as users
from reefguide.users.models import Role, User

log = structlog.get_logger(__name__)

DEFAULT_ADMIN_EMAIL = "admin@example.com"


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
        log.info("service account created", email=email, role=role.value)
        return
    if role.value not in user.roles:
        user.roles = users.sorted_roles([*user.roles, role])
    if not await passwords.verify(user.password_hash, password):
        user.password_hash = await passwords.hash(password)


async def ensure_accounts(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords
) -> GeneratedAdmin | None:
    """Create or update the configured accounts. With no ADMIN_USERNAME/ADMIN_PASSWORD and
    no admin yet, make one with a generated password and return it (to print once)."""
    generated = None
    async with unit_of_work(sessionmaker) as session:
        if settings.admin_username and settings.admin_password:
            await _ensure_account(
                session, passwords, settings.admin_username, settings.admin_password, Role.ADMIN
            )
        else:
            admins = await session.scalars(select(User))
            if not any(Role.ADMIN in user.roles for user in admins):
                email = str(normalise_email(settings.admin_username or DEFAULT_ADMIN_EMAIL))
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
