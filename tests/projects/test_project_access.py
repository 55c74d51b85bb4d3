"""Who may call each /api/projects route, for every member of the cast.

Read: owner, direct share, group member and manager (through the group share),
admin. Change (update, delete, share, publicity): owner and admin only; a reader
who may not change gets 403, anyone else 404. No ANALYST role: 403; no
credentials: 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.projects.helpers import ROLES, Cast, build_cast

NEW_PROJECT = {"name": "New", "type": "ADRIA_ANALYSIS", "project_state": {}}

# Expected status per role, in the order of ROLES:
# owner, stranger, direct_share, group_member, group_manager, admin, default_role, anonymous.
OPEN = (200, 200, 200, 200, 200, 200, 403, 401)
CREATED = (201, 201, 201, 201, 201, 201, 403, 401)
READ = (200, 404, 200, 200, 200, 200, 403, 401)
WRITE = (200, 404, 403, 403, 403, 200, 403, 401)
ADMIN_CREATED = (403, 403, 403, 403, 403, 201, 403, 401)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: Callable[[Cast], dict[str, Any] | None]
    expected: tuple[int, ...]

    def url(self, cast: Cast) -> str:
        return self.path.format(project=cast.project_id)


def no_body(_cast: Cast) -> None:
    return None


ROUTES = [
    Route("POST", "/api/projects", lambda cast: NEW_PROJECT, CREATED),
    Route("GET", "/api/projects", no_body, OPEN),
    Route("GET", "/api/projects/user/me", no_body, OPEN),
    Route(
        "POST",
        "/api/projects/bulk",
        lambda cast: {"projects": [NEW_PROJECT], "userId": cast.bystander.id},
        ADMIN_CREATED,
    ),
    Route("GET", "/api/projects/{project}", no_body, READ),
    Route("PUT", "/api/projects/{project}", lambda cast: {"name": "Renamed"}, WRITE),
    Route("DELETE", "/api/projects/{project}", no_body, WRITE),
    Route(
        "POST", "/api/projects/{project}/share/users", lambda cast: {"userIds": [cast.bystander.id]}, WRITE
    ),
    Route(
        "DELETE",
        "/api/projects/{project}/share/users",
        lambda cast: {"userIds": [cast["direct_share"].id]},
        WRITE,
    ),
    Route(
        "POST",
        "/api/projects/{project}/share/groups",
        lambda cast: {"groupIds": [cast.spare_group_id]},
        WRITE,
    ),
    Route(
        "DELETE", "/api/projects/{project}/share/groups", lambda cast: {"groupIds": [cast.group_id]}, WRITE
    ),
    Route("PUT", "/api/projects/{project}/publicity", lambda cast: {"isPublic": True}, WRITE),
]
IDS = [f"{route.method} {route.path}" for route in ROUTES]


def refusal(route: Route, role: str, status: int) -> str | None:
    """The message a refusal carries."""
    if status == 404:
        return "Project not found"
    if status == 403:
        refused_for_role = role == "default_role" or route.expected is ADMIN_CREATED
        return (
            "You do not have permission to do this" if refused_for_role else "You may not change this project"
        )
    return None


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_who_may_call_each_project_route(client: httpx.AsyncClient, app: FastAPI, route: Route) -> None:
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
    project = f"/api/projects/{cast.project_id}"
    for role in ("stranger", "direct_share", "group_member", "group_manager", "default_role"):
        headers = cast[role].headers
        await client.put(project, json={"name": "Taken over"}, headers=headers)
        await client.put(f"{project}/publicity", json={"isPublic": True}, headers=headers)
        await client.delete(project, headers=headers)
    body = (await client.get(project, headers=cast["owner"].headers)).json()["project"]
    assert (body["name"], body["is_public"]) == ("Heron reef", False)


READERS = {"owner", "direct_share", "group_member", "group_manager", "admin"}
ANALYSTS = [role for role in ROLES if role not in {"default_role", "anonymous"}]


async def test_the_list_holds_the_project_exactly_for_its_readers(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    listed = {}
    for role in ANALYSTS:
        response = await client.get("/api/projects", headers=cast[role].headers)
        listed[role] = cast.project_id in [project["id"] for project in response.json()["projects"]]
    assert listed == {role: role in READERS for role in ANALYSTS}


async def test_my_projects_hold_only_the_callers_own(client: httpx.AsyncClient, cast: Cast) -> None:
    listed = {}
    for role in ANALYSTS:
        response = await client.get("/api/projects/user/me", headers=cast[role].headers)
        listed[role] = cast.project_id in [project["id"] for project in response.json()["projects"]]
    assert listed == {role: role == "owner" for role in ANALYSTS}


async def test_an_unknown_project_is_404_even_for_an_admin(client: httpx.AsyncClient, cast: Cast) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method, "/api/projects/999999", json={"name": "x"}, headers=cast["admin"].headers
        )
        assert response.status_code == 404, method
