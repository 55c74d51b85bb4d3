"""Helpers shared by the HTTP plumbing tests: captured log output, a client that does
not raise the app's exceptions (so a bug shows as the 500 a server would send), and
apps whose database is down."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from reefguide.app import create_app
from reefguide.auth.keys import KeyPair
from reefguide.observability.logging import line_handler
from tests.conftest import make_settings


class LogCapture:
    """Every line the app logs (its own and every library's), as written to stderr."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def captured_logs(app: FastAPI) -> Iterator[LogCapture]:
    """All log output of the app (and of every library logging through the root logger)."""
    handler = line_handler()
    assert handler is not None, "create_app configured logging"
    capture = LogCapture()
    handler.listeners.append(capture)
    try:
        yield capture
    finally:
        handler.listeners.remove(capture)


@pytest.fixture
async def lenient_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that turns an unhandled exception into the 500 a real server would send."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextlib.asynccontextmanager
async def client_for_database(
    database_url: str, data_dir: Path, key_pair: KeyPair, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database is at `database_url` (which may be down)."""
    app = create_app(make_settings(database_url, data_dir, key_pair, **overrides), keys=key_pair)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def database_down_client(tmp_path: Path, key_pair: KeyPair) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose PostgreSQL server refuses connections."""
    with refused_port() as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/reefguide"
        async with client_for_database(url, tmp_path / "data", key_pair) as http:
            yield http
