"""The async engine: URL normalisation, SQLite pragmas, the start-up connection check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from reefguide.db.pool import FairAsyncQueuePool

log = structlog.get_logger(__name__)


def async_url(url: str) -> URL:
    """`postgresql://…` → asyncpg, `sqlite:///…` → aiosqlite."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    # Prisma-style `?schema=public` is not an asyncpg argument.
    if "schema" in parsed.query:
        parsed = parsed.difference_update_query(["schema"])
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def describe(url: str) -> str:
    """A URL fit for a log line: the host and database, never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite at {parsed.database}"
    return f"PostgreSQL at {parsed.host}:{parsed.port or 5432}/{parsed.database}"


def database_host(url: str) -> str:
    parsed = make_url(url)
    return parsed.host or urlsplit(url).hostname or "localhost"


# asyncpg waits 60 s for a connection by default: a database host that drops
# packets would hold every request (and each start-up attempt) that long.
CONNECT_TIMEOUT_SECONDS = 10.0


def create_engine(
    url: str, *, pool_size: int = 10, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
) -> AsyncEngine:
    target = async_url(url)
    # Statement parameters (password hashes, token hashes) never reach an error message or log.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    database = target.database or ""
    in_memory = is_sqlite(target) and database in {"", ":memory:"}
    if not in_memory:
        # Requests waiting for a connection get one in the order they asked (db/pool.py).
        # (An in-memory SQLite database keeps SQLAlchemy's one shared connection.)
        kwargs["poolclass"] = FairAsyncQueuePool
    if is_sqlite(target):
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One file, many readers, one writer: WAL, a busy timeout, and foreign keys on.
        kwargs |= {"connect_args": {"timeout": 30}}
    else:
        kwargs |= {
            "pool_size": pool_size,
            # No overflow: SQLAlchemy closes an overflow connection as soon as it is
            # returned, so under steady load above pool_size every request paid for a
            # new PostgreSQL connection (a backend process, TLS negotiation, type set-up).
            "max_overflow": 0,
            "connect_args": {"timeout": connect_timeout},
        }
    engine = create_async_engine(target, **kwargs)
    if is_sqlite(target):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    else:

        @event.listens_for(engine.sync_engine, "checkout")
        def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            # pool_pre_ping's job without its three round trips (BEGIN, ";", ROLLBACK) per
            # checkout: asyncpg marks a connection closed as soon as the event loop sees the
            # server end it (restart, crash, reset), and this error makes the pool drop every
            # older connection and connect afresh, as a failed ping would.
            if dbapi_connection.driver_connection.is_closed():
                raise exc.InvalidatePoolError()

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class DatabaseUnreachable(Exception):
    pass


async def wait_for_database(
    url: str, *, attempts: int, interval: float, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
) -> None:
    """Connect with retries, one log line per failure; raise when all attempts fail."""
    engine = create_engine(url, pool_size=1, connect_timeout=connect_timeout)
    host = database_host(url)
    try:
        for attempt in range(1, attempts + 1):
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return
            except Exception as error:
                log.warning(
                    "database unreachable",
                    host=host,
                    attempt=attempt,
                    attempts=attempts,
                    error=str(error).splitlines()[0] if str(error) else type(error).__name__,
                )
                if attempt < attempts:
                    await asyncio.sleep(interval)
        raise DatabaseUnreachable(f"Could not connect to the database at {host} after {attempts} attempts")
    finally:
        await engine.dispose()
