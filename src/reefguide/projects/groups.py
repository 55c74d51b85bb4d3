"""Groups of users: create, list, read, update, delete, members, managers, ownership.
Knows nothing of HTTP.

Who may do what is decided by `access`: read (owner, managers, members, admin),
manage (name, description, members: owner, managers, admin), own (delete,
managers, transfer: owner, admin). Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import BadRequest
from reefguide.projects import access
from reefguide.projects.models import Group, GroupManager, GroupMember
from reefguide.projects.service import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    UNCHANGED,
    Outcome,
    Person,
    Unchanged,
    people,
    unique,
)
from reefguide.users import audit
from reefguide.users.models import User, UserAction

USER_NOT_FOUND = "User not found"

Role = TypeVar("Role", GroupMember, GroupManager)


@dataclass(frozen=True)
class GroupDetails:
    group: Group
    owner: Person
    managers: list[tuple[GroupManager, Person]]
    members: list[tuple[GroupMember, Person]]


async def _roles(
    session: AsyncSession, model: type[Role], group_ids: list[int]
) -> dict[int, list[tuple[Role, Person]]]:
    by_group: dict[int, list[tuple[Role, Person]]] = {}
    rows = await session.execute(
        select(model, User.id, User.email)
        .join(User, User.id == model.user_id)
        .where(model.group_id.in_(group_ids))
        .order_by(model.id)
    )
    for row, user_id, email in rows:
        by_group.setdefault(row.group_id, []).append((row, Person(user_id, email)))
    return by_group


async def describe(session: AsyncSession, groups: Sequence[Group]) -> list[GroupDetails]:
    """Each group with its owner, managers and members: three statements for any number of groups."""
    if not groups:
        return []
    ids = [group.id for group in groups]
    owners = await people(session, {group.owner_id for group in groups})
    managers = await _roles(session, GroupManager, ids)
    members = await _roles(session, GroupMember, ids)
    return [
        GroupDetails(group, owners[group.owner_id], managers.get(group.id, []), members.get(group.id, []))
        for group in groups
    ]


async def describe_one(session: AsyncSession, group: Group) -> GroupDetails:
    return (await describe(session, [group]))[0]


# Reading.


async def _load(
    session: AsyncSession, user: User, group_id: int, changeable: ColumnElement[bool] | None = None
) -> Group:
    return await access.load(
        session, Group, group_id, readable=access.group_readable(user), changeable=changeable, name="Group"
    )


async def get_readable(session: AsyncSession, user: User, group_id: int) -> Group:
    """404 unless the user may read the group."""
    return await _load(session, user, group_id)


@dataclass(frozen=True)
class GroupPage:
    groups: list[GroupDetails]
    total: int
    limit: int
    offset: int


async def list_readable(
    session: AsyncSession,
    user: User,
    *,
    name: str | None = None,
    limit: int = LIST_LIMIT_DEFAULT,
    offset: int = 0,
) -> GroupPage:
    """The groups the user may read (admin: all), most recently updated first,
    optionally with `name` in their name (any case). `limit` is clamped to 1–100."""
    limit = min(LIST_LIMIT_MAX, max(1, limit))
    offset = max(0, offset)
    conditions: list[ColumnElement[bool]] = [access.group_readable(user)]
    if name and name.strip():
        conditions.append(func.lower(Group.name).contains(name.strip().lower(), autoescape=True))
    total = await session.scalar(select(func.count()).select_from(Group).where(*conditions))
    groups = await session.scalars(
        select(Group)
        .where(*conditions)
        .order_by(Group.updated_at.desc(), Group.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return GroupPage(await describe(session, list(groups)), total or 0, limit, offset)


async def list_mine(session: AsyncSession, user: User) -> list[GroupDetails]:
    """The groups the user owns, manages or belongs to (for an admin too: their own)."""
    groups = await session.scalars(
        select(Group)
        .where(Group.id.in_(access.groups_of(user)))
        .order_by(Group.updated_at.desc(), Group.id.desc())
    )
    return await describe(session, list(groups))


# Creating and changing.


async def create(session: AsyncSession, owner: User, *, name: str, description: str | None) -> Group:
    group = Group(name=name, description=description or None, owner_id=owner.id)
    session.add(group)
    await session.flush()
    _record(session, UserAction.CREATE_GROUP, owner, group)
    await session.flush()
    return group


async def update(
    session: AsyncSession,
    user: User,
    group_id: int,
    *,
    name: str | None = None,
    description: str | Unchanged | None = UNCHANGED,
) -> Group:
    """Rename or describe a group: owner, managers and admin."""
    group = await _load(session, user, group_id, access.group_manageable(user))
    before = {"name": group.name, "description": group.description}
    if name is not None:
        group.name = name
    if description is not UNCHANGED:
        group.description = description or None
    after = {"name": group.name, "description": group.description}
    if after != before:
        _record(session, UserAction.UPDATE_GROUP, user, group, before=before, after=after)
    await session.flush()
    return group


async def delete_group(session: AsyncSession, user: User, group_id: int) -> None:
    """Delete a group: owner and admin. Its memberships and project shares go with it."""
    group = await _load(session, user, group_id, access.group_owned(user))
    _record(session, UserAction.DELETE_GROUP, user, group)
    await session.delete(group)
    await session.flush()


async def _add(
    session: AsyncSession, group: Group, model: type[Role], user_ids: Sequence[int]
) -> Outcome[Person]:
    ids = unique(user_ids)
    found = await people(session, ids)
    existing = set(
        await session.scalars(select(model.user_id).where(model.group_id == group.id, model.user_id.in_(ids)))
    )
    added = [user_id for user_id in ids if user_id in found and user_id not in existing]
    session.add_all(model(group_id=group.id, user_id=user_id) for user_id in added)
    return Outcome.of(ids, found, set(added), missing=USER_NOT_FOUND)


async def _remove(
    session: AsyncSession, group: Group, model: type[Role], user_ids: Sequence[int]
) -> Outcome[Person]:
    ids = unique(user_ids)
    found = await people(session, ids)
    removed = set(
        await session.scalars(
            delete(model).where(model.group_id == group.id, model.user_id.in_(ids)).returning(model.user_id)
        )
    )
    return Outcome.of(ids, found, removed, missing=USER_NOT_FOUND)


async def add_members(
    session: AsyncSession, user: User, group_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Owner, managers and admin. `done` added, `unchanged` already members."""
    group = await _load(session, user, group_id, access.group_manageable(user))
    outcome = await _add(session, group, GroupMember, user_ids)
    await _record_people(session, UserAction.ADD_GROUP_MEMBER, user, group, outcome)
    return outcome


