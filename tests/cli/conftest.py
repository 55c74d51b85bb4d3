"""Fixtures for the `reefguide` command run in process (typer's CliRunner).

Each test gets an environment without any of the service's settings but a data
directory of its own and cheap Argon2, runs in a directory of its own (no .env
is read), and leaves the process's logging as it found it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from typer.testing import CliRunner, Result

from reefguide.app import create_app
from reefguide.auth.keys import KeyPair
from reefguide.cli import app as cli_app
from reefguide.settings import ENV_NAMES
from tests.conftest import make_settings

# Where the test suite finds PostgreSQL: for the tests, not for the command.
TEST_HARNESS_VARIABLES = {"REEFGUIDE_TEST_DATABASE_URL", "REEFGUIDE_REQUIRE_POSTGRES"}


@dataclass
class Cli:
    data_dir: Path
    runner: CliRunner

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'reefguide.db'}"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(cli_app, list(args), input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    setting_names = {name.upper() for name in ENV_NAMES.values()}
    for name in list(os.environ):
        upper = name.upper()
        if upper in TEST_HARNESS_VARIABLES:
            continue
        if upper in setting_names or upper.startswith("REEFGUIDE_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("REEFGUIDE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("REEFGUIDE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("REEFGUIDE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    try:
        yield Cli(data_dir, CliRunner())
    finally:
        root.handlers, root.level = handlers, level
        structlog.configure(**structlog_config)


def call_api(
    cli: Cli,
    key_pair: KeyPair,
    method: str,
    path: str,
    *,
    json: object = None,
    headers: Sequence[tuple[str, str]] = (),
) -> httpx.Response:
    """One request to an app on the CLI's database (from a synchronous test)."""

    async def request() -> httpx.Response:
        app = create_app(make_settings(cli.sqlite_url, cli.data_dir, key_pair), keys=key_pair)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, json=json, headers=list(headers))

    return asyncio.run(request())


def login(cli: Cli, key_pair: KeyPair, email: str, password: str) -> httpx.Response:
    return call_api(cli, key_pair, "POST", "/api/auth/login", json={"email": email, "password": password})
