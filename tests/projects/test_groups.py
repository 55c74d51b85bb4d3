"""Groups: create, list, read, update, delete, members, managers, ownership, audit rows."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reefguide.projects.models import GroupMember, ProjectGroupShare
from tests.projects.helpers import Cast, add_group, analyst, audit_rows, count, project_status

GROUPS = "/api/groups"


async def test_a_created_group_has_its_owner_and_no_one_else(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await analyst(app)
    response = await client.post(
        GROUPS, json={"name": " Divers ", "description": "Field"}, headers=owner.headers
    )
    assert response.status_code == 201
    group = response.json()["group"]
    assert group == {
        "id": group["id"],
        "name": "Divers",
        "description": "Field",
        "created_at": group["created_at"],
        "updated_at": group["updated_at"],
        "owner_id": owner.id,
        "owner": {"id": owner.id, "email": owner.email},
        "managers": [],
        "members": [],
    }
    [row] = await audit_rows(app, "CREATE_GROUP")
    assert (row.user_id, row.metadata_) == (owner.id, {"groupId": group["id"], "groupName": "Divers"})


async def test_a_group_carries_its_managers_and_members(client: httpx.AsyncClient, cast: Cast) -> None:
    group = (await client.get(f"{GROUPS}/{cast.group_id}", headers=cast["group_member"].headers)).json()[
        "group"
    ]
    manager = cast["group_manager"]
    assert [(row["user_id"], row["user"]) for row in group["managers"]] == [
        (manager.id, {"id": manager.id, "email": manager.email})
    ]
    assert [row["user_id"] for row in group["members"]] == [cast["group_member"].id, cast["default_role"].id]
    assert all(row["group_id"] == cast.group_id for row in group["members"] + group["managers"])


async def test_the_list_filters_by_name_and_pages(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await analyst(app)
    for name in ("Alpha reef", "Beta", "alpha lagoon"):
        await add_group(app, owner, name)
    response = await client.get(GROUPS, params={"name": "ALPHA"}, headers=owner.headers)
    assert sorted(group["name"] for group in response.json()["groups"]) == ["Alpha reef", "alpha lagoon"]
    page = (await client.get(GROUPS, params={"limit": 1, "offset": 1}, headers=owner.headers)).json()
    assert len(page["groups"]) == 1
    assert page["pagination"] == {"total": 3, "limit": 1, "offset": 1}


async def test_an_admin_lists_every_group(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    others = await add_group(app, cast["stranger"])
    ids = {
        group["id"] for group in (await client.get(GROUPS, headers=cast["admin"].headers)).json()["groups"]
    }
    assert {cast.group_id, cast.spare_group_id, others.id} <= ids


async def test_a_manager_may_rename_the_group_and_it_is_audited(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{GROUPS}/{cast.group_id}"
    response = await client.put(url, json={"description": None}, headers=cast["group_manager"].headers)
    assert (response.json()["group"]["name"], response.json()["group"]["description"]) == ("Reef team", None)
    response = await client.put(url, json={"name": "Renamed"}, headers=cast["group_manager"].headers)
    assert response.json()["group"]["name"] == "Renamed"
    rows = await audit_rows(app, "UPDATE_GROUP")
    assert [(row.user_id, row.metadata_["after"]) for row in rows if row.metadata_] == [
        (cast["group_manager"].id, {"name": "Reef team", "description": None}),
        (cast["group_manager"].id, {"name": "Renamed", "description": None}),
    ]


async def test_a_manager_may_add_members_but_not_managers(client: httpx.AsyncClient, cast: Cast) -> None:
    manager = cast["group_manager"].headers
    body = {"userIds": [cast.bystander.id]}
    assert (
        await client.post(f"{GROUPS}/{cast.group_id}/members", json=body, headers=manager)
    ).status_code == 200
    response = await client.post(f"{GROUPS}/{cast.group_id}/managers", json=body, headers=manager)
    assert response.status_code == 403
    assert response.json() == {"message": "You may not change this group"}
    response = await client.request(
        "DELETE",
        f"{GROUPS}/{cast.group_id}/managers",
        json={"userIds": [cast["group_manager"].id]},
        headers=manager,
    )
    assert response.status_code == 403


async def test_adding_and_removing_members_reports_each_one(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{GROUPS}/{cast.group_id}/members"
    member, bystander = cast["group_member"], cast.bystander
    response = await client.post(
        url, json={"userIds": [bystander.id, member.id, 999999]}, headers=cast["owner"].headers
    )
    assert response.json() == {
        "message": "Member addition completed",
        "added": [{"userId": bystander.id, "userEmail": bystander.email}],
        "alreadyMembers": [{"userId": member.id, "userEmail": member.email}],
        "errors": [{"userId": 999999, "error": "User not found"}],
    }
    # A new member reads the projects shared with the group.
    assert await project_status(client, bystander, cast.project_id) == 200
    stranger = cast["stranger"]
    response = await client.request(
        "DELETE", url, json={"userIds": [bystander.id, stranger.id, 999999]}, headers=cast["owner"].headers
    )
    assert response.json() == {
        "message": "Member removal completed",
        "removed": [{"userId": bystander.id, "userEmail": bystander.email}],
        "notMembers": [{"userId": stranger.id, "userEmail": stranger.email}],
        "errors": [{"userId": 999999, "error": "User not found"}],
    }
    assert await project_status(client, bystander, cast.project_id) == 404
    group = {"groupId": cast.group_id, "groupName": "Reef team"}
    assert [row.metadata_ for row in await audit_rows(app, "ADD_GROUP_MEMBER")] == [
        {**group, "userIds": [bystander.id]}
    ]
    assert [row.metadata_ for row in await audit_rows(app, "REMOVE_GROUP_MEMBER")] == [
        {**group, "userIds": [bystander.id]}
    ]


async def test_adding_and_removing_managers_reports_each_one(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{GROUPS}/{cast.group_id}/managers"
    manager, bystander = cast["group_manager"], cast.bystander
    response = await client.post(
        url, json={"userIds": [bystander.id, manager.id]}, headers=cast["owner"].headers
    )
    assert response.json() == {
        "message": "Manager addition completed",
        "added": [{"userId": bystander.id, "userEmail": bystander.email}],
        "alreadyManagers": [{"userId": manager.id, "userEmail": manager.email}],
        "errors": [],
    }
    # The new manager may now manage members.
    add = await client.post(
        f"{GROUPS}/{cast.group_id}/members",
        json={"userIds": [cast["stranger"].id]},
        headers=bystander.headers,
    )
    assert add.status_code == 200
    response = await client.request(
        "DELETE", url, json={"userIds": [manager.id, cast["stranger"].id]}, headers=cast["admin"].headers
    )
    assert response.json() == {
        "message": "Manager removal completed",
        "removed": [{"userId": manager.id, "userEmail": manager.email}],
        "notManagers": [{"userId": cast["stranger"].id, "userEmail": cast["stranger"].email}],
        "errors": [],
    }
    assert (await client.get(f"{GROUPS}/{cast.group_id}", headers=manager.headers)).status_code == 404
    [added] = await audit_rows(app, "ADD_GROUP_MANAGER")
    [removed] = await audit_rows(app, "REMOVE_GROUP_MANAGER")
    assert (added.user_id, removed.user_id) == (cast["owner"].id, cast["admin"].id)
    assert removed.metadata_ == {"groupId": cast.group_id, "groupName": "Reef team", "userIds": [manager.id]}


async def test_transferring_ownership_hands_the_group_over(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    url = f"{GROUPS}/{cast.group_id}"
    owner, heir = cast["owner"], cast["group_member"]
    response = await client.post(
        f"{url}/transfer-ownership", json={"newOwnerId": heir.id}, headers=owner.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Group ownership transferred successfully"
    assert (body["group"]["owner_id"], body["group"]["owner"]["id"]) == (heir.id, heir.id)
    # The previous owner had no other role in the group: it is no longer theirs to see.
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    assert (
        await client.post(f"{url}/managers", json={"userIds": [owner.id]}, headers=heir.headers)
    ).status_code == 200
    [row] = await audit_rows(app, "TRANSFER_GROUP_OWNERSHIP")
    assert (row.user_id, row.metadata_) == (
        owner.id,
        {"groupId": cast.group_id, "groupName": "Reef team", "fromUserId": owner.id, "toUserId": heir.id},
    )
    assert (await client.delete(url, headers=heir.headers)).status_code == 200


async def test_transferring_to_an_unknown_user_is_400(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.post(
        f"{GROUPS}/{cast.group_id}/transfer-ownership",
        json={"newOwnerId": 999999},
        headers=cast["owner"].headers,
    )
    assert response.status_code == 400
    assert response.json() == {"message": "User with ID 999999 not found"}


async def test_deleting_a_group_removes_its_memberships_and_project_shares(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    response = await client.delete(f"{GROUPS}/{cast.group_id}", headers=cast["owner"].headers)
    assert response.json() == {"message": "Group deleted successfully"}
    assert await count(app, GroupMember, group_id=cast.group_id) == 0
    assert await count(app, ProjectGroupShare, group_id=cast.group_id) == 0
    assert await project_status(client, cast["group_member"], cast.project_id) == 404
    assert await project_status(client, cast["direct_share"], cast.project_id) == 200
    [row] = await audit_rows(app, "DELETE_GROUP")
    assert (row.user_id, row.metadata_) == (
        cast["owner"].id,
        {"groupId": cast.group_id, "groupName": "Reef team"},
    )


async def test_my_groups_are_those_i_own_manage_or_belong_to(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    mine = await add_group(app, cast["group_manager"], "Manager's own")
    response = await client.get(f"{GROUPS}/user/me", headers=cast["group_manager"].headers)
    body = response.json()
    assert sorted(group["id"] for group in body["groups"]) == sorted([cast.group_id, mine.id])
    assert body["pagination"] == {"total": 2, "limit": 2, "offset": 0}
