"""ApiRouter passes over routers that cannot match a path, and only those."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from reefguide.app import API_ROUTERS
from reefguide.http.routing import API_PREFIX, ApiRouter


def _concrete(path: str) -> str:
    """A path the route matches: each `{parameter}` replaced by a value."""
    return re.sub(r"\{[^}]*\}", "7", path)


def test_a_router_could_match_exactly_its_static_paths_and_what_its_parameters_allow() -> None:
    router = ApiRouter(prefix="/things")

    @router.get("")
    async def listing() -> None: ...

    @router.get("/{thing_id}/parts/{part:path}")
    async def part() -> None: ...

    assert router.could_match("/api/things")
    assert router.could_match("/api/things/7/parts/a/b")
    assert router.could_match("/api/things/anything")  # a necessary condition only
    assert not router.could_match("/api/thingsx")
    assert not router.could_match("/api/other")
    assert not router.could_match("/things")

    @router.get("/late/addition")
    async def late() -> None: ...

    assert router.could_match("/api/late/addition") is False  # not under /things
    assert router.could_match("/api/things/late/addition")


@pytest.mark.parametrize("router", API_ROUTERS, ids=lambda router: router.prefix or "/")
def test_every_route_of_the_api_could_match_its_own_paths(router: ApiRouter) -> None:
    for route in router.routes:
        path = API_PREFIX + _concrete(route.path)  # type: ignore[attr-defined]
        assert router.could_match(path), path


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    first, second = ApiRouter(prefix="/first"), ApiRouter()

    @first.get("/item/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @second.get("/")
    async def root() -> dict[str, str]:
        return {"at": "root"}

    @second.get("/second")
    async def second_route() -> dict[str, str]:
        return {"at": "second"}

    app = FastAPI()
    app.include_router(first, prefix=API_PREFIX)
    app.include_router(second, prefix=API_PREFIX)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_requests_reach_the_router_that_matches(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/item/3")).status_code == 404
    assert (await client.get("/api/first/item/3")).json() == {"item": 3}
    assert (await client.get("/api/second")).json() == {"at": "second"}
    assert (await client.get("/api/")).json() == {"at": "root"}
    assert (await client.get("/api/first/item/x")).status_code == 422


async def test_a_path_with_a_slash_too_many_or_too_few_is_still_redirected(client: httpx.AsyncClient) -> None:
    moved = await client.get("/api/second/")
    assert moved.status_code == 307
    assert moved.headers["location"] == "http://test/api/second"
    moved = await client.get("/api")
    assert moved.status_code == 307
    assert moved.headers["location"] == "http://test/api/"
