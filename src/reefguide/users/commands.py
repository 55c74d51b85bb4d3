"""What the `reefguide users …` commands do, each in its own unit of work.

They raise ValueError with a sentence for the terminal when the input is wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth import api_keys
from reefguide.auth import service as auth_service
from reefguide.auth.context import AuthContext
from reefguide.auth.keys import generate_key_pair
from reefguide.auth.passwords import Passwords
from reefguide.db.engine import create_engine, create_sessionmaker
from reefguide.db.session import unit_of_work
from reefguide.errors import ApiError
from reefguide.schemas import Email, Password
from reefguide.settings import Settings
from reefguide.users import service as users
from reefguide.users.models import Role, User, UserAction


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            yield session
    finally:
        await engine.dispose()


def _passwords(settings: Settings) -> Passwords:
    return Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)


def _auth(settings: Settings) -> AuthContext:
    # The password service's rules need an AuthContext; only its hasher is used
    # here and no token is signed, so a throwaway key does.
    return AuthContext.build(settings, generate_key_pair())


def _valid(kind: Any, value: str, what: str) -> str:
    try:
        return str(TypeAdapter(kind).validate_python(value))
    except ValidationError as exc:
        raise ValueError(f"Invalid {what}: {exc.errors()[0]['msg']}") from None


def _roles(roles: Iterable[str]) -> list[str]:
    try:
        return users.sorted_roles(role.upper() for role in roles)
    except ValueError:
        raise ValueError(f"Unknown role; choose from {', '.join(r.value for r in Role)}") from None


async def _user(session: AsyncSession, email: str) -> User:
    user = await users.get_by_email(session, email.strip().lower())
    if user is None:
        raise ValueError(f"No user with email {email.strip().lower()}")
    return user


async def create_user(settings: Settings, email: str, password: str, roles: Iterable[str]) -> User:
    address = _valid(Email, email, "email")
    secret = _valid(Password, password, "password")
    checked = _roles(roles)
    async with _session(settings) as session:
        try:
            return await users.create_user(
                session,
                email=address,
                password_hash=await _passwords(settings).hash(secret),
                roles=checked,
            )
        except ApiError as exc:
            raise ValueError(f"{exc.message}: {address}") from None


async def set_password(settings: Settings, email: str, password: str) -> None:
    secret = _valid(Password, password, "password")
    async with _session(settings) as session:
        user = await _user(session, email)
        await auth_service.set_password(
            session, _auth(settings), user, secret, action=UserAction.CHANGE_PASSWORD
        )


async def create_api_key(settings: Settings, email: str, name: str, expires_at: datetime | None) -> str:
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    async with _session(settings) as session:
        user = await _user(session, email)
        try:
            _, key = await api_keys.create(session, user, name=name, expires_at=expires_at)
        except ApiError as exc:
            raise ValueError(exc.message) from None
        return key
