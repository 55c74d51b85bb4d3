"""The OpenAPI document: served with its docs page, and saying for each route who may
call it and every way it can fail, as the `{"message": …}` bodies this service sends."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI

from reefguide.auth.dependencies import AdminUser, CurrentUser
from reefguide.db.session import SessionDep
from reefguide.ratelimit import rate_limited

ERROR_SCHEMAS = {"#/components/schemas/Error", "#/components/schemas/InvalidRequest"}
EITHER_CREDENTIAL = [{"HTTPBearer": []}, {"APIKeyHeader": []}]


async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def error_schema(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"])


async def test_the_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/api/openapi.json" in response.text


async def test_the_document_lists_the_api(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "ReefGuide API"
    for path in ("/api/auth/login", "/api/auth/profile", "/api/health", "/api/health/ready"):
        assert path in doc["paths"]


async def test_profile_requires_a_bearer_token_or_an_api_key(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    profile = doc["paths"]["/api/auth/profile"]["get"]
    assert profile["security"] == EITHER_CREDENTIAL
    assert doc["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /api/auth/login",
    }
    api_key = doc["components"]["securitySchemes"]["APIKeyHeader"]
    assert (api_key["type"], api_key["in"], api_key["name"]) == ("apiKey", "header", "x-api-key")
    assert error_schema(profile["responses"]["401"]) == "#/components/schemas/Error"
    assert error_schema(profile["responses"]["503"]) == "#/components/schemas/Error"
    assert "bearer access token or an API key" in profile["description"]


async def test_login_is_open_rate_limited_and_validated(client: httpx.AsyncClient) -> None:
    login = (await document(client))["paths"]["/api/auth/login"]["post"]
    assert "security" not in login
    assert "**Auth:** none." in login["description"]
    assert "**Rate limit:** 5/15 minutes per client." in login["description"]
    assert set(login["responses"]) == {"200", "400", "413", "429", "503"}
    assert "Retry-After" in login["responses"]["429"]["headers"]
    assert error_schema(login["responses"]["400"]) == "#/components/schemas/InvalidRequest"
    assert error_schema(login["responses"]["429"]) == "#/components/schemas/Error"


async def test_the_400_body_is_described(client: httpx.AsyncClient) -> None:
    schemas = (await document(client))["components"]["schemas"]
    assert schemas["Error"]["required"] == ["message"]
    invalid = schemas["InvalidRequest"]
    assert set(invalid["properties"]) == {"message", "errors"}
    assert set(invalid["properties"]["errors"]["items"]["properties"]) == {"field", "message"}


async def test_no_route_documents_a_422(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    for method, path, operation in operations(doc):
        assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]


async def test_every_route_documents_its_errors(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    for method, path, operation in operations(doc):
        where = f"{method} {path}"
        responses = operation["responses"]
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), where
        if operation.get("parameters"):
            assert "400" in responses, where
        if "security" in operation:
            assert operation["security"] == EITHER_CREDENTIAL, where
            assert "401" in responses, where
        assert "**Auth:**" in operation["description"], where
        for status, response in responses.items():
            if status[0] in "45":
                assert error_schema(response) in ERROR_SCHEMAS, (where, status)


async def test_readiness_documents_its_503(client: httpx.AsyncClient) -> None:
    ready = (await document(client))["paths"]["/api/health/ready"]["get"]
    assert ready["responses"]["503"]["description"] == "The database is unreachable"
    assert error_schema(ready["responses"]["503"]) == "#/components/schemas/Error"


async def test_liveness_documents_no_database_failure(client: httpx.AsyncClient) -> None:
    health = (await document(client))["paths"]["/api/health"]["get"]
    assert set(health["responses"]) == {"200"}


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter(prefix="/probe")

    @router.delete("/things/{thing_id}")
    async def delete_thing(thing_id: int, _admin: AdminUser, session: SessionDep) -> None:
        """Delete a thing."""

    @router.get("/mine", responses={404: {"description": "You have none"}})
    async def mine(_user: CurrentUser) -> None:
        pass

    @router.post("/limited", dependencies=[Depends(rate_limited("probe", "2/minute"))])
    async def limited() -> None:
        pass

    app.include_router(router)


async def test_routes_added_later_are_described_from_their_dependencies(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await document(client)  # built once before the routes exist
    add_probe_routes(app)
    paths = (await document(client))["paths"]
    delete = paths["/probe/things/{thing_id}"]["delete"]
    assert delete["security"] == EITHER_CREDENTIAL
    assert set(delete["responses"]) >= {"400", "401", "403", "503"}
    assert delete["description"].startswith("Delete a thing.\n\n**Auth:**")
    assert "**Roles:** ADMIN." in delete["description"]
    mine = paths["/probe/mine"]["get"]
    assert mine["responses"]["404"]["description"] == "You have none"
    assert error_schema(mine["responses"]["404"]) == "#/components/schemas/Error"
    assert "403" not in mine["responses"]
    limited = paths["/probe/limited"]["post"]
    assert "security" not in limited
    assert set(limited["responses"]) == {"200", "429"}
