"""Who may call each /api/groups route, for every member of the cast.

Read: owner, managers, members, admin. Name, description and members: owner,
managers, admin. Delete, managers, ownership: owner and admin. A reader who may
not change gets 403, anyone else 404 (being shared a project of the group's
owner gives nothing here). No ANALYST role: 403; no credentials: 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.projects.helpers import ROLES, Cast, build_cast

# Expected status per role, in the order of ROLES:
# owner, stranger, direct_share, group_member, group_manager, admin, default_role, anonymous.
OPEN = (200, 200, 200, 200, 200, 200, 403, 401)
CREATED = (201, 201, 201, 201, 201, 201, 403, 401)
READ = (200, 404, 404, 200, 200, 200, 403, 401)
MANAGE = (200, 404, 404, 403, 200, 200, 403, 401)
OWN = (200, 404, 404, 403, 403, 200, 403, 401)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: Callable[[Cast], dict[str, Any] | None]
    expected: tuple[int, ...]

    def url(self, cast: Cast) -> str:
        return self.path.format(group=cast.group_id)


def no_body(_cast: Cast) -> None:
    return None


def bystander(cast: Cast) -> dict[str, Any]:
    return {"userIds": [cast.bystander.id]}


ROUTES = [
    Route("POST", "/api/groups", lambda cast: {"name": "New team"}, CREATED),
    Route("GET", "/api/groups", no_body, OPEN),
    Route("GET", "/api/groups/user/me", no_body, OPEN),
    Route("GET", "/api/groups/{group}", no_body, READ),
    Route("PUT", "/api/groups/{group}", lambda cast: {"name": "Renamed"}, MANAGE),
    Route("DELETE", "/api/groups/{group}", no_body, OWN),
    Route("POST", "/api/groups/{group}/members", bystander, MANAGE),
    Route(
        "DELETE", "/api/groups/{group}/members", lambda cast: {"userIds": [cast["group_member"].id]}, MANAGE
    ),
    Route("POST", "/api/groups/{group}/managers", bystander, OWN),
    Route(
        "DELETE", "/api/groups/{group}/managers", lambda cast: {"userIds": [cast["group_manager"].id]}, OWN
    ),
    Route(
        "POST", "/api/groups/{group}/transfer-ownership", lambda cast: {"newOwnerId": cast.bystander.id}, OWN
    ),
]
IDS = [f"{route.method} {route.path}" for route in ROUTES]


def refusal(_route: Route, role: str, status: int) -> str | None:
    """The message a refusal carries."""
    if status == 404:
        return "Group not found"
    if status == 403:
        refused_for_role = role == "default_role"
        return (
            "You do not have permission to do this" if refused_for_role else "You may not change this group"
        )
    return None


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_who_may_call_each_group_route(client: httpx.AsyncClient, app: FastAPI, route: Route) -> None:
    """Each caller gets a cast of their own, so one caller's change never meets the next."""
    expected = dict(zip(ROLES, route.expected, strict=True))
    statuses: dict[str, int] = {}
    messages: dict[str, str | None] = {}
    for role, status in expected.items():
        cast = await build_cast(app)
        response = await client.request(
            route.method, route.url(cast), json=route.body(cast), headers=cast[role].headers
        )
        statuses[role] = response.status_code
        messages[role] = response.json().get("message") if refusal(route, role, status) else None
    assert statuses == expected
    assert messages == {role: refusal(route, role, status) for role, status in expected.items()}


async def test_a_refused_change_changes_nothing(client: httpx.AsyncClient, cast: Cast) -> None:
    group = f"/api/groups/{cast.group_id}"
    for role in ("stranger", "direct_share", "group_member", "default_role"):
        headers = cast[role].headers
        await client.put(group, json={"name": "Taken over"}, headers=headers)
        await client.post(f"{group}/members", json={"userIds": [cast[role].id]}, headers=headers)
        await client.post(f"{group}/transfer-ownership", json={"newOwnerId": cast[role].id}, headers=headers)
        await client.delete(group, headers=headers)
    body = (await client.get(group, headers=cast["owner"].headers)).json()["group"]
    assert body["name"] == "Reef team"
    assert body["owner_id"] == cast["owner"].id
    assert sorted(member["user_id"] for member in body["members"]) == sorted(
        [cast["group_member"].id, cast["default_role"].id]
    )


READERS = {"owner", "group_member", "group_manager", "admin"}
ANALYSTS = [role for role in ROLES if role not in {"default_role", "anonymous"}]


async def test_the_list_holds_the_group_exactly_for_its_readers(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    listed = {}
    for role in ANALYSTS:
        response = await client.get("/api/groups", headers=cast[role].headers)
        listed[role] = cast.group_id in [group["id"] for group in response.json()["groups"]]
    assert listed == {role: role in READERS for role in ANALYSTS}


async def test_my_groups_hold_the_group_for_its_owner_managers_and_members_only(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    listed = {}
    for role in ANALYSTS:
        response = await client.get("/api/groups/user/me", headers=cast[role].headers)
        listed[role] = cast.group_id in [group["id"] for group in response.json()["groups"]]
    # An admin reads every group, but "my groups" are only those they are part of.
    assert listed == {role: role in READERS - {"admin"} for role in ANALYSTS}
