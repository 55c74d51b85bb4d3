"""`reefguide serve` with no configuration: the first start makes everything it
needs; the second start reuses all of it.

The two starts share one data directory, so they are module fixtures: the first
start is recorded while it runs, then stopped with SIGTERM, then the second
start runs against the same directory.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reefguide.db import migrate
from tests.e2e.processes import Server, base_env, free_port, login, start_server, wait_ready

pytestmark = pytest.mark.slow

GENERATED_PASSWORD = re.compile(r"password:\s+(\S+)")
ADMIN_EMAIL = "admin@example.com"
# What the server's tokens are issued by when API_DOMAIN is not set.
DEFAULT_ISSUER = "http://localhost:5000"


@dataclass
class FirstStart:
    server: Server
    data_dir: Path
    password: str
    login: httpx.Response
    profile: httpx.Response
    jwks: dict[str, Any]
    private_pem: bytes


@dataclass
class SecondStart:
    server: Server
    first_exit_code: int
    first_stop_seconds: float
    login: httpx.Response
    jwks: dict[str, Any]
    first_token_profile: httpx.Response


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("first-start")


@pytest.fixture(scope="module")
def first_start(workdir: Path) -> Iterator[FirstStart]:
    data_dir = workdir / "data"
    server = start_server(
        workdir, base_env(data_dir), ["--host", "127.0.0.1"], port=free_port(), name="first"
    )
    try:
        wait_ready(server)
        match = GENERATED_PASSWORD.search(server.stdout())
        assert match, f"no generated password in stdout:\n{server.stdout()}"
        with server.client() as http:
            response = login(server.base_url, ADMIN_EMAIL, match.group(1))
            profile = http.get(
                "/api/auth/profile", headers={"Authorization": f"Bearer {response.json().get('token')}"}
            )
            jwks = http.get("/api/.well-known/jwks.json").json()
        yield FirstStart(
            server,
            data_dir,
            match.group(1),
            response,
            profile,
            jwks,
            (data_dir / "keys" / "jwt-private.pem").read_bytes(),
        )
    finally:
        server.stop()


@pytest.fixture(scope="module")
def second_start(workdir: Path, first_start: FirstStart) -> Iterator[SecondStart]:
    exit_code, seconds = first_start.server.stop()
    port = free_port()
    # PORT from the environment; --host beats HOST (an address this machine cannot bind).
    env = base_env(first_start.data_dir, PORT=str(port), HOST="192.0.2.1")
    server = start_server(workdir, env, ["--host", "127.0.0.1"], name="second")
    try:
        wait_ready(server)
        with server.client() as http:
            response = login(server.base_url, ADMIN_EMAIL, first_start.password)
            jwks = http.get("/api/.well-known/jwks.json").json()
            old_token = first_start.login.json()["token"]
            profile = http.get("/api/auth/profile", headers={"Authorization": f"Bearer {old_token}"})
        yield SecondStart(server, exit_code, seconds, response, jwks, profile)
    finally:
        server.stop()


def _start_line(server: Server) -> dict[str, Any]:
    lines = [line for line in server.logs() if line.get("event") == "reefguide starting"]
    assert len(lines) == 1, server.stderr()
    return lines[0]


def test_first_start_creates_the_data_dir_database_and_key_pair(first_start: FirstStart) -> None:
    database = first_start.data_dir / "reefguide.db"
    assert database.is_file()
    assert asyncio.run(migrate.current_revision(f"sqlite:///{database}")) == migrate.head_revision()
    key = serialization.load_pem_private_key(first_start.private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


def test_first_start_prints_the_generated_admin_password_exactly_once(first_start: FirstStart) -> None:
    assert first_start.server.stdout().count(first_start.password) == 1
    assert first_start.password not in first_start.server.stderr()


def test_generated_admin_logs_in(first_start: FirstStart) -> None:
    assert first_start.login.status_code == 200, first_start.login.text
    assert first_start.profile.status_code == 200
    assert first_start.profile.json()["user"]["email"] == ADMIN_EMAIL
    assert "ADMIN" in first_start.profile.json()["user"]["roles"]


def test_start_log_line_names_the_data_dir_and_the_database(first_start: FirstStart) -> None:
    line = _start_line(first_start.server)
    assert line["data_dir"] == str(first_start.data_dir.resolve())
    assert line["database"] == f"SQLite at {(first_start.data_dir / 'reefguide.db').resolve()}"


def test_port_option_is_respected(first_start: FirstStart) -> None:
    assert _start_line(first_start.server)["url"] == f"http://127.0.0.1:{first_start.server.port}/api"


def test_sigterm_stops_the_server_with_exit_code_0(second_start: SecondStart) -> None:
    assert second_start.first_exit_code == 0
    assert second_start.first_stop_seconds < 10


def test_second_start_prints_no_password(second_start: SecondStart) -> None:
    assert "password" not in second_start.server.stdout()
    assert "Created the admin account" not in second_start.server.stdout()


def test_second_start_reuses_the_key_pair(first_start: FirstStart, second_start: SecondStart) -> None:
    assert [key["kid"] for key in second_start.jwks["keys"]] == [
        key["kid"] for key in first_start.jwks["keys"]
    ]
    assert (first_start.data_dir / "keys" / "jwt-private.pem").read_bytes() == first_start.private_pem
    # A token signed before the restart is still good after it.
    assert second_start.first_token_profile.status_code == 200


def test_admin_still_logs_in_after_a_restart(second_start: SecondStart) -> None:
    assert second_start.login.status_code == 200, second_start.login.text


def test_port_from_the_environment_and_host_option_are_respected(second_start: SecondStart) -> None:
    # The fixture reached the server at 127.0.0.1:PORT although HOST names another address.
    assert _start_line(second_start.server)["url"] == f"http://127.0.0.1:{second_start.server.port}/api"
    assert second_start.login.status_code == 200


def test_pyjwkclient_verifies_a_login_token_against_the_served_jwks(second_start: SecondStart) -> None:
    token = second_start.login.json()["token"]
    client = jwt.PyJWKClient(f"{second_start.server.base_url}/api/.well-known/jwks.json", cache_keys=False)
    signing_key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer=DEFAULT_ISSUER)
    assert claims["email"] == ADMIN_EMAIL
    assert "ADMIN" in claims["roles"]
