"""GET /health on a real loopback socket: 200 "OK" while healthy, 503 when not."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from reefguide.manager import health
from reefguide.manager.health import HealthServer

BOUND_SECONDS = 5.0


class Verdict:
    def __init__(self) -> None:
        self.healthy = True

    def __call__(self) -> bool:
        return self.healthy


async def raw_exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_health_answers_ok_then_503_when_the_manager_is_not_healthy() -> None:
    verdict = Verdict()
    async with (
        asyncio.timeout(BOUND_SECONDS),
        HealthServer(verdict, "127.0.0.1", 0) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http,
    ):
        ok = await http.get("/health")
        verdict.healthy = False
        stale = await http.get("/health")
        head = await http.head("/health")

    assert (ok.status_code, ok.text) == (200, "OK")
    assert ok.headers["content-type"] == "text/plain; charset=utf-8"
    assert stale.status_code == 503
    assert (head.status_code, head.content) == (503, b"")


async def test_other_paths_and_methods_and_garbage_are_refused() -> None:
    async with (
        asyncio.timeout(BOUND_SECONDS),
        HealthServer(Verdict(), "127.0.0.1", 0) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http,
    ):
        assert (await http.get("/")).status_code == 404
        assert (await http.get("/health?verbose=1")).status_code == 200
        assert (await http.post("/health")).status_code == 405
        garbage = await raw_exchange(server.port, b"hello\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_a_client_that_sends_nothing_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "READ_TIMEOUT_SECONDS", 0.05)
    async with asyncio.timeout(BOUND_SECONDS), HealthServer(Verdict(), "127.0.0.1", 0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        answer = await reader.read()  # the server answers 400 and closes
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 400 ")


async def test_it_listens_on_loopback_only_by_default() -> None:
    async with HealthServer(Verdict(), port=0) as server:
        assert server.host == "127.0.0.1"


async def test_a_taken_port_is_an_error_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = HealthServer(Verdict(), "127.0.0.1", taken.getsockname()[1])
        with pytest.raises(OSError, match="address already in use"):
            await server.start()
