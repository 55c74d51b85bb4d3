"""Fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

Each backend is migrated once per session into a template (a file for SQLite,
a template database for PostgreSQL); each test gets its own copy. PostgreSQL
runs need REEFGUIDE_TEST_DATABASE_URL (a server where we may create
databases); without it they are skipped, unless REEFGUIDE_REQUIRE_POSTGRES=1
(CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from reefguide.app import create_app
from reefguide.auth.keys import KeyPair, generate_key_pair
from reefguide.db import migrate
from reefguide.settings import Settings
from reefguide.users.models import Role
from tests.callers import Caller, caller

BACKENDS = ["sqlite", "postgres"]
POSTGRES_ENV = "REEFGUIDE_TEST_DATABASE_URL"


def postgres_server_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("REEFGUIDE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REEFGUIDE_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set")
    return None


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin_execute(server_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    return generate_key_pair()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    server = postgres_server_url()
    if server is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
        )
    try:
        asyncio.run(_admin_execute(server, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"Cannot reach PostgreSQL at {make_url(server).host}: {exc}")
    with _test_database(server, "rg_template") as dsn:
        migrate.upgrade(dsn)
        yield server, str(make_url(dsn).database)


@contextlib.contextmanager
def _test_database(server: str, prefix: str, *, template: str | None = None) -> Iterator[str]:
    """A database made for one test (a copy of `template`, or empty), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin_execute(server, f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield _asyncpg_dsn(server, name)
    finally:
        asyncio.run(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "sqlite" and request.node.get_closest_marker("postgres_only"):
        pytest.skip("PostgreSQL only")
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the latest migration."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "reefguide.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server, template_name = request.getfixturevalue("postgres_template")
    with _test_database(server, "rg_test", template=template_name) as dsn:
        yield dsn


def make_settings(database_url: str, data_dir: Path, key_pair: KeyPair, **overrides: Any) -> Settings:
    """Settings for a test: explicit about everything that matters, no .env read."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "test_mode": True,
        "registration_mode": "open",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "jwt_private_key": key_pair.private_pem(),
        "api_domain": "http://test",
        "log_format": "json",
        "log_level": "INFO",
        "cors_origins": [],
        "admin_username": None,
        "admin_password": None,
        "worker_username": None,
        "worker_password": None,
        "manager_username": None,
        "manager_password": None,
        "smtp_host": None,
        # An app in a test starts no worker processes; tests of them turn this on.
        "embedded_workers": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with @pytest.mark.parametrize) to change settings."""
    return {}


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, key_pair: KeyPair, settings_overrides: dict[str, Any]
) -> Settings:
    return make_settings(database_url, tmp_path / "data", key_pair, **settings_overrides)


@pytest.fixture
async def app(settings: Settings, key_pair: KeyPair) -> AsyncIterator[FastAPI]:
    application = create_app(settings, keys=key_pair)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


# A caller of each role, for any test that asks (a package may define its own).


@pytest.fixture
async def analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)


@pytest.fixture
async def other_analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)


@pytest.fixture
async def worker(app: FastAPI) -> Caller:
    return await caller(app, Role.WORKER)


@pytest.fixture
async def other_worker(app: FastAPI) -> Caller:
    return await caller(app, Role.WORKER)


@pytest.fixture
async def admin(app: FastAPI) -> Caller:
    return await caller(app, Role.ADMIN)


@pytest.fixture
async def default_user(app: FastAPI) -> Caller:
    return await caller(app, Role.DEFAULT)


# Services end-to-end tests start servers against: a fresh PostgreSQL database, and
# Redis; each test skips without them (fails instead in CI, which requires them).

REDIS_ENV = "REEFGUIDE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    server = postgres_server_url()
    if server is None:
        pytest.skip("needs REEFGUIDE_TEST_DATABASE_URL (a PostgreSQL server where we may create databases)")
    with _test_database(server, "rg_empty") as dsn:
        yield dsn


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
