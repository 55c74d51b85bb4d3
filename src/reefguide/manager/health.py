"""`GET /health` for the manager's container: 200 "OK" while polls succeed, 503 when
none has for a while (the loop decides what "a while" is).

A few lines of asyncio rather than a web framework: one route, one word, and the
manager stays as light as the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

# A client gets this long to send its request line and headers.
READ_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 100

_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    400: "Bad Request",
    503: "Service Unavailable",
}


def _response(status: int, body: str, *, head: bool = False) -> bytes:
    payload = body.encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else payload)


class HealthServer:
    """Answers `GET /health` on `host:port` with `healthy()`'s verdict."""

    def __init__(self, healthy: Callable[[], bool], host: str = "127.0.0.1", port: int = 3000) -> None:
        self._healthy = healthy
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (raises OSError when the address is taken); `port` 0 picks a free one."""
        self._server = await asyncio.start_server(self._answer, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                request = await asyncio.wait_for(self._read_request(reader), READ_TIMEOUT_SECONDS)
            except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                request = None
            writer.write(self._route(request))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
        """The method and path; the headers are read and ignored."""
        parts = (await reader.readuntil(b"\r\n")).decode("latin-1").split()
        for _ in range(MAX_HEADER_LINES):
            if await reader.readuntil(b"\r\n") == b"\r\n":
                break
        else:
            raise ValueError("too many header lines")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError("not an HTTP request line")
        return parts[0], parts[1].split("?", 1)[0]

    def _route(self, request: tuple[str, str] | None) -> bytes:
        if request is None:
            return _response(400, "Bad Request")
        method, path = request
        if path != "/health":
            return _response(404, "Not Found")
        if method not in ("GET", "HEAD"):
            return _response(405, "Method Not Allowed")
        head = method == "HEAD"
        if self._healthy():
            return _response(200, "OK", head=head)
        return _response(503, "No successful poll lately", head=head)
