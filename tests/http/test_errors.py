"""Every error is `{"message": …}`: bad input is 400 naming each field as the client
sent it, never 422; too large is 413; unknown routes and methods answer JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import Field

from reefguide.schemas import ApiModel

MIB = 1024 * 1024


class Inner(ApiModel):
    inner_value: int


class Outer(ApiModel):
    outer_field: Inner
    items: list[Inner] = Field(default_factory=list)


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.post("/probe/nested")
    async def nested(body: Outer) -> dict[str, int]:
        return {"items": len(body.items)}

    @router.get("/probe/query")
    async def query(page_size: Annotated[int, Query(alias="pageSize", ge=1)] = 10) -> dict[str, int]:
        return {"pageSize": page_size}

    @router.post("/probe/stream")
    async def stream(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @router.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.include_router(router)


def assert_invalid(response: httpx.Response, fields: list[str]) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == "Invalid request"
    assert [error["field"] for error in body["errors"]] == fields
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])


async def test_missing_field_is_400_naming_the_field_as_sent(client: httpx.AsyncClient) -> None:
    assert_invalid(await client.post("/api/auth/token", json={}), ["refreshToken"])


async def test_wrong_type_is_400_naming_the_field_as_sent(client: httpx.AsyncClient) -> None:
    assert_invalid(await client.post("/api/auth/token", json={"refreshToken": 5}), ["refreshToken"])


async def test_each_invalid_field_is_listed(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json={"email": "not-an-email", "password": "short"})
    assert_invalid(response, ["email", "password"])


async def test_nested_fields_are_named_with_dots(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    body = {"outerField": {"innerValue": "not a number"}, "items": [{"innerValue": 1}, {}]}
    assert_invalid(
        await client.post("/probe/nested", json=body), ["outerField.innerValue", "items.1.innerValue"]
    )


async def test_query_parameters_are_named_as_sent(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    assert_invalid(await client.get("/probe/query", params={"pageSize": "many"}), ["pageSize"])
    assert_invalid(await client.get("/probe/query", params={"pageSize": "0"}), ["pageSize"])


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    secret = "s3cret-Value-that-must-not-echo"
    response = await client.post("/api/auth/token", json={"refreshToken": [secret]})
    assert response.status_code == 400
    assert secret not in response.text


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/token", content=b'{"refreshToken": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Malformed JSON in request body"}


@pytest.mark.parametrize("body", [[], [{"refreshToken": "x"}], "refreshToken", 42, None, True])
async def test_a_json_body_that_is_not_an_object_is_400(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post(
        "/api/auth/token", content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request"


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/token", json={"refreshToken": "x" * MIB})
    assert int(response.request.headers["content-length"]) > MIB
    assert response.status_code == 413
    assert response.json() == {"message": f"Request body exceeds {MIB} bytes"}


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"refreshToken": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/token", content=chunks(2 * MIB), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json() == {"message": f"Request body exceeds {MIB} bytes"}


async def test_chunked_body_within_the_limit_is_read(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    response = await client.post(
        "/probe/stream", content=chunks(MIB // 2), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"keys": 1}


async def test_a_body_of_exactly_the_limit_is_not_413(client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    prefix, suffix = b'{"a": "', b'"}'
    content = prefix + b"x" * (MIB - len(prefix) - len(suffix)) + suffix
    assert len(content) == MIB
    response = await client.post(
        "/probe/stream", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 100}])
async def test_the_limit_comes_from_max_body_bytes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/token", json={"refreshToken": "x" * 100})
    assert response.status_code == 413
    assert response.json() == {"message": "Request body exceeds 100 bytes"}


async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    for path in ("/api/no-such-thing", "/nowhere", "/api/auth/profile/extra"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"message": "Not Found"}


async def test_wrong_method_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health")
    assert response.status_code == 405
    assert response.json() == {"message": "Method Not Allowed"}
    assert response.headers["allow"] == "GET"


async def test_a_bug_is_500_json_without_details(lenient_client: httpx.AsyncClient, app: FastAPI) -> None:
    add_probe_routes(app)
    response = await lenient_client.get("/probe/boom")
    assert response.status_code == 500
    assert response.json() == {"message": "An unexpected error occurred"}
    assert "a bug" not in response.text
