"""Deleting a user who owns, shares or belongs to projects and groups."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reefguide.projects.models import Group, GroupManager, GroupMember, Project, ProjectUserShare
from reefguide.spatial.models import Polygon
from tests.projects.helpers import Cast, add_rows, count, project_status


async def test_deleting_a_user_who_owns_projects_and_groups_deletes_them(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    await client.post(
        f"/api/projects/{cast.project_id}/share/users",
        json={"userIds": [cast.bystander.id]},
        headers=owner.headers,
    )
    await add_rows(app, Polygon(user_id=owner.id, project_id=cast.project_id, polygon={"type": "Polygon"}))
    response = await client.delete(f"/api/users/{owner.id}", headers=cast["admin"].headers)
    assert response.status_code == 204
    assert await count(app, Project, user_id=owner.id) == 0
    assert await count(app, Group, owner_id=owner.id) == 0
    assert await count(app, GroupMember, group_id=cast.group_id) == 0
    assert await count(app, Polygon, project_id=cast.project_id) == 0
    assert await project_status(client, cast["direct_share"], cast.project_id) == 404


async def test_deleting_a_user_who_is_shared_a_project_and_belongs_to_groups_keeps_those(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    for role in ("direct_share", "group_member", "group_manager"):
        response = await client.delete(f"/api/users/{cast[role].id}", headers=cast["admin"].headers)
        assert response.status_code == 204, role
    assert await count(app, ProjectUserShare, user_id=cast["direct_share"].id) == 0
    assert await count(app, GroupMember, user_id=cast["group_member"].id) == 0
    assert await count(app, GroupManager, user_id=cast["group_manager"].id) == 0
    assert await count(app, Project, id=cast.project_id) == 1
    assert await count(app, Group, id=cast.group_id) == 1
