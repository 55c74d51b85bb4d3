"""One pure ASGI middleware for what every request needs: a request id, the body
size limit, security headers, the access log line and the request metrics."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reefguide.errors import ApiError
from reefguide.observability.context import start_request
from reefguide.observability.logging import log_access
from reefguide.observability.metrics import HttpMetrics

# helmet's defaults.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"origin-agent-cluster", b"?1"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-dns-prefetch-control", b"off"),
    (b"x-download-options", b"noopen"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-permitted-cross-domain-policies", b"none"),
    (b"x-xss-protection", b"0"),
]
CSP = (
    b"default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    b"frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
    b"script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
)
# The Swagger UI page loads its script and styles from a CDN.
DOCS_CSP = (
    b"default-src 'self';img-src 'self' data: https://fastapi.tiangolo.com;"
    b"script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;object-src 'none'"
)


# The local storage routes, where workers PUT result files.
UPLOAD_PATH_PREFIX = "/api/storage/"


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTPException
    because FastAPI's body parser re-raises those but turns any other error into 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds {limit} bytes")


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _valid_request_id(value: bytes | None) -> str | None:
    if not value or len(value) > 200:
        return None
    text = value.decode("latin-1")
    return text if text.isprintable() else None


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        docs_paths: frozenset[str],
        max_upload_bytes: int | None = None,
        metrics: HttpMetrics | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_body_bytes if max_upload_bytes is None else max_upload_bytes
        self.docs_paths = docs_paths

    def body_limit(self, path: str) -> int:
        """Result files uploaded to local storage may be far larger than any JSON body."""
        return self.max_upload_bytes if path.startswith(UPLOAD_PATH_PREFIX) else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = scope["headers"]
        request_id = _valid_request_id(_header(headers, b"x-request-id")) or secrets.token_hex(16)
        facts = start_request(request_id)
        # For the error handler that runs outside this middleware (unhandled errors).
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        csp = DOCS_CSP if scope["path"] in self.docs_paths else CSP
        extra_headers = [
            *SECURITY_HEADERS,
            (b"content-security-policy", csp),
            (b"x-request-id", request_id.encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            limit = self.body_limit(scope["path"])
            length = _header(headers, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await self._send_error(send_with_headers, 413, f"Request body exceeds {limit} bytes")
                return
            try:
                await self.app(scope, self._limited(receive, limit), send_with_headers)
            except Exception:
                # Starlette answers unhandled errors outside every middleware, so without
                # our headers: answer here, and let the error go on to be logged.
                if not response_started:
                    await self._send_error(send_with_headers, 500, ApiError.default_message)
                raise
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe(scope, status, elapsed)
            log_access(
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                user_id=facts.get("user_id"),
            )

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Count streamed bytes too: a chunked body has no Content-Length to check."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive

    async def _send_error(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
