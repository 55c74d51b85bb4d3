"""Projects: create, list (filters, paging), read, update, delete, bulk create."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from reefguide.db.base import utcnow
from reefguide.projects.models import Project, ProjectUserShare
from reefguide.spatial.models import Polygon, PolygonNote
from reefguide.users.models import Role
from tests.projects.helpers import Caller, Cast, add_project, add_rows, add_users, analyst, as_caller, count

PROJECTS = "/api/projects"
STATE = {"regions": ["Cairns"], "criteria": {"depth": [-10, -2]}}


async def create(client: httpx.AsyncClient, caller: Caller, **body: Any) -> httpx.Response:
    body = {"name": "Heron", "type": "SITE_SELECTION", "project_state": STATE, **body}
    return await client.post(PROJECTS, json=body, headers=caller.headers)


async def test_a_created_project_has_the_originals_shape(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await analyst(app)
    response = await create(client, owner, description="  Reef sites  ")
    assert response.status_code == 201
    project = response.json()["project"]
    assert project == {
        "id": project["id"],
        "name": "Heron",
        "description": "Reef sites",
        "type": "SITE_SELECTION",
        "project_state": STATE,
        "is_public": False,
        "created_at": project["created_at"],
        "updated_at": project["updated_at"],
        "user_id": owner.id,
        "user": {"id": owner.id, "email": owner.email},
        "userShares": [],
        "groupShares": [],
    }


async def test_public_is_read_under_the_originals_name_too(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await analyst(app)
    assert (await create(client, owner, name="a", public=True)).json()["project"]["is_public"] is True
    assert (await create(client, owner, name="b", is_public=True)).json()["project"]["is_public"] is True
    assert (await create(client, owner, name="c")).json()["project"]["is_public"] is False


async def test_a_second_project_of_the_same_name_for_the_same_user_is_400(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner, other = await analyst(app), await analyst(app)
    assert (await create(client, owner)).status_code == 201
    response = await create(client, owner, name="  Heron ")
    assert response.status_code == 400
    assert response.json() == {"message": 'Project with name "Heron" already exists for this user'}
    assert (await create(client, other)).status_code == 201


async def test_a_project_needs_a_known_type_a_name_and_a_state(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await analyst(app)
    assert (await create(client, owner, type="CRITERIA_POLYGONS")).status_code == 400
    assert (await create(client, owner, name="   ")).status_code == 400
    assert (await create(client, owner, project_state="not an object")).status_code == 400
    response = await client.post(
        PROJECTS, json={"name": "x", "type": "SITE_SELECTION"}, headers=owner.headers
    )
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["project_state"]


async def test_the_list_filters_by_type_and_by_part_of_the_name_in_any_case(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await analyst(app)
    await add_project(app, owner, "Heron Reef", type="SITE_SELECTION")
    await add_project(app, owner, "Lizard island", type="ADRIA_ANALYSIS")
    await add_project(app, owner, "heron 100%", type="ADRIA_ANALYSIS")

    async def names(**params: str) -> list[str]:
        response = await client.get(PROJECTS, params=params, headers=owner.headers)
        assert response.status_code == 200
        return sorted(project["name"] for project in response.json()["projects"])

    assert await names(type="ADRIA_ANALYSIS") == ["Lizard island", "heron 100%"]
    assert await names(name="HERON") == ["Heron Reef", "heron 100%"]
    assert await names(name="heron", type="SITE_SELECTION") == ["Heron Reef"]
    assert await names(name="100%") == ["heron 100%"]
    assert await names(name="%") == ["heron 100%"]
    assert (await client.get(PROJECTS, params={"type": "OTHER"}, headers=owner.headers)).status_code == 400


async def test_limit_and_offset_page_through_the_projects_most_recently_updated_first(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await analyst(app)
    start = utcnow() - timedelta(days=1)
    for n in range(7):
        await add_project(app, owner, f"p{n}", updated_at=start + timedelta(minutes=n))
    response = await client.get(PROJECTS, params={"limit": 3, "offset": 2}, headers=owner.headers)
    assert response.status_code == 200
    body = response.json()
    assert [project["name"] for project in body["projects"]] == ["p4", "p3", "p2"]
    assert body["pagination"] == {"total": 7, "limit": 3, "offset": 2}
    everything = (await client.get(PROJECTS, headers=owner.headers)).json()
    assert everything["pagination"] == {"total": 7, "limit": 50, "offset": 0}
    assert [project["name"] for project in everything["projects"]] == [f"p{n}" for n in reversed(range(7))]


async def test_the_limit_is_clamped_to_1_to_100_and_a_negative_offset_is_400(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await analyst(app)
    await add_rows(
        app,
        *(
            Project(name=f"p{n}", type="SITE_SELECTION", project_state={}, user_id=owner.id)
            for n in range(101)
        ),
    )
    big = (await client.get(PROJECTS, params={"limit": 1000}, headers=owner.headers)).json()
    assert (len(big["projects"]), big["pagination"]["limit"], big["pagination"]["total"]) == (100, 100, 101)
    small = (await client.get(PROJECTS, params={"limit": 0}, headers=owner.headers)).json()
    assert (len(small["projects"]), small["pagination"]["limit"]) == (1, 1)
    assert (await client.get(PROJECTS, params={"offset": -1}, headers=owner.headers)).status_code == 400
    assert (await client.get(PROJECTS, params={"limit": "ten"}, headers=owner.headers)).status_code == 400


async def test_listed_projects_carry_their_owner_and_shares(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.get(PROJECTS, headers=cast["direct_share"].headers)
    [project] = response.json()["projects"]
    owner = cast["owner"].user
    assert owner is not None
    assert project["user"] == {"id": owner.id, "email": owner.email}
    shared_with = [(share["user_id"], share["user"]["id"]) for share in project["userShares"]]
    assert shared_with == [(cast["direct_share"].id,) * 2, (cast["default_role"].id,) * 2]
    [group_share] = project["groupShares"]
    assert group_share["group"] == {"id": cast.group_id, "name": "Reef team", "description": "The team"}
    assert group_share["project_id"] == cast.project_id


async def test_my_projects_are_only_the_ones_i_own(
    client: httpx.AsyncClient, cast: Cast, app: FastAPI
) -> None:
    await add_project(app, cast["stranger"], "Public", is_public=True)
    mine = await add_project(app, cast["direct_share"], "Mine")
    response = await client.get(f"{PROJECTS}/user/me", headers=cast["direct_share"].headers)
    body = response.json()
    assert [project["id"] for project in body["projects"]] == [mine.id]
    assert body["pagination"] == {"total": 1, "limit": 1, "offset": 0}


async def test_an_update_changes_only_the_fields_given(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await analyst(app)
    created = (await create(client, owner, description="Old")).json()["project"]
    url = f"{PROJECTS}/{created['id']}"
    response = await client.put(url, json={"project_state": {"zoom": 9}}, headers=owner.headers)
    assert response.status_code == 200
    project = response.json()["project"]
    assert (project["name"], project["description"], project["project_state"]) == (
        "Heron",
        "Old",
        {"zoom": 9},
    )
    assert datetime.fromisoformat(project["updated_at"]) > datetime.fromisoformat(created["updated_at"])
    project = (
        await client.put(url, json={"name": "Lizard", "description": None}, headers=owner.headers)
    ).json()["project"]
    assert (project["name"], project["description"], project["project_state"]) == (
        "Lizard",
        None,
        {"zoom": 9},
    )


async def test_renaming_onto_another_of_the_owners_projects_is_400(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await analyst(app)
    await create(client, owner, name="Taken")
    project = (await create(client, owner, name="Mine")).json()["project"]
    url = f"{PROJECTS}/{project['id']}"
    response = await client.put(url, json={"name": "Taken"}, headers=owner.headers)
    assert response.status_code == 400
    assert (await client.put(url, json={"name": "Mine"}, headers=owner.headers)).status_code == 200


async def test_an_admin_may_update_and_delete_anyones_project(client: httpx.AsyncClient, cast: Cast) -> None:
    url = f"{PROJECTS}/{cast.project_id}"
    admin = cast["admin"].headers
    response = await client.put(url, json={"name": "Moderated"}, headers=admin)
    assert response.json()["project"]["name"] == "Moderated"
    assert response.json()["project"]["user_id"] == cast["owner"].id
    assert (await client.delete(url, headers=admin)).json() == {"message": "Project deleted successfully"}
    assert (await client.get(url, headers=cast["owner"].headers)).status_code == 404


async def test_deleting_a_project_deletes_its_polygons_notes_and_shares(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    polygon = Polygon(
        user_id=owner.id, project_id=cast.project_id, polygon={"type": "Polygon", "coordinates": []}
    )
    elsewhere = Polygon(user_id=owner.id, project_id=None, polygon={"type": "Polygon", "coordinates": []})
    await add_rows(app, polygon, elsewhere)
    await add_rows(app, PolygonNote(content="Deep", user_id=owner.id, polygon_id=polygon.id))
    response = await client.delete(f"{PROJECTS}/{cast.project_id}", headers=owner.headers)
    assert response.status_code == 200
    assert await count(app, Project, id=cast.project_id) == 0
    assert await count(app, Polygon, project_id=cast.project_id) == 0
    assert await count(app, PolygonNote, polygon_id=polygon.id) == 0
    assert await count(app, ProjectUserShare, project_id=cast.project_id) == 0
    assert await count(app, Polygon, id=elsewhere.id) == 1


async def test_bulk_creates_projects_for_a_user_and_lists_the_names_it_could_not_use(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    [admin] = await add_users(app, 1, [Role.ADMIN.value])
    owner = await analyst(app)
    await add_project(app, owner, "Existing")
    projects = [
        {"name": name, "type": "ADRIA_ANALYSIS", "project_state": {"n": n}}
        for n, name in enumerate(["One", "Existing", "Two", "One"])
    ]
    response = await client.post(
        f"{PROJECTS}/bulk",
        json={"projects": projects, "userId": owner.id},
        headers=as_caller(app, admin).headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert [(project["name"], project["user_id"]) for project in body["created"]] == [
        ("One", owner.id),
        ("Two", owner.id),
    ]
    assert body["created"][0]["user"]["id"] == owner.id
    assert body["errors"] == [
        {"name": "Existing", "error": 'Project with name "Existing" already exists for this user'},
        {"name": "One", "error": 'Project with name "One" already exists for this user'},
    ]
    assert body["summary"] == {"totalRequested": 4, "totalCreated": 2, "totalErrors": 2}
    mine = (await client.get(f"{PROJECTS}/user/me", headers=owner.headers)).json()["projects"]
    assert sorted(project["name"] for project in mine) == ["Existing", "One", "Two"]


async def test_bulk_for_an_unknown_user_is_400(client: httpx.AsyncClient, app: FastAPI) -> None:
    [admin] = await add_users(app, 1, [Role.ADMIN.value])
    body = {"projects": [{"name": "x", "type": "SITE_SELECTION", "project_state": {}}], "userId": 999999}
    response = await client.post(f"{PROJECTS}/bulk", json=body, headers=as_caller(app, admin).headers)
    assert response.status_code == 400
    assert response.json() == {"message": "User with ID 999999 not found"}
