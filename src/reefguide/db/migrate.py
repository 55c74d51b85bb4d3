"""Run Alembic from code: upgrade, check, reset. Used by the CLI, `serve` and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text

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


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to `revision`."""
    _outside_event_loop(lambda: command.upgrade(alembic_config(url), revision))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def check(url: str) -> None:
    """Raise alembic's CommandError when the database or the models differ from head."""
    _outside_event_loop(lambda: command.check(alembic_config(url)))


async def drop_everything(url: str) -> None:
    """Drop every table (and, on PostgreSQL, every type) in the database."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if is_sqlite(url):
                await connection.execute(text("PRAGMA foreign_keys=OFF"))
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            await connection.run_sync(metadata.drop_all)
            if not is_sqlite(url):
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await engine.dispose()


def reset(url: str) -> None:
    asyncio.run(drop_everything(url))
    upgrade(url)