async def remove_members(
    session: AsyncSession, user: User, group_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Owner, managers and admin. `done` removed, `unchanged` were not members."""
    group = await _load(session, user, group_id, access.group_manageable(user))
    outcome = await _remove(session, group, GroupMember, user_ids)
    await _record_people(session, UserAction.REMOVE_GROUP_MEMBER, user, group, outcome)
    return outcome


async def add_managers(
    session: AsyncSession, user: User, group_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Owner and admin. `done` added, `unchanged` already managers."""
    group = await _load(session, user, group_id, access.group_owned(user))
    outcome = await _add(session, group, GroupManager, user_ids)
    await _record_people(session, UserAction.ADD_GROUP_MANAGER, user, group, outcome)
    return outcome


async def remove_managers(
    session: AsyncSession, user: User, group_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Owner and admin. `done` removed, `unchanged` were not managers."""
    group = await _load(session, user, group_id, access.group_owned(user))
    outcome = await _remove(session, group, GroupManager, user_ids)
    await _record_people(session, UserAction.REMOVE_GROUP_MANAGER, user, group, outcome)
    return outcome


async def transfer_ownership(session: AsyncSession, user: User, group_id: int, new_owner_id: int) -> Group:
    """Give the group to another user: owner and admin. The previous owner keeps no
    role in it unless they are also a manager or member (as the original).
    400 if the new owner does not exist."""
    group = await _load(session, user, group_id, access.group_owned(user))
    if not await people(session, [new_owner_id]):
        raise BadRequest(f"User with ID {new_owner_id} not found")
    previous = group.owner_id
    if new_owner_id != previous:
        group.owner_id = new_owner_id
        _record(
            session,
            UserAction.TRANSFER_GROUP_OWNERSHIP,
            user,
            group,
            fromUserId=previous,
            toUserId=new_owner_id,
        )
    await session.flush()
    return group


def _record(session: AsyncSession, action: UserAction, by: User, group: Group, **details: object) -> None:
    audit.record(session, action, by, {"groupId": group.id, "groupName": group.name, **details})


async def _record_people(
    session: AsyncSession, action: UserAction, by: User, group: Group, outcome: Outcome[Person]
) -> None:
    if outcome.done:
        _record(session, action, by, group, userIds=[person.id for person in outcome.done])
    await session.flush()
