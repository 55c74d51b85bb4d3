"""Workers the server starts for itself: on one machine, with nothing else running,
a submitted job is run and finished.

`reefguide serve` (unless `--no-embedded-workers`) runs the capacity manager inside
itself against the local backend: it reads the backlog straight from the database
(no HTTP to itself) and starts `reefguide worker` processes for the job types the
built-in handlers run (TEST; DATA_SPECIFICATION_UPDATE when DATA_PATH is set), at
most REEFGUIDE_EMBEDDED_MAX_WORKERS at once; they exit on their own when idle.

The workers need a credential: at each start the server makes an API key for a
WORKER service account of their own (EMBEDDED_ACCOUNT) and hands it to them in their
environment; it is deleted when the server stops. Keys left by a server that died are
deleted by a later start once nobody has used them for a day.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.auth import api_keys
from reefguide.auth.models import ApiKey
from reefguide.auth.passwords import Passwords
from reefguide.cluster.base import ComputeBackend, Pool
from reefguide.cluster.build import build_backend, worker_environment
from reefguide.db.session import unit_of_work
from reefguide.errors import BadRequest
from reefguide.jobs import service as jobs
from reefguide.manager.loop import BacklogUnavailable, CapacityManager
from reefguide.settings import Settings
from reefguide.users import service as users
from reefguide.users.models import Role
from reefguide.worker.handlers import builtin_job_types

log = structlog.get_logger(__name__)

EMBEDDED_ACCOUNT = "embedded-workers@example.com"
KEY_NAME = "embedded workers"
# A key no worker has used for this long belongs to a server that is gone.
STALE_KEY_AGE = timedelta(days=1)
POOL_NAME = "embedded"
POLL_SECONDS = 2.0
# A first worker starts at once; more join at most this often while the backlog grows.
COOLDOWN_SECONDS = 5.0


class DatabaseBacklog:
    """The backlog read in the server's own database, as GET /api/jobs/stats counts it."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def pending_by_type(self) -> dict[str, int]:
        try:
            async with unit_of_work(self._sessionmaker) as session:
                return await jobs.pending_counts(session)
        except (SQLAlchemyError, OSError) as exc:
            raise BacklogUnavailable(f"database: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class IssuedKey:
    id: int
    key: str


async def _issue_key_once(
    sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords, now: datetime
) -> IssuedKey:
    async with unit_of_work(sessionmaker) as session:
        account = await users.get_by_email(session, EMBEDDED_ACCOUNT)
        if account is None:
            # Nobody logs in as it: a password no one knows.
            password_hash = await passwords.hash(secrets.token_urlsafe(32))
            account = await users.create_user(
                session, email=EMBEDDED_ACCOUNT, password_hash=password_hash, roles=[Role.WORKER]
            )
        elif Role.WORKER not in account.roles:
            account.roles = users.sorted_roles([*account.roles, Role.WORKER])
        await session.execute(
            delete(ApiKey).where(
                ApiKey.user_id == account.id,
                ApiKey.name.startswith(KEY_NAME),
                func.coalesce(ApiKey.last_used_at, ApiKey.created_at) < now - STALE_KEY_AGE,
            )
        )
        name = f"{KEY_NAME} ({socket.gethostname()}, pid {os.getpid()})"
        api_key, key = await api_keys.create(session, account, name=name, expires_at=None)
        return IssuedKey(api_key.id, key)


async def issue_key(
    sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords, now: datetime
) -> IssuedKey:
    """A fresh API key of the embedded workers' account (made if missing)."""
    try:
        return await _issue_key_once(sessionmaker, passwords, now)
    except (IntegrityError, BadRequest):
        # Another server starting at the same moment made the account first.
        return await _issue_key_once(sessionmaker, passwords, now)


async def delete_key(sessionmaker: async_sessionmaker[AsyncSession], key_id: int) -> None:
    async with unit_of_work(sessionmaker) as session:
        await session.execute(delete(ApiKey).where(ApiKey.id == key_id))


def _data_path(env: dict[str, str]) -> Path | None:
    value = env.get("DATA_PATH", "").strip()
    return Path(value) if value else None


class EmbeddedWorkers:
    """The manager loop and the local backend it launches through, for one server."""

    def __init__(
        self,
        *,
        backend: ComputeBackend,
        manager: CapacityManager,
        key: IssuedKey,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.backend = backend
        self.manager = manager
        self._key = key
        self._sessionmaker = sessionmaker
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        passwords: Passwords,
        *,
        now: Callable[[], datetime],
        command: list[str] | None = None,
    ) -> EmbeddedWorkers:
        """Make the workers' key, the backend and the manager, and start polling.
        `command`: what a worker runs (default `reefguide worker`)."""
        key = await issue_key(sessionmaker, passwords, now())
        env = worker_environment(settings, credentials={"WORKER_API_KEY": key.key})
        job_types = builtin_job_types(data_path=_data_path(env))
        env["JOB_TYPES"] = ",".join(job_types)
        backend = build_backend(settings, worker_env=env, command=command)
        pool = Pool(
            name=POOL_NAME,
            job_types=tuple(job_types),
            max_capacity=settings.embedded_max_workers,
            cooldown_seconds=COOLDOWN_SECONDS,
        )
        manager = CapacityManager(DatabaseBacklog(sessionmaker), backend, [pool], poll_interval=POLL_SECONDS)
        embedded = cls(backend=backend, manager=manager, key=key, sessionmaker=sessionmaker)
        embedded._task = asyncio.create_task(manager.run(), name="embedded-manager")
        log.info(
            "embedded workers on",
            job_types=job_types,
            max_workers=settings.embedded_max_workers,
            api_endpoint=env["API_ENDPOINT"],
        )
        return embedded

    async def stop(self) -> None:
        """Stop launching, stop the workers (SIGTERM: they finish or release their
        jobs), and delete their key. The backend is closed here."""
        self.manager.stop()
        if self._task is not None:
            await self._task
        await self.backend.close()
        try:
            await delete_key(self._sessionmaker, self._key.id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("embedded workers' key not deleted", error=type(exc).__name__)
