"""`reefguide db upgrade | check | reset`, and migrations run by several processes at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from reefguide import cli as cli_module
from reefguide.db import migrate
from reefguide.settings import load_settings
from tests.cli.conftest import Cli


def _revision(url: str) -> str | None:
    return asyncio.run(migrate.current_revision(url))


def test_upgrade_migrates_to_the_latest_revision(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    assert _revision(cli.sqlite_url) == migrate.head_revision()


def test_without_a_data_dir_setting_the_data_lives_in_dot_reefguide(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REEFGUIDE_DATA_DIR")
    cli.ok("db", "upgrade")
    assert (tmp_path / ".reefguide" / "reefguide.db").is_file()


def test_check_passes_at_the_latest_revision(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    result = cli.ok("db", "check")
    assert str(migrate.head_revision()) in result.stdout


def test_check_fails_on_an_unmigrated_database_and_says_what_to_run(cli: Cli) -> None:
    result = cli("db", "check")
    assert result.exit_code == 1
    assert "reefguide db upgrade" in result.stderr


def test_check_fails_on_a_database_behind_the_latest_revision(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    asyncio.run(_set_revision(cli.sqlite_url, "0000"))
    result = cli("db", "check")
    assert result.exit_code == 1
    assert "0000" in result.stderr


async def _set_revision(url: str, revision: str) -> None:
    from sqlalchemy import text

    from reefguide.db.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        await engine.dispose()


def test_reset_with_yes_empties_the_database_and_migrates_it(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "ann@example.com", "--password", "password123")
    cli.ok("db", "reset", "--yes")
    assert _revision(cli.sqlite_url) == migrate.head_revision()
    # The user is gone: creating it again works.
    cli.ok("users", "create", "ann@example.com", "--password", "password123")


def test_reset_asks_first_and_a_no_keeps_the_data(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "ann@example.com", "--password", "password123")
    result = cli("db", "reset", input="n\n")
    assert result.exit_code == 1
    assert "Delete all data" in result.output
    assert "Aborted" in result.stderr
    assert cli("users", "create", "ann@example.com", "--password", "password123").exit_code == 1


def test_reset_asks_first_and_a_yes_resets(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "ann@example.com", "--password", "password123")
    cli.ok("db", "reset", input="y\n")
    cli.ok("users", "create", "ann@example.com", "--password", "password123")


def test_reset_refuses_a_remote_database_without_force_and_never_contacts_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacted: list[str] = []
    monkeypatch.setattr(cli_module, "_prepare", lambda *_a, **_k: contacted.append("prepare"))
    monkeypatch.setattr(migrate, "reset", lambda *_a: contacted.append("reset"))
    monkeypatch.setattr(migrate, "create_engine", lambda *_a, **_k: contacted.append("engine"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example.com/x")
    for args in (["db", "reset"], ["db", "reset", "--yes"]):
        result = cli(*args)
        assert result.exit_code == 1
        assert "db.example.com" in result.stderr
        assert "--force" in result.stderr
    assert contacted == []


def test_reset_of_a_remote_database_with_force_goes_ahead(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    reset: list[str] = []
    monkeypatch.setattr(cli_module, "_prepare", lambda *_a, **_k: None)
    monkeypatch.setattr(migrate, "reset", reset.append)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example.com/x")
    cli.ok("db", "reset", "--yes", "--force")
    assert reset == ["postgresql://u@db.example.com/x"]


# PostgreSQL.


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def _execute(url: str, script: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(script)
    finally:
        await connection.close()


def test_reset_on_postgresql_drops_tables_and_types_then_migrates(
    cli: Cli, empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    cli.ok("db", "upgrade")
    asyncio.run(
        _execute(
            empty_database,
            "CREATE TYPE mood AS ENUM ('calm', 'stormy'); CREATE TABLE leftovers (id int, m mood)",
        )
    )
    cli.ok("db", "reset", "--yes")
    tables = {
        row[0]
        for row in asyncio.run(
            _fetch(empty_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
    }
    types = asyncio.run(_fetch(empty_database, "SELECT typname FROM pg_type WHERE typname = 'mood'"))
    assert "leftovers" not in tables
    assert "users" in tables
    assert types == []
    assert _revision(empty_database) == migrate.head_revision()


async def test_migrations_wait_for_each_other_on_postgresql(empty_database: str) -> None:
    """Replicas starting together take turns: one migrates while the others wait on a lock."""
    holder = await asyncpg.connect(empty_database)
    upgrade: asyncio.Future[None] | None = None
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", migrate.MIGRATION_LOCK_KEY)
        upgrade = asyncio.ensure_future(asyncio.to_thread(migrate.upgrade, empty_database))
        deadline = time.monotonic() + 30
        while not await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        ):
            assert time.monotonic() < deadline, "the upgrade never waited on the migration lock"
            assert not upgrade.done(), "the upgrade ran without waiting for the migration lock"
            await asyncio.sleep(0.05)  # between polls of the condition
        assert await holder.fetchval("SELECT to_regclass('alembic_version')") is None
        await holder.execute("SELECT pg_advisory_unlock($1)", migrate.MIGRATION_LOCK_KEY)
        await asyncio.wait_for(upgrade, 60)
    finally:
        await holder.close()  # releases the lock if a check above failed
        if upgrade is not None:
            await asyncio.wait_for(asyncio.shield(upgrade), 60)
    assert await migrate.current_revision(empty_database) == migrate.head_revision()


def test_a_database_migrated_by_a_newer_release_is_used_as_it_is(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    asyncio.run(_set_revision(cli.sqlite_url, "f00d1e55f00d"))
    check = cli("db", "check")
    assert check.exit_code == 1
    assert "newer release" in check.stderr
    # Neither a start (which would migrate) nor a users command refuses or touches it.
    cli_module._prepare(load_settings(), migrate=True)
    assert _revision(cli.sqlite_url) == "f00d1e55f00d"
    cli.ok("users", "create", "ann@example.com", "--password", "password123")
