"""A database that cannot be reached at start: bounded retries, one log line each,
then a non-zero exit naming the host. A host that accepts connections and never
answers cannot stall a start either."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reefguide.db.engine import DatabaseUnreachable, wait_for_database
from tests.e2e.network import silent_port
from tests.e2e.processes import base_env, free_port, log_lines, run_cli

pytestmark = pytest.mark.slow


def test_unreachable_database_at_start_retries_then_exits_naming_the_host(tmp_path: Path) -> None:
    closed_port = free_port()  # nothing listens there any more
    env = base_env(
        tmp_path / "data",
        DATABASE_URL=f"postgresql://reefguide@127.0.0.1:{closed_port}/reefguide",
        REEFGUIDE_DB_CONNECT_ATTEMPTS="3",
        REEFGUIDE_DB_CONNECT_INTERVAL_SECONDS="0.2",
        PORT=str(free_port()),
    )
    result = run_cli(["serve"], env=env, cwd=tmp_path)

    assert result.returncode != 0
    failures = [line for line in log_lines(result.stderr) if line.get("event") == "database unreachable"]
    assert [line["attempt"] for line in failures] == [1, 2, 3]
    assert all(line["host"] == "127.0.0.1" and line["level"] == "warning" for line in failures)
    message = result.stderr.strip().splitlines()[-1]
    assert "127.0.0.1" in message
    assert "3 attempts" in message
    assert "reefguide starting" not in result.stderr


@pytest.fixture
async def silent() -> AsyncIterator[int]:
    async with silent_port() as port:
        yield port


async def test_a_silent_database_host_counts_as_a_failed_attempt(silent: int) -> None:
    url = f"postgresql://reefguide@127.0.0.1:{silent}/reefguide"
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match=r"127\.0\.0\.1 after 2 attempts"):
        await wait_for_database(url, attempts=2, interval=0.1, connect_timeout=0.3)
    assert time.monotonic() - started < 5
