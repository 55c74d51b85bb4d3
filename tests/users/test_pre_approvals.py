"""/api/auth/admin/pre-approved-users: create, read, list, update, delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.factories import make_user
from tests.users.helpers import PRE_APPROVALS as PRE
from tests.users.helpers import Caller, caller, mark_used, pre_approve

FIELDS = {"id", "email", "roles", "created_at", "updated_at", "created_by_user_id", "used", "used_at"}


async def test_creating_a_pre_approval_answers_201_with_the_originals_field_names(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        PRE, json={"email": "new@reef.org", "roles": ["ANALYST", "ADMIN"]}, headers=admin.headers
    )
    assert response.status_code == 201
    approval = response.json()["preApprovedUser"]
    assert set(approval) == FIELDS
    assert approval["email"] == "new@reef.org"
    assert approval["roles"] == ["ADMIN", "ANALYST"]
    assert approval["created_by_user_id"] == admin.user.id
    assert approval["used"] is False
    assert approval["used_at"] is None


async def test_creating_a_pre_approval_normalises_the_email(client: httpx.AsyncClient, admin: Caller) -> None:
    approval = await pre_approve(client, admin, "  New.Person@Reef.ORG ")
    assert approval["email"] == "new.person@reef.org"


async def test_pre_approving_an_email_twice_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    await pre_approve(client, admin, "twice@reef.org")
    response = await client.post(
        PRE, json={"email": "TWICE@reef.org", "roles": ["ANALYST"]}, headers=admin.headers
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Pre-approval already exists for email: twice@reef.org"}


async def test_pre_approving_a_registered_email_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    user = await make_user(app)
    response = await client.post(PRE, json={"email": user.email, "roles": ["ANALYST"]}, headers=admin.headers)
    assert response.status_code == 400
    assert response.json() == {"message": f"User already registered with email: {user.email}"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "none@reef.org", "roles": []}, "roles"),
        ({"email": "none@reef.org"}, "roles"),
        ({"email": "none@reef.org", "roles": ["KING"]}, "roles.0"),
        ({"email": "not-an-email", "roles": ["ANALYST"]}, "email"),
    ],
    ids=["no-roles", "missing-roles", "unknown-role", "bad-email"],
)
async def test_creating_a_pre_approval_with_bad_input_is_400(
    client: httpx.AsyncClient, admin: Caller, body: dict[str, Any], field: str
) -> None:
    response = await client.post(PRE, json=body, headers=admin.headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_getting_a_pre_approval_returns_it(client: httpx.AsyncClient, admin: Caller) -> None:
    approval = await pre_approve(client, admin, "get@reef.org")
    response = await client.get(f"{PRE}/{approval['id']}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"preApprovedUser": approval}


async def test_getting_an_unknown_pre_approval_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.get(f"{PRE}/999999", headers=admin.headers)
    assert response.status_code == 404
    assert response.json() == {"message": "Pre-approved user with ID 999999 not found"}


async def test_listing_pre_approvals_is_newest_first_with_pagination(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for name in ("first", "second", "third"):
        await pre_approve(client, admin, f"{name}@reef.org")
    response = await client.get(PRE, headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert [a["email"] for a in body["preApprovedUsers"]] == [
        "third@reef.org",
        "second@reef.org",
        "first@reef.org",
    ]
    assert body["pagination"] == {"total": 3, "limit": 50, "offset": 0}


async def test_listing_pre_approvals_pages_with_limit_and_offset(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for n in range(5):
        await pre_approve(client, admin, f"p{n}@reef.org")
    body = (await client.get(PRE, params={"limit": 2, "offset": 1}, headers=admin.headers)).json()
    assert [a["email"] for a in body["preApprovedUsers"]] == ["p3@reef.org", "p2@reef.org"]
    assert body["pagination"] == {"total": 5, "limit": 2, "offset": 1}


async def test_listing_pre_approvals_clamps_the_limit_to_100(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    body = (await client.get(PRE, params={"limit": 1000}, headers=admin.headers)).json()
    assert body["pagination"]["limit"] == 100


async def test_listing_pre_approvals_with_a_negative_offset_is_400(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.get(PRE, params={"offset": -1}, headers=admin.headers)
    assert response.status_code == 400


async def test_listing_pre_approvals_filters_by_email_part_in_any_case(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await pre_approve(client, admin, "alice@reef.org")
    await pre_approve(client, admin, "bob@coral.org")
    body = (await client.get(PRE, params={"email": "REEF"}, headers=admin.headers)).json()
    assert [a["email"] for a in body["preApprovedUsers"]] == ["alice@reef.org"]
    assert body["pagination"]["total"] == 1


async def test_listing_pre_approvals_filters_by_used(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    used = await pre_approve(client, admin, "used@reef.org")
    await pre_approve(client, admin, "unused@reef.org")
    await mark_used(app, used["id"])
    used_only = (await client.get(PRE, params={"used": "true"}, headers=admin.headers)).json()
    unused_only = (await client.get(PRE, params={"used": "false"}, headers=admin.headers)).json()
    assert [a["email"] for a in used_only["preApprovedUsers"]] == ["used@reef.org"]
    assert [a["email"] for a in unused_only["preApprovedUsers"]] == ["unused@reef.org"]


async def test_listing_pre_approvals_filters_by_creator(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI
) -> None:
    other_admin = await caller(app, Role.ADMIN)
    await pre_approve(client, admin, "mine@reef.org")
    await pre_approve(client, other_admin, "theirs@reef.org")
    body = (await client.get(PRE, params={"createdByUserId": admin.user.id}, headers=admin.headers)).json()
    assert [a["email"] for a in body["preApprovedUsers"]] == ["mine@reef.org"]


async def test_listing_pre_approvals_ignores_a_json_body(client: httpx.AsyncClient, admin: Caller) -> None:
    # The original read the filters from the GET body; here only the query string counts.
    await pre_approve(client, admin, "alice@reef.org")
    response = await client.request("GET", PRE, json={"email": "nobody"}, headers=admin.headers)
    assert response.json()["pagination"]["total"] == 1


async def test_updating_a_pre_approval_changes_email_and_roles(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "old@reef.org")
    response = await client.put(
        f"{PRE}/{approval['id']}", json={"email": " New@Reef.org", "roles": ["ADMIN"]}, headers=admin.headers
    )
    assert response.status_code == 200
    updated = response.json()["preApprovedUser"]
    assert (updated["email"], updated["roles"]) == ("new@reef.org", ["ADMIN"])


async def test_updating_only_roles_keeps_the_email(client: httpx.AsyncClient, admin: Caller) -> None:
    approval = await pre_approve(client, admin, "keep@reef.org")
    response = await client.put(f"{PRE}/{approval['id']}", json={"roles": ["DEFAULT"]}, headers=admin.headers)
    assert response.json()["preApprovedUser"]["email"] == "keep@reef.org"
    assert response.json()["preApprovedUser"]["roles"] == ["DEFAULT"]


async def test_updating_a_pre_approval_to_its_own_email_is_not_a_conflict(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "same@reef.org")
    response = await client.put(
        f"{PRE}/{approval['id']}", json={"email": "same@reef.org", "roles": ["ADMIN"]}, headers=admin.headers
    )
    assert response.status_code == 200


async def test_updating_a_pre_approval_to_another_pre_approved_email_is_400(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "one@reef.org")
    await pre_approve(client, admin, "two@reef.org")
    response = await client.put(
        f"{PRE}/{approval['id']}", json={"email": "two@reef.org"}, headers=admin.headers
    )
    assert response.status_code == 400


async def test_updating_a_pre_approval_to_a_registered_email_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    user = await make_user(app)
    approval = await pre_approve(client, admin, "one@reef.org")
    response = await client.put(f"{PRE}/{approval['id']}", json={"email": user.email}, headers=admin.headers)
    assert response.status_code == 400


async def test_updating_a_used_pre_approval_is_400(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "used@reef.org")
    await mark_used(app, approval["id"])
    response = await client.put(f"{PRE}/{approval['id']}", json={"roles": ["ADMIN"]}, headers=admin.headers)
    assert response.status_code == 400
    assert response.json() == {"message": "Cannot update a pre-approval that has already been used"}


async def test_updating_with_empty_roles_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    approval = await pre_approve(client, admin, "empty@reef.org")
    response = await client.put(f"{PRE}/{approval['id']}", json={"roles": []}, headers=admin.headers)
    assert response.status_code == 400


async def test_updating_an_unknown_pre_approval_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.put(f"{PRE}/999999", json={"roles": ["ADMIN"]}, headers=admin.headers)
    assert response.status_code == 404


async def test_deleting_a_pre_approval_answers_with_a_message_and_it_is_gone(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    approval = await pre_approve(client, admin, "gone@reef.org")
    response = await client.delete(f"{PRE}/{approval['id']}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"message": f"Successfully deleted pre-approval with ID {approval['id']}"}
    assert (await client.get(f"{PRE}/{approval['id']}", headers=admin.headers)).status_code == 404


async def test_deleting_an_unknown_pre_approval_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.delete(f"{PRE}/999999", headers=admin.headers)
    assert response.status_code == 404
