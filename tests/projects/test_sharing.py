"""Sharing a project with users and groups, unsharing, publicity, and their audit rows."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.projects.helpers import Cast, add_group, analyst, audit_rows, project_status

PROJECTS = "/api/projects"


async def test_sharing_with_users_reports_each_one(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    newcomer = await analyst(app)
    url = f"{PROJECTS}/{cast.project_id}/share/users"
    user_ids = [newcomer.id, cast["direct_share"].id, 999999, cast["owner"].id, newcomer.id]
    response = await client.post(url, json={"userIds": user_ids}, headers=cast["owner"].headers)
    assert response.status_code == 200
    assert response.json() == {
        "message": "Project sharing completed",
        "shared": [{"userId": newcomer.id, "userEmail": newcomer.email}],
        "alreadyShared": [{"userId": cast["direct_share"].id, "userEmail": cast["direct_share"].email}],
        "errors": [
            {"userId": 999999, "error": "User not found"},
            {"userId": cast["owner"].id, "error": "User owns this project"},
        ],
    }


async def test_a_user_shared_a_project_may_read_it_but_not_change_it(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    newcomer = await analyst(app)
    assert await project_status(client, newcomer, cast.project_id) == 404
    url = f"{PROJECTS}/{cast.project_id}/share/users"
    await client.post(url, json={"userIds": [newcomer.id]}, headers=cast["owner"].headers)
    assert await project_status(client, newcomer, cast.project_id) == 200
    update = await client.put(f"{PROJECTS}/{cast.project_id}", json={"name": "x"}, headers=newcomer.headers)
    assert update.status_code == 403
    reshare = await client.post(url, json={"userIds": [cast["stranger"].id]}, headers=newcomer.headers)
    assert reshare.status_code == 403


async def test_unsharing_with_users_reports_each_one_and_takes_access_away(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    url = f"{PROJECTS}/{cast.project_id}/share/users"
    direct, stranger = cast["direct_share"], cast["stranger"]
    response = await client.request(
        "DELETE", url, json={"userIds": [direct.id, stranger.id, 999999]}, headers=cast["owner"].headers
    )
    assert response.status_code == 200
    assert response.json() == {
        "message": "Project unsharing completed",
        "unshared": [{"userId": direct.id, "userEmail": direct.email}],
        "notShared": [{"userId": stranger.id, "userEmail": stranger.email}],
        "errors": [{"userId": 999999, "error": "User not found"}],
    }
    assert await project_status(client, direct, cast.project_id) == 404


async def test_sharing_with_groups_names_only_groups_the_caller_may_read(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    others = await add_group(app, cast["stranger"], "Not yours")
    url = f"{PROJECTS}/{cast.project_id}/share/groups"
    group_ids = [cast.spare_group_id, cast.group_id, others.id, 999999]
    response = await client.post(url, json={"groupIds": group_ids}, headers=cast["owner"].headers)
    assert response.status_code == 200
    assert response.json() == {
        "message": "Project sharing completed",
        "shared": [{"groupId": cast.spare_group_id, "groupName": "Spare team"}],
        "alreadyShared": [{"groupId": cast.group_id, "groupName": "Reef team"}],
        "errors": [
            {"groupId": others.id, "error": "Group not found"},
            {"groupId": 999999, "error": "Group not found"},
        ],
    }


async def test_an_admin_may_share_with_any_group(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    others = await add_group(app, cast["stranger"], "Stranger's")
    url = f"{PROJECTS}/{cast.project_id}/share/groups"
    response = await client.post(url, json={"groupIds": [others.id]}, headers=cast["admin"].headers)
    assert response.json()["shared"] == [{"groupId": others.id, "groupName": "Stranger's"}]
    # The stranger owns that group, so now reads the project.
    assert await project_status(client, cast["stranger"], cast.project_id) == 200


async def test_unsharing_with_groups_takes_their_members_access_away(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    others = await add_group(app, cast["stranger"], "Stranger's")
    url = f"{PROJECTS}/{cast.project_id}/share/groups"
    await client.post(url, json={"groupIds": [others.id]}, headers=cast["admin"].headers)
    # The owner cannot read the stranger's group, but may still take back a share made to it.
    group_ids = [cast.group_id, cast.spare_group_id, others.id, 999999]
    response = await client.request(
        "DELETE", url, json={"groupIds": group_ids}, headers=cast["owner"].headers
    )
    assert response.status_code == 200
    assert response.json() == {
        "message": "Project unsharing completed",
        "unshared": [
            {"groupId": cast.group_id, "groupName": "Reef team"},
            {"groupId": others.id, "groupName": "Stranger's"},
        ],
        "notShared": [{"groupId": cast.spare_group_id, "groupName": "Spare team"}],
        "errors": [{"groupId": 999999, "error": "Group not found"}],
    }
    assert await project_status(client, cast["group_member"], cast.project_id) == 404
    assert await project_status(client, cast["group_manager"], cast.project_id) == 404
    assert await project_status(client, cast["stranger"], cast.project_id) == 404


async def test_a_public_project_is_readable_by_strangers_but_still_not_writable(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    url = f"{PROJECTS}/{cast.project_id}"
    stranger = cast["stranger"].headers
    response = await client.put(f"{url}/publicity", json={"isPublic": True}, headers=cast["owner"].headers)
    assert response.status_code == 200
    assert response.json() == {
        "message": "Project made public successfully",
        "project": {"id": cast.project_id, "name": "Heron reef", "isPublic": True},
    }
    assert (await client.get(url, headers=stranger)).status_code == 200
    listed = (await client.get(PROJECTS, headers=stranger)).json()["projects"]
    assert [project["id"] for project in listed] == [cast.project_id]
    assert (await client.put(url, json={"name": "Mine now"}, headers=stranger)).status_code == 403
    assert (await client.delete(url, headers=stranger)).status_code == 403
    assert (
        await client.put(f"{url}/publicity", json={"isPublic": False}, headers=stranger)
    ).status_code == 403
    share = await client.post(f"{url}/share/users", json={"userIds": [cast["stranger"].id]}, headers=stranger)
    assert share.status_code == 403

    response = await client.put(f"{url}/publicity", json={"isPublic": False}, headers=cast["owner"].headers)
    assert response.json()["message"] == "Project made private successfully"
    assert (await client.get(url, headers=stranger)).status_code == 404


async def test_sharing_changes_are_written_to_the_audit_log(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{PROJECTS}/{cast.project_id}"
    owner = cast["owner"]
    bystander = cast.bystander.id
    await client.post(f"{url}/share/users", json={"userIds": [bystander]}, headers=owner.headers)
    await client.post(f"{url}/share/groups", json={"groupIds": [cast.spare_group_id]}, headers=owner.headers)
    await client.request("DELETE", f"{url}/share/users", json={"userIds": [bystander]}, headers=owner.headers)
    await client.request(
        "DELETE", f"{url}/share/groups", json={"groupIds": [cast.group_id]}, headers=owner.headers
    )
    await client.put(f"{url}/publicity", json={"isPublic": True}, headers=cast["admin"].headers)

    project = {"projectId": cast.project_id, "projectName": "Heron reef"}
    shares = await audit_rows(app, "SHARE_PROJECT")
    assert [(row.user_id, row.metadata_) for row in shares] == [
        (owner.id, {**project, "userIds": [bystander]}),
        (owner.id, {**project, "groupIds": [cast.spare_group_id]}),
    ]
    unshares = await audit_rows(app, "UNSHARE_PROJECT")
    assert [(row.user_id, row.metadata_) for row in unshares] == [
        (owner.id, {**project, "userIds": [bystander]}),
        (owner.id, {**project, "groupIds": [cast.group_id]}),
    ]
    [publicity] = await audit_rows(app, "UPDATE_PROJECT_SHARING")
    assert (publicity.user_id, publicity.metadata_) == (cast["admin"].id, {**project, "isPublic": True})


async def test_a_share_that_changes_nothing_writes_no_audit_row(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{PROJECTS}/{cast.project_id}"
    owner = cast["owner"].headers
    await client.post(
        f"{url}/share/users", json={"userIds": [cast["direct_share"].id, 999999]}, headers=owner
    )
    await client.request("DELETE", f"{url}/share/users", json={"userIds": [cast.bystander.id]}, headers=owner)
    await client.put(f"{url}/publicity", json={"isPublic": False}, headers=owner)
    for action in ("SHARE_PROJECT", "UNSHARE_PROJECT", "UPDATE_PROJECT_SHARING"):
        assert await audit_rows(app, action) == [], action


async def test_share_lists_must_name_someone(client: httpx.AsyncClient, cast: Cast) -> None:
    url = f"{PROJECTS}/{cast.project_id}/share/users"
    for body in ({"userIds": []}, {"userIds": [0]}, {"userIds": [2**40]}, {}):
        response = await client.post(url, json=body, headers=cast["owner"].headers)
        assert response.status_code == 400, body
