"""Services the end-to-end tests start servers against: a fresh PostgreSQL database,
and Redis; each test skips without them (fails instead in CI, which requires them)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import _admin_execute, _asyncpg_dsn, postgres_server_url

REDIS_ENV = "REEFGUIDE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    server = postgres_server_url()
    if server is None:
        pytest.skip("needs REEFGUIDE_TEST_DATABASE_URL (a PostgreSQL server where we may create databases)")
    name = f"rg_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_execute(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _asyncpg_dsn(server, name)
    finally:
        asyncio.run(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS_URL)
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as exc:
        if os.environ.get("REEFGUIDE_REQUIRE_REDIS") == "1":
            pytest.fail(f"REEFGUIDE_REQUIRE_REDIS=1 but Redis at {url} is unreachable: {exc}")
        pytest.skip(f"needs Redis ({REDIS_ENV}, default {DEFAULT_REDIS_URL}): {exc}")
    return url
