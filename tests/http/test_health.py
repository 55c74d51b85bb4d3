"""Liveness, readiness, and what every route answers while the database is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reefguide.auth.keys import KeyPair
from reefguide.http import health
from reefguide.http.handlers import DATABASE_DOWN
from tests.http.conftest import client_for_database


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_root_says_the_api_is_healthy(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/")
    assert response.status_code == 200
    assert response.json() == {"message": "API healthy."}


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_not_ready_when_the_database_refuses_connections(
    database_down_client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await database_down_client.get("/api/health/ready")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json() == {"message": DATABASE_DOWN}


async def test_liveness_does_not_need_the_database(database_down_client: httpx.AsyncClient) -> None:
    assert (await database_down_client.get("/api/health")).json() == {"status": "ok"}
    assert (await database_down_client.get("/api/")).status_code == 200


async def test_routes_answer_503_quickly_when_the_database_is_down(
    database_down_client: httpx.AsyncClient,
) -> None:
    requests = [
        ("POST", "/api/auth/login", {"email": "a@example.com", "password": "password123"}, {}),
        ("POST", "/api/auth/register", {"email": "b@example.com", "password": "password123"}, {}),
        ("GET", "/api/auth/profile", None, {"x-api-key": "rg_some-key"}),
        ("POST", "/api/auth/token", {"refreshToken": "some-token"}, {}),
    ]
    for method, path, body, headers in requests:
        started = time.monotonic()
        response = await database_down_client.request(method, path, json=body, headers=headers)
        assert time.monotonic() - started < 2, path
        assert response.status_code == 503, (path, response.text)
        assert response.json() == {"message": DATABASE_DOWN}


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word, like a wedged database."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_not_ready_within_the_timeout_when_the_database_hangs(
    silent_server: int, tmp_path: Path, key_pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.5)
    url = f"postgresql://postgres@127.0.0.1:{silent_server}/reefguide"
    async with client_for_database(url, tmp_path / "data", key_pair) as client:
        started = time.monotonic()
        response = await client.get("/api/health/ready")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {"message": DATABASE_DOWN}
    assert 0.4 < elapsed < 3
