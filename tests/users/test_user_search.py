"""GET /api/users/search: find users by part of their email, best match first."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.users.helpers import Caller, add_users


async def search(client: httpx.AsyncClient, caller: Caller, **params: object) -> httpx.Response:
    return await client.get("/api/users/search", params=params, headers=caller.headers)


def emails(response: httpx.Response) -> list[str]:
    return [result["email"] for result in response.json()["results"]]


async def test_search_ranks_exact_then_prefix_then_match_position_then_alphabetical(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    await add_users(
        app,
        [
            "mariann@reef.org",
            "zoann@reef.org",
            "ann@reef.org.nz",
            "joann@reef.org",
            "ann@reef.org",
            "ann@reef.org.au",
            "bob@reef.org",
        ],
    )
    response = await search(client, analyst, q="ann@reef.org")
    assert response.status_code == 200
    assert emails(response) == [
        "ann@reef.org",
        "ann@reef.org.au",
        "ann@reef.org.nz",
        "joann@reef.org",
        "zoann@reef.org",
        "mariann@reef.org",
    ]


async def test_search_ignores_case(client: httpx.AsyncClient, app: FastAPI, analyst: Caller) -> None:
    await add_users(app, ["casey@reef.org"])
    assert emails(await search(client, analyst, q="  CaSeY@REEF ")) == ["casey@reef.org"]


async def test_search_returns_only_id_and_email(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    [user] = await add_users(app, ["only@reef.org"])
    response = await search(client, analyst, q="only@")
    assert response.json() == {"results": [{"id": user.id, "email": "only@reef.org"}]}


async def test_search_treats_like_wildcards_literally(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    await add_users(app, ["a_b@reef.org", "axb@reef.org", "a%b@reef.org"])
    assert emails(await search(client, analyst, q="a_b")) == ["a_b@reef.org"]
    assert emails(await search(client, analyst, q="a%b")) == ["a%b@reef.org"]


async def test_search_with_no_match_returns_no_results(client: httpx.AsyncClient, analyst: Caller) -> None:
    response = await search(client, analyst, q="nobody-at-all")
    assert response.status_code == 200
    assert response.json() == {"results": []}


async def test_search_returns_20_results_by_default(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    await add_users(app, [f"many{n:02d}@reef.org" for n in range(25)])
    assert len(emails(await search(client, analyst, q="many"))) == 20


async def test_search_limit_above_50_is_clamped_to_50(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    await add_users(app, [f"many{n:02d}@reef.org" for n in range(55)])
    response = await search(client, analyst, q="many", limit=500)
    assert response.status_code == 200
    assert len(emails(response)) == 50


async def test_search_limit_below_1_is_clamped_to_1(
    client: httpx.AsyncClient, app: FastAPI, analyst: Caller
) -> None:
    await add_users(app, ["many1@reef.org", "many2@reef.org"])
    response = await search(client, analyst, q="many", limit=0)
    assert response.status_code == 200
    assert emails(response) == ["many1@reef.org"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}], ids=["missing", "empty", "blank"])
async def test_search_without_a_query_is_400(
    client: httpx.AsyncClient, analyst: Caller, params: dict[str, str]
) -> None:
    response = await search(client, analyst, **params)
    assert response.status_code == 400


async def test_search_with_a_non_numeric_limit_is_400(client: httpx.AsyncClient, analyst: Caller) -> None:
    response = await search(client, analyst, q="reef", limit="many")
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["limit"]
