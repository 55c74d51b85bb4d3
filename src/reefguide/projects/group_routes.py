"""HTTP routes of /api/groups: groups, members, managers, ownership.

Every route needs ANALYST (or ADMIN). A group the caller may not read (they are
not its owner, a manager or a member) answers 404; one they may read but not
change answers 403. Name, description and members: owner, managers, admins.
Deletion, managers and ownership: owner and admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from reefguide.auth.dependencies import AnalystUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.projects import groups, service
from reefguide.projects.schemas import (
    AddManagersOut,
    AddMembersOut,
    CreateGroupIn,
    GroupEnvelope,
    GroupListOut,
    GroupOut,
    OffsetPageOut,
    RemoveManagersOut,
    RemoveMembersOut,
    TransferOwnershipIn,
    TransferOwnershipOut,
    UpdateGroupIn,
    UserIdsIn,
    UserResultOut,
    user_errors,
)
from reefguide.schemas import Message

router = ApiRouter(prefix="/groups", tags=["groups"])

NOT_READABLE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such group, or one the caller is not part of"}
}
NOT_CHANGEABLE: dict[int | str, dict[str, Any]] = {
    **NOT_READABLE,
    403: {"description": "Without the ANALYST role, or the caller may read the group but not change it"},
}

# /user/me is declared before /{group_id}, which would otherwise claim it.


@router.post("", status_code=201)
async def create_group(body: CreateGroupIn, session: SessionDep, user: AnalystUser) -> GroupEnvelope:
    """Create a group owned by the caller."""
    group = await groups.create(session, user, name=body.name, description=body.description)
    return GroupEnvelope(group=GroupOut.of(await groups.describe_one(session, group)))


@router.get("")
async def list_groups(
    session: SessionDep,
    user: AnalystUser,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name, any case")] = None,
    limit: Annotated[int, Query(description="Clamped to 1–100")] = service.LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> GroupListOut:
    """The groups the caller owns, manages or belongs to (admins: all), most
    recently updated first, each with its owner, managers and members."""
    page = await groups.list_readable(session, user, name=name, limit=limit, offset=offset)
    return GroupListOut(
        groups=[GroupOut.of(details) for details in page.groups],
        pagination=OffsetPageOut(total=page.total, limit=page.limit, offset=page.offset),
    )


@router.get("/user/me")
async def list_my_groups(session: SessionDep, user: AnalystUser) -> GroupListOut:
    """The groups the caller owns, manages or belongs to (for admins too)."""
    mine = await groups.list_mine(session, user)
    return GroupListOut(
        groups=[GroupOut.of(details) for details in mine],
        pagination=OffsetPageOut(total=len(mine), limit=len(mine), offset=0),
    )


@router.get("/{group_id}", responses=NOT_READABLE)
async def get_group(group_id: int, session: SessionDep, user: AnalystUser) -> GroupEnvelope:
    """A group the caller owns, manages or belongs to (admins: any)."""
    group = await groups.get_readable(session, user, group_id)
    return GroupEnvelope(group=GroupOut.of(await groups.describe_one(session, group)))


@router.put("/{group_id}", responses=NOT_CHANGEABLE)
async def update_group(
    group_id: int, body: UpdateGroupIn, session: SessionDep, user: AnalystUser
) -> GroupEnvelope:
    """Rename or describe a group: owner, managers and admins. Fields left out are
    kept; `description: null` clears it."""
    group = await groups.update(
        session,
        user,
        group_id,
        name=body.name,
        description=body.description if "description" in body.model_fields_set else service.UNCHANGED,
    )
    return GroupEnvelope(group=GroupOut.of(await groups.describe_one(session, group)))


@router.delete("/{group_id}", responses=NOT_CHANGEABLE)
async def delete_group(group_id: int, session: SessionDep, user: AnalystUser) -> Message:
    """Delete a group, its memberships and the project shares made to it: owner and admins."""
    await groups.delete_group(session, user, group_id)
    return Message(message="Group deleted successfully")


@router.post("/{group_id}/members", responses=NOT_CHANGEABLE)
async def add_members(
    group_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> AddMembersOut:
    """Add members: owner, managers and admins. Unknown users are listed in `errors`."""
    outcome = await groups.add_members(session, user, group_id, body.user_ids)
    return AddMembersOut(
        message="Member addition completed",
        added=[UserResultOut.of(person) for person in outcome.done],
        already_members=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.delete("/{group_id}/members", responses=NOT_CHANGEABLE)
async def remove_members(
    group_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> RemoveMembersOut:
    """Remove members: owner, managers and admins. Unknown users are listed in `errors`."""
    outcome = await groups.remove_members(session, user, group_id, body.user_ids)
    return RemoveMembersOut(
        message="Member removal completed",
        removed=[UserResultOut.of(person) for person in outcome.done],
        not_members=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.post("/{group_id}/managers", responses=NOT_CHANGEABLE)
async def add_managers(
    group_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> AddManagersOut:
    """Add managers: owner and admins. Unknown users are listed in `errors`."""
    outcome = await groups.add_managers(session, user, group_id, body.user_ids)
    return AddManagersOut(
        message="Manager addition completed",
        added=[UserResultOut.of(person) for person in outcome.done],
        already_managers=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.delete("/{group_id}/managers", responses=NOT_CHANGEABLE)
async def remove_managers(
    group_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> RemoveManagersOut:
    """Remove managers: owner and admins. Unknown users are listed in `errors`."""
    outcome = await groups.remove_managers(session, user, group_id, body.user_ids)
    return RemoveManagersOut(
        message="Manager removal completed",
        removed=[UserResultOut.of(person) for person in outcome.done],
        not_managers=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.post("/{group_id}/transfer-ownership", responses=NOT_CHANGEABLE)
async def transfer_ownership(
    group_id: int, body: TransferOwnershipIn, session: SessionDep, user: AnalystUser
) -> TransferOwnershipOut:
    """Give the group to another user: owner and admins. The previous owner keeps no
    role in the group unless they are also a manager or member. 400 if the new
    owner does not exist."""
    group = await groups.transfer_ownership(session, user, group_id, body.new_owner_id)
    return TransferOwnershipOut(
        message="Group ownership transferred successfully",
        group=GroupOut.of(await groups.describe_one(session, group)),
    )
