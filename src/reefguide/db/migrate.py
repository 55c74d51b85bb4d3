"""Run Alembic from code: upgrade, check, reset. Used by the CLI, `serve` and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from reefguide.db.engine import create_engine, is_sqlite

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def _outside_event_loop(call: Callable[[], T]) -> T:
    """Alembic's env.py runs its own event loop; from inside one, give it a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(call).result()


# The PostgreSQL advisory lock that serialises migrations: any fixed bigint
# ("reefguid" in ASCII), the same in every process.
MIGRATION_LOCK_KEY = 0x7265_6566_6775_6964


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to `revision`. On PostgreSQL, under an advisory lock: replicas starting
    together take turns, and each after the first finds nothing left to do."""
    if is_sqlite(url):
        _outside_event_loop(lambda: command.upgrade(alembic_config(url), revision))
        return
    _outside_event_loop(lambda: asyncio.run(_upgrade_locked(url, revision)))


async def _upgrade_locked(url: str, revision: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as lock_connection:
            await lock_connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                # Alembic runs its own event loop (env.py), so it gets a thread of its own.
                await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
            finally:
                await lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _read_revision(connection: Connection) -> str | None:
    # Read directly rather than through a MigrationContext, which logs two lines per look.
    if not inspect(connection).has_table("alembic_version"):
        return None
    revisions = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if len(revisions) > 1:
        raise CommandError(f"The database has several heads: {', '.join(revisions)}")
    return revisions[0] if revisions else None


async def current_revision(url: str) -> str | None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revision)
    finally:
        await engine.dispose()


class Status(StrEnum):
    EMPTY = "empty"  # never migrated
    BEHIND = "behind"  # an older revision of this code
    HEAD = "head"
    UNKNOWN = "unknown"  # a revision this code does not know: a newer release migrated it


@dataclass(frozen=True)
class RevisionStatus:
    status: Status
    current: str | None
    head: str | None

    def describe(self) -> str:
        match self.status:
            case Status.EMPTY:
                return "The database has not been migrated: run `reefguide db upgrade`."
            case Status.BEHIND:
                return (
                    f"The database is at revision {self.current}, the latest is {self.head}: "
                    "run `reefguide db upgrade`."
                )
            case Status.UNKNOWN:
                return (
                    f"The database is at revision {self.current}, which this version does not know "
                    f"(its latest is {self.head}): it was migrated by a newer release."
                )
            case _:
                return f"The database is at the latest revision ({self.head})."


async def revision_status(url: str) -> RevisionStatus:
    current = await current_revision(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    if current is None:
        status = Status.EMPTY
    elif current == head:
        status = Status.HEAD
    else:
        try:
            script.get_revision(current)
            status = Status.BEHIND
        except CommandError:
            status = Status.UNKNOWN
    return RevisionStatus(status, current, head)


def check(url: str) -> None:
    """Raise alembic's CommandError when the database or the models differ from head."""
    _outside_event_loop(lambda: command.check(alembic_config(url)))


async def drop_everything(url: str) -> None:
    """Drop every table (and, on PostgreSQL, every enum type) in the database."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            if is_sqlite(url):
                await connection.execute(text("PRAGMA foreign_keys=OFF"))
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            await connection.run_sync(metadata.drop_all)
            if not is_sqlite(url):
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
                enums = await connection.scalars(
                    text(
                        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE t.typtype = 'e' AND n.nspname = current_schema()"
                    )
                )
                for name in list(enums):
                    quoted = connection.dialect.identifier_preparer.quote(name)
                    await connection.execute(text(f"DROP TYPE IF EXISTS {quoted} CASCADE"))
    finally:
        await engine.dispose()


def reset(url: str) -> None:
    _outside_event_loop(lambda: asyncio.run(drop_everything(url)))
    upgrade(url)
