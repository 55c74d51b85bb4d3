"""The accounts `serve` makes for itself at start, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.auth import refresh
from reefguide.auth.models import RefreshToken
from reefguide.auth.passwords import Passwords
from reefguide.db.engine import create_engine, create_sessionmaker
from reefguide.db.session import unit_of_work
from reefguide.settings import Settings
from reefguide.users import service as users
from reefguide.users.bootstrap import DEFAULT_ADMIN_EMAIL, ensure_accounts
from reefguide.users.models import Role, User

PASSWORDS = Passwords(time_cost=1, memory_kib=1024)


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.effective_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _with(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def _user(sessionmaker: async_sessionmaker[AsyncSession], email: str) -> User:
    async with unit_of_work(sessionmaker) as session:
        user = await users.get_by_email(session, email)
        assert user is not None, email
        return user


async def test_an_admin_is_generated_once(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    generated = await ensure_accounts(settings, sessionmaker, PASSWORDS)
    assert generated is not None
    assert generated.email == DEFAULT_ADMIN_EMAIL
    assert len(generated.password) >= 20
    assert await ensure_accounts(settings, sessionmaker, PASSWORDS) is None
    admin = await _user(sessionmaker, DEFAULT_ADMIN_EMAIL)
    assert admin.roles == ["ADMIN"]
    assert await PASSWORDS.verify(admin.password_hash, generated.password)


async def test_no_admin_is_generated_when_one_exists(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await users.create_user(
            session, email="chief@example.com", password_hash="x", roles=[Role.ANALYST, Role.ADMIN]
        )
        # A non-admin whose roles merely mention the word does not count.
        await users.create_user(
            session, email="admin-fan@example.com", password_hash="x", roles=[Role.DEFAULT]
        )
    assert await ensure_accounts(settings, sessionmaker, PASSWORDS) is None


async def test_admin_password_without_username_uses_the_default_email(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    configured = _with(settings, admin_password="configured-password")
    assert await ensure_accounts(configured, sessionmaker, PASSWORDS) is None
    admin = await _user(sessionmaker, DEFAULT_ADMIN_EMAIL)
    assert await PASSWORDS.verify(admin.password_hash, "configured-password")


async def test_a_configured_admin_username_gets_the_admin_role_and_the_password(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await users.create_user(
            session,
            email="ops@example.com",
            password_hash=await PASSWORDS.hash("old-password"),
            roles=["ANALYST"],
        )
    configured = _with(settings, admin_username="OPS@example.com", admin_password="new-password")
    assert await ensure_accounts(configured, sessionmaker, PASSWORDS) is None
    admin = await _user(sessionmaker, "ops@example.com")
    assert admin.roles == ["ADMIN", "ANALYST"]
    assert await PASSWORDS.verify(admin.password_hash, "new-password")


async def test_a_changed_service_password_ends_the_account_s_sessions(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = _with(settings, worker_username="worker@example.com", worker_password="first-password")
    await ensure_accounts(first, sessionmaker, PASSWORDS)
    worker = await _user(sessionmaker, "worker@example.com")
    async with unit_of_work(sessionmaker) as session:
        await refresh.issue(session, worker, lifetime=timedelta(hours=1))
    await ensure_accounts(_with(first, worker_password="second-password"), sessionmaker, PASSWORDS)
    worker = await _user(sessionmaker, "worker@example.com")
    assert await PASSWORDS.verify(worker.password_hash, "second-password")
    async with unit_of_work(sessionmaker) as session:
        tokens = list(await session.scalars(select(RefreshToken)))
    assert tokens
    assert all(token.revoked_at is not None for token in tokens)


@pytest.mark.postgres_only
async def test_replicas_starting_together_create_each_account_once(settings: Settings) -> None:
    configured = _with(
        settings,
        admin_username="admin@example.com",
        admin_password="admin-password",
        worker_username="worker@example.com",
        worker_password="worker-password",
    )
    engines = [create_engine(settings.effective_database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(ensure_accounts(configured, create_sessionmaker(engine), PASSWORDS) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert results == [None] * 4
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            emails = sorted(user.email for user in await users.list_users(session))
    finally:
        await engine.dispose()
    assert emails == ["admin@example.com", "worker@example.com"]
