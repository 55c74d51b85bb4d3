"""Listing projects and groups costs a fixed number of SQL statements, however many rows."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reefguide.projects.models import (
    Group,
    GroupManager,
    GroupMember,
    Project,
    ProjectGroupShare,
    ProjectUserShare,
)
from tests.projects.helpers import Caller, add_rows, add_users, analyst, as_caller, count_statements

# The caller's row, the count, the page, owners, user shares, group shares.
MAX_STATEMENTS = 6


async def add_shared_projects(app: FastAPI, reader: Caller, how_many: int) -> None:
    """Projects of other users that `reader` reads directly or through a group, each
    shared with a few more users and groups."""
    owners = await add_users(app, 2)
    others = await add_users(app, 3)
    group = Group(name="Readers", owner_id=owners[0].id)
    projects = [
        Project(name=f"Shared {n}", type="SITE_SELECTION", project_state={"n": n}, user_id=owners[n % 2].id)
        for n in range(how_many)
    ]
    await add_rows(app, group, *projects)
    rows: list[object] = [GroupMember(group_id=group.id, user_id=reader.id)]
    rows += [GroupManager(group_id=group.id, user_id=other.id) for other in others]
    for n, project in enumerate(projects):
        rows.append(ProjectGroupShare(project_id=project.id, group_id=group.id))
        rows += [ProjectUserShare(project_id=project.id, user_id=other.id) for other in others]
        if n % 2:
            rows.append(ProjectUserShare(project_id=project.id, user_id=reader.id))
    await add_rows(app, *rows)


async def list_statements(client: httpx.AsyncClient, app: FastAPI, path: str, reader: Caller) -> int:
    with count_statements(app) as statements:
        response = await client.get(path, headers=reader.headers)
    assert response.status_code == 200
    return len(statements)


async def test_listing_projects_runs_the_same_statements_for_one_row_or_forty(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    reader = await analyst(app)
    await add_shared_projects(app, reader, 1)
    one = await list_statements(client, app, "/api/projects", reader)
    await add_shared_projects(app, reader, 39)
    forty = await list_statements(client, app, "/api/projects", reader)
    body = (await client.get("/api/projects", headers=reader.headers)).json()
    assert len(body["projects"]) == 40
    assert all(len(project["userShares"]) >= 3 and project["groupShares"] for project in body["projects"])
    assert one == forty
    assert forty <= MAX_STATEMENTS


async def test_listing_projects_as_an_admin_runs_the_same_statements(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    [admin_user] = await add_users(app, 1, ["ADMIN"])
    admin = as_caller(app, admin_user)
    reader = await analyst(app)
    await add_shared_projects(app, reader, 1)
    one = await list_statements(client, app, "/api/projects", admin)
    await add_shared_projects(app, reader, 30)
    assert await list_statements(client, app, "/api/projects", admin) == one <= MAX_STATEMENTS


async def test_listing_groups_runs_the_same_statements_for_one_row_or_thirty(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    reader = await analyst(app)
    await add_shared_projects(app, reader, 1)
    one = await list_statements(client, app, "/api/groups", reader)
    for _ in range(29):
        await add_shared_projects(app, reader, 1)
    assert len((await client.get("/api/groups", headers=reader.headers)).json()["groups"]) == 30
    assert await list_statements(client, app, "/api/groups", reader) == one <= MAX_STATEMENTS
