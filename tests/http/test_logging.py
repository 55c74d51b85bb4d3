"""Structured logs: a request id on every line of a request, one access line per
request, and never a password, token or key, whatever the client sends."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from reefguide.auth.schemas import TokensOut
from reefguide.db.session import SessionDep
from reefguide.observability import logging as observability_logging
from reefguide.observability.context import start_request
from reefguide.observability.logging import ACCESS_LOGGER, configure_logging, line_handler
from tests.factories import bearer, make_user, token_for
from tests.http.conftest import LogCapture


def records(logs: LogCapture) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.lines]


def access_lines(logs: LogCapture) -> list[dict[str, Any]]:
    return [record for record in records(logs) if record.get("logger") == "reefguide.access"]


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/probe/log")
    async def log_something() -> dict[str, bool]:
        structlog.get_logger("probe").info("inside the request")
        return {"ok": True}

    @router.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.include_router(router)


async def test_a_given_request_id_is_returned_and_logged(
    client: httpx.AsyncClient, app: FastAPI, captured_logs: LogCapture
) -> None:
    add_probe_routes(app)
    response = await client.get("/probe/log", headers={"X-Request-ID": "req-42.abc"})
    assert response.headers["x-request-id"] == "req-42.abc"
    inside = [record for record in records(captured_logs) if record["event"] == "inside the request"]
    assert [record["request_id"] for record in inside] == ["req-42.abc"]
    assert [record["request_id"] for record in access_lines(captured_logs)] == ["req-42.abc"]


async def test_the_access_line_is_what_structlog_would_render(
    client: httpx.AsyncClient, captured_logs: LogCapture
) -> None:
    # JSON lines without tracing: the access line skips structlog's processors.
    assert observability_logging._write_access.__qualname__.startswith("_json_access_lines")
    await client.get("/api/health", headers={"X-Request-ID": "req-7"})
    [written] = captured_logs.lines
    fields = {key: json.loads(written)[key] for key in ("method", "path", "status", "duration_ms", "user_id")}
    start_request("req-7")
    structlog.get_logger(ACCESS_LOGGER).info("request", **fields)
    [_, rendered] = captured_logs.lines
    timestamp = re.compile(r'"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"')
    assert timestamp.search(written)
    assert timestamp.sub("", written) == timestamp.sub("", rendered)


async def test_no_access_line_above_info(app: FastAPI) -> None:
    written: dict[str, list[str]] = {}
    for level in ("WARNING", "INFO"):
        configure_logging(app.state.settings.model_copy(update={"log_level": level}))
        handler = line_handler()
        assert handler is not None
        written[level] = []
        handler.listeners.append(written[level].append)
        observability_logging.log_access(method="GET", path="/", status=200, duration_ms=1.0, user_id=None)
    assert written["WARNING"] == []
    assert len(written["INFO"]) == 1


async def test_a_request_id_is_made_when_none_is_given(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/health")).headers["x-request-id"]
    second = (await client.get("/api/health")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("given", ["x" * 201, "tab\there", ""])
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_one_access_line_per_request(
    client: httpx.AsyncClient, app: FastAPI, captured_logs: LogCapture
) -> None:
    await client.get("/api/health", params={"verbose": "1"})
    await client.post("/api/auth/token", json={})
    await client.get("/api/nowhere")
    await client.post("/api/auth/token", json={"refreshToken": "x" * (2 * 1024 * 1024)})
    lines = access_lines(captured_logs)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/health", 200),
        ("POST", "/api/auth/token", 400),
        ("GET", "/api/nowhere", 404),
        ("POST", "/api/auth/token", 413),
    ]
    for line in lines:
        assert line["event"] == "request"
        assert line["level"] == "info"
        assert isinstance(line["duration_ms"], int | float)
        assert line["duration_ms"] >= 0
        assert line["user_id"] is None
        assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
        assert line["timestamp"].endswith("Z")


async def test_the_access_line_of_a_bug_says_500(
    lenient_client: httpx.AsyncClient, app: FastAPI, captured_logs: LogCapture
) -> None:
    add_probe_routes(app)
    response = await lenient_client.get("/probe/boom", headers={"X-Request-ID": "bug-1"})
    assert response.headers["x-request-id"] == "bug-1"
    assert [(line["status"], line["request_id"]) for line in access_lines(captured_logs)] == [(500, "bug-1")]
    errors = [record for record in records(captured_logs) if record["event"] == "unhandled error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "bug-1"
    assert "RuntimeError: a bug" in errors[0]["exception"]


async def test_authenticated_requests_log_the_user_id(
    client: httpx.AsyncClient, app: FastAPI, captured_logs: LogCapture
) -> None:
    user = await make_user(app)
    headers = bearer(token_for(app, user))
    await client.get("/api/auth/profile", headers=headers)
    key = (await client.post("/api/auth/api-keys", headers=headers, json={"name": "ci"})).json()["key"]
    await client.get("/api/auth/profile", headers={"x-api-key": key})
    await client.get("/api/auth/profile", headers={"Authorization": f"Api-Key {key}"})
    await client.get("/api/auth/profile")
    assert [line["user_id"] for line in access_lines(captured_logs)] == [
        user.id,
        user.id,
        user.id,
        user.id,
        None,
    ]


SECRETS = {
    "password": "Correct-Horse-Battery-1",
    "new_password": "Staple-Sideways-Quietly-2",
    "wrong_password": "Not-My-Password-Either-3",
    "query_password": "Password-In-The-Query-4",
}


@pytest.mark.parametrize(
    "settings_overrides",
    [{}, {"log_format": "console"}, {"log_level": "DEBUG"}],
    ids=["json", "console", "debug"],
)
async def test_no_secret_ever_reaches_the_logs(
    client: httpx.AsyncClient, captured_logs: LogCapture, settings_overrides: dict[str, Any]
) -> None:
    email = "secretive@example.com"
    password, new_password = SECRETS["password"], SECRETS["new_password"]
    secrets = list(SECRETS.values())

    assert (
        await client.post("/api/auth/register", json={"email": email, "password": password})
    ).status_code == 200
    login = (await client.post("/api/auth/login", json={"email": email, "password": password})).json()
    secrets += [login["token"], login["refreshToken"]]
    refreshed = (await client.post("/api/auth/token", json={"refreshToken": login["refreshToken"]})).json()
    secrets += [refreshed["token"], refreshed["refreshToken"]]
    headers = bearer(refreshed["token"])
    change = {"oldPassword": password, "newPassword": new_password, "confirmPassword": new_password}
    assert (await client.post("/api/auth/change-password", headers=headers, json=change)).status_code == 200
    created = await client.post("/api/auth/api-keys", headers=headers, json={"name": "laptop"})
    key = created.json()["key"]
    secrets.append(key)
    assert (await client.get("/api/auth/profile", headers={"x-api-key": key})).status_code == 200
    assert (
        await client.get("/api/auth/profile", headers={"Authorization": f"Api-Key {key}"})
    ).status_code == 200
    again = (await client.post("/api/auth/login", json={"email": email, "password": new_password})).json()
    secrets += [again["token"], again["refreshToken"]]

    # Failures that carry the secrets: validation errors echo input, auth errors see credentials.
    failures: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/auth/register", {"json": {"email": "not-an-email", "password": password}}),
        ("POST", "/api/auth/register", {"json": {"email": email, "password": [password]}}),
        ("POST", "/api/auth/login", {"json": {"email": [email], "password": {"value": password}}}),
        ("POST", "/api/auth/login", {"json": {"email": email, "password": SECRETS["wrong_password"]}}),
        ("POST", "/api/auth/login", {"content": f'{{"password": "{password}"'.encode()}),
        ("POST", "/api/auth/token", {"json": {"refreshToken": [login["refreshToken"]]}}),
        ("POST", "/api/auth/token", {"json": {"refreshToken": login["refreshToken"]}}),  # reused: revokes
        ("POST", "/api/auth/token", {"json": {"refreshToken": login["refreshToken"] * 20}}),
        ("POST", "/api/auth/logout", {"json": {"refreshToken": {"token": again["refreshToken"]}}}),
        (
            "POST",
            "/api/auth/change-password",
            {"headers": headers, "json": {"oldPassword": new_password, "newPassword": password}},
        ),
        (
            "POST",
            "/api/auth/change-password",
            {
                "headers": bearer(again["token"]),
                "json": {"oldPassword": new_password, "newPassword": "short", "confirmPassword": password},
            },
        ),
        ("GET", "/api/auth/profile", {"headers": bearer(login["token"] + "tampered")}),
        ("GET", "/api/auth/profile", {"headers": {"x-api-key": key + "x"}}),
        ("GET", "/api/auth/profile", {"headers": {"Authorization": f"Basic {key}"}}),
        (
            "GET",
            "/api/auth/profile",
            {
                "params": {
                    "token": again["token"],
                    "refreshToken": again["refreshToken"],
                    "apiKey": key,
                    "password": SECRETS["query_password"],
                }
            },
        ),
        ("GET", f"/api/nowhere?token={again['token']}&key={key}", {}),
        ("POST", "/api/auth/api-keys", {"headers": {"x-api-key": key}, "json": {"name": key * 100}}),
    ]
    for method, path, kwargs in failures:
        response = await client.request(method, path, **kwargs)
        assert response.status_code >= 400, (method, path, response.status_code)
        assert response.status_code < 500, (method, path, response.text)

    output = captured_logs.text
    assert len(access_lines_any_format(captured_logs)) == len(failures) + 8, "one access line a request"
    leaked = [secret for secret in secrets if secret in output]
    assert not leaked, f"{len(leaked)} secrets in the log:\n{output[:3000]}"
    assert "$argon2" not in output, "nor a password hash"


def access_lines_any_format(logs: LogCapture) -> list[str]:
    return [line for line in logs.lines if "reefguide.access" in line or '"event": "request"' in line]


def add_leaky_routes(app: FastAPI) -> None:
    """Bugs whose exceptions quote request data: pydantic's `input_value=…` and SQL `[parameters: …]`."""
    router = APIRouter()

    @router.post("/probe/validate")
    async def validate(body: dict[str, Any]) -> TokensOut:
        return TokensOut.model_validate({"token": body["secret"]})

    @router.post("/probe/respond")
    async def respond(body: dict[str, Any]) -> TokensOut:
        return {"token": body["secret"]}  # type: ignore[return-value]

    @router.post("/probe/sql")
    async def sql(body: dict[str, Any], session: SessionDep) -> None:
        await session.execute(
            text("SELECT * FROM no_such_table WHERE token = :token"), {"token": body["secret"]}
        )

    app.include_router(router)


@pytest.mark.parametrize("route", ["validate", "respond", "sql"])
@pytest.mark.parametrize("settings_overrides", [{}, {"log_format": "console"}], ids=["json", "console"])
async def test_tracebacks_leave_out_the_request_data_they_quote(
    lenient_client: httpx.AsyncClient,
    app: FastAPI,
    captured_logs: LogCapture,
    route: str,
    settings_overrides: dict[str, Any],
) -> None:
    add_leaky_routes(app)
    secret = "Leaky-Secret-Value-0123456789"
    response = await lenient_client.post(f"/probe/{route}", json={"secret": secret})
    assert response.status_code in {500, 503}
    assert captured_logs.lines, "the failure was logged"
    assert secret not in captured_logs.text
