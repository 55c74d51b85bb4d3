"""`reefguide serve` on PostgreSQL: migrates at start (unless --no-migrate) and serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from reefguide.db import migrate
from tests.e2e.processes import base_env, free_port, log_lines, login, run_cli, running_server

pytestmark = pytest.mark.slow


async def _tables(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        return [row["tablename"] for row in rows]
    finally:
        await connection.close()


def test_serve_on_postgresql_migrates_and_serves(empty_database: str, tmp_path: Path) -> None:
    env = base_env(tmp_path / "data", DATABASE_URL=empty_database)
    with running_server(tmp_path, env, port=free_port()) as server:
        with server.client() as http:
            ready = http.get("/api/health/ready")
        password = server.stdout().split("password:")[1].split()[0]
        response = login(server.base_url, "admin@example.com", password)
        start = next(line for line in server.logs() if line.get("event") == "reefguide starting")
    assert ready.status_code == 200, ready.text
    assert response.status_code == 200, response.text
    assert start["database"] == f"PostgreSQL at 127.0.0.1:5432/{empty_database.rsplit('/', 1)[1]}"
    assert asyncio.run(migrate.current_revision(empty_database)) == migrate.head_revision()
    assert not (tmp_path / "data" / "reefguide.db").exists()


def test_no_migrate_on_an_empty_database_creates_no_tables_and_says_why(
    empty_database: str, tmp_path: Path
) -> None:
    env = base_env(tmp_path / "data", DATABASE_URL=empty_database, PORT=str(free_port()))
    result = run_cli(["serve", "--no-migrate"], env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "reefguide db upgrade" in result.stderr.strip().splitlines()[-1]
    assert not [line for line in log_lines(result.stderr) if line.get("event") == "reefguide starting"]
    assert asyncio.run(_tables(empty_database)) == []
