"""helmet's default headers on every response, errors included; CORS only for the
origins in CORS_ORIGINS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.factories import bearer, make_user, token_for

# What helmet (v7/v8) sets by default.
HELMET = {
    "content-security-policy": (
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
        "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
        "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
    ),
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
}
ORIGIN = "https://app.example.com"
CORS = {"cors_origins": [ORIGIN]}


def assert_helmet(response: httpx.Response, *, csp: bool = True) -> None:
    for name, value in HELMET.items():
        if name == "content-security-policy" and not csp:
            continue
        assert response.headers.get_list(name) == [value], (response.request.url, name)
    assert "x-powered-by" not in response.headers
    assert response.headers["x-request-id"]


def add_failing_route(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.include_router(router)


async def test_helmet_headers_on_success(client: httpx.AsyncClient, app: FastAPI) -> None:
    headers = bearer(token_for(app, await make_user(app)))
    assert_helmet(await client.get("/api/health"))
    assert_helmet(await client.get("/api/auth/profile", headers=headers))
    # The document is JSON, never rendered: it shares the docs page's policy, the rest is helmet's.
    assert_helmet(await client.get("/api/openapi.json"), csp=False)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/auth/token", {"json": {}}, 400),
        ("POST", "/api/auth/token", {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ("GET", "/api/auth/profile", {}, 401),
        ("GET", "/api/nowhere", {}, 404),
        ("PUT", "/api/health", {}, 405),
        ("POST", "/api/auth/token", {"json": {"refreshToken": "x" * (1024 * 1024)}}, 413),
    ],
)
async def test_helmet_headers_on_errors(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert_helmet(response)


async def test_helmet_headers_on_a_413_for_a_chunked_body(client: httpx.AsyncClient) -> None:
    async def body() -> Any:
        for _ in range(40):
            yield b"x" * 64 * 1024

    response = await client.post(
        "/api/auth/token", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert_helmet(response)


async def test_helmet_headers_on_a_500(lenient_client: httpx.AsyncClient, app: FastAPI) -> None:
    add_failing_route(app)
    response = await lenient_client.get("/probe/boom")
    assert response.status_code == 500
    assert response.json() == {"message": "An unexpected error occurred"}
    assert_helmet(response)


async def test_helmet_headers_on_a_503(database_down_client: httpx.AsyncClient) -> None:
    response = await database_down_client.get("/api/health/ready")
    assert response.status_code == 503
    assert_helmet(response)


async def test_the_docs_page_gets_a_policy_that_lets_swagger_ui_load(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert_helmet(response, csp=False)
    policy = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy
    assert "object-src 'none'" in policy


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, x-api-key",
    }


@pytest.mark.parametrize("settings_overrides", [CORS])
async def test_preflight_from_an_allowed_origin_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/auth/login", headers=preflight(ORIGIN))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "x-api-key"):
        assert header in allowed_headers
    assert "Origin" in response.headers["vary"]


@pytest.mark.parametrize("settings_overrides", [CORS])
async def test_preflight_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/auth/login", headers=preflight("https://evil.example.com"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("settings_overrides", [CORS])
async def test_requests_from_an_allowed_origin_can_read_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    other = await client.get("/api/health", headers={"Origin": "https://evil.example.com"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("settings_overrides", [CORS])
async def test_errors_to_an_allowed_origin_carry_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/profile", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_without_cors_origins_there_are_no_cors_headers(client: httpx.AsyncClient) -> None:
    responses = [
        await client.options("/api/auth/login", headers=preflight(ORIGIN)),
        await client.get("/api/health", headers={"Origin": ORIGIN}),
    ]
    assert responses[0].status_code == 405
    for response in responses:
        assert not [name for name in response.headers if name.startswith("access-control-")]
