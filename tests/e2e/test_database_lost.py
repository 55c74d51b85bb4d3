"""A database lost while the service runs: 503 `{"message": …}`, never 500 and
never a hang, and recovery without a restart once the database is back.

The database sits behind a TCP proxy run by the test: stopping the proxy (and
killing its connections) is the database going away; starting it again on the
same port is the database coming back.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from reefguide import app as app_module
from reefguide.app import create_app
from reefguide.auth.keys import KeyPair
from reefguide.db import engine as engine_module
from reefguide.users.models import Role, User
from tests.conftest import make_settings
from tests.e2e.network import TcpProxy, silent_port
from tests.factories import bearer, make_user, token_for

# Generous for a loaded machine, far below anything that would pass for a hang.
ANSWER_WITHIN_SECONDS = 15


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    target = make_url(database_url)
    tcp_proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await tcp_proxy.start()
    try:
        yield tcp_proxy
    finally:
        if tcp_proxy.running:
            await tcp_proxy.stop()


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with asyncio.timeout(ANSWER_WITHIN_SECONDS):
        return await client.get(path, headers=headers)


@pytest.mark.postgres_only
async def test_lost_database_answers_503_then_recovers_without_restart(
    database_url: str, proxy: TcpProxy, tmp_path: Path, key_pair: KeyPair
) -> None:
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(through_proxy.render_as_string(hide_password=False), tmp_path, key_pair)
    app = create_app(settings, keys=key_pair)
    async with LifespanManager(app):
        headers = bearer(token_for(app, await make_user(app)))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await _get(client, "/api/auth/profile", headers)).status_code == 200
            assert (await _get(client, "/api/health/ready")).status_code == 200

            await proxy.stop()
            for path, path_headers in (("/api/auth/profile", headers), ("/api/health/ready", None)):
                for _ in range(2):  # the pooled connection is dead, then a new one is refused
                    response = await _get(client, path, path_headers)
                    assert response.status_code == 503, (path, response.text)
                    assert response.json()["message"]

            await proxy.start()
            profile = await _get(client, "/api/auth/profile", headers)
            assert profile.status_code == 200, profile.text
            assert (await _get(client, "/api/health/ready")).status_code == 200


async def test_a_database_host_that_never_answers_gets_503_not_a_hang(
    tmp_path: Path, key_pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real connect timeout is CONNECT_TIMEOUT_SECONDS; a short one keeps the test quick.
    assert engine_module.CONNECT_TIMEOUT_SECONDS <= 10
    short = functools.partial(engine_module.create_engine, connect_timeout=0.5)
    monkeypatch.setattr(app_module, "create_engine", short)
    async with silent_port() as port:
        url = f"postgresql://reefguide@127.0.0.1:{port}/reefguide"
        app = create_app(make_settings(url, tmp_path, key_pair), keys=key_pair)
        async with LifespanManager(app):
            user = User(id=1, email="someone@example.com", roles=[Role.ANALYST.value])
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for path, headers in (
                    ("/api/auth/profile", bearer(token_for(app, user))),
                    ("/api/health/ready", None),
                ):
                    response = await _get(client, path, headers)
                    assert response.status_code == 503, (path, response.text)
                    assert response.json()["message"]
