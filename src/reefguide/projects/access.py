"""Who may read and who may change projects, groups, polygons and notes: the one place.

Each rule is a SQL condition built for a user, so list, get, update and delete
all filter with the same expression and a rule never has a second copy.

- Read a project: admin, owner, anyone it is shared with (directly, or through a
  group they own, manage or belong to), or everyone when it is public.
- Read a polygon: admin, owner, or anyone who may read its project.
- Read a note: admin, its author, or anyone who may read its polygon.
- Change (update, delete, share) any of them: owner and admin only.
- Read a group: admin, owner, managers, members. Change its name, description or
  members: owner, managers, admin. Delete it, change its managers or transfer it:
  owner and admin.

A caller who may not read a thing gets 404 (its existence is not revealed); one
who may read it but not change it gets 403. `load` applies that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CompoundSelect, Select, or_, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import Forbidden, NotFound
from reefguide.projects.models import (
    Group,
    GroupManager,
    GroupMember,
    Project,
    ProjectGroupShare,
    ProjectUserShare,
)
from reefguide.spatial.models import Polygon, PolygonNote
from reefguide.users.models import Role, User

M = TypeVar("M", Project, Group, Polygon, PolygonNote)
R = TypeVar("R")

# Callers whose conditions are kept: building one (a tree of subqueries) and
# computing its cache key cost more than the statements it filters.
CACHED_CALLERS = 4096


def per_caller(build: Callable[[User], R]) -> Callable[[User], R]:
    """Build each caller's condition once and reuse it. A condition depends only on
    the caller's id and whether they are an admin; SQLAlchemy expressions are
    immutable, and remember their cache keys, so a reused one is nearly free."""

    @functools.lru_cache(maxsize=CACHED_CALLERS)
    def cached(user_id: int, admin: bool) -> R:
        return build(_Caller(user_id, admin))  # type: ignore[arg-type]

    @functools.wraps(build)
    def condition(user: User) -> R:
        return cached(user.id, is_admin(user))

    return condition


class _Caller:
    """What a condition may know of its user."""

    def __init__(self, user_id: int, admin: bool) -> None:
        self.id = user_id
        self.roles = [Role.ADMIN] if admin else []


def is_admin(user: User) -> bool:
    return Role.ADMIN in user.roles


@per_caller
def groups_of(user: User) -> CompoundSelect[Any]:
    """Ids of the groups the user owns, manages or belongs to."""
    return union(
        select(Group.id).where(Group.owner_id == user.id),
        select(GroupManager.group_id).where(GroupManager.user_id == user.id),
        select(GroupMember.group_id).where(GroupMember.user_id == user.id),
    )


# Projects.


@per_caller
def project_readable(user: User) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    return or_(
        Project.user_id == user.id,
        Project.is_public.is_(True),
        Project.id.in_(select(ProjectUserShare.project_id).where(ProjectUserShare.user_id == user.id)),
        Project.id.in_(
            select(ProjectGroupShare.project_id).where(ProjectGroupShare.group_id.in_(groups_of(user)))
        ),
    )


@per_caller
def project_writable(user: User) -> ColumnElement[bool]:
    return true() if is_admin(user) else Project.user_id == user.id


@per_caller
def readable_project_ids(user: User) -> Select[Any]:
    return select(Project.id).where(project_readable(user))


# Polygons and notes.


@per_caller
def polygon_readable(user: User) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    return or_(Polygon.user_id == user.id, Polygon.project_id.in_(readable_project_ids(user)))


@per_caller
def polygon_writable(user: User) -> ColumnElement[bool]:
    return true() if is_admin(user) else Polygon.user_id == user.id


@per_caller
def note_readable(user: User) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    return or_(
        PolygonNote.user_id == user.id,
        PolygonNote.polygon_id.in_(select(Polygon.id).where(polygon_readable(user))),
    )


@per_caller
def note_writable(user: User) -> ColumnElement[bool]:
    return true() if is_admin(user) else PolygonNote.user_id == user.id


# Groups.


@per_caller
def group_readable(user: User) -> ColumnElement[bool]:
    return true() if is_admin(user) else Group.id.in_(groups_of(user))


@per_caller
def group_manageable(user: User) -> ColumnElement[bool]:
    """Name, description and members: owner, managers, admin."""
    if is_admin(user):
        return true()
    return or_(
        Group.owner_id == user.id,
        Group.id.in_(select(GroupManager.group_id).where(GroupManager.user_id == user.id)),
    )


@per_caller
def group_owned(user: User) -> ColumnElement[bool]:
    """Delete, managers, ownership transfer: owner and admin."""
    return true() if is_admin(user) else Group.owner_id == user.id


async def load(
    session: AsyncSession,
    model: type[M],
    item_id: int,
    *,
    readable: ColumnElement[bool],
    changeable: ColumnElement[bool] | None = None,
    name: str,
) -> M:
    """The row `item_id` of `model`: 404 unless readable, then 403 unless changeable (when given)."""
    statement = select(model).where(model.id == item_id, readable)
    if changeable is None:
        item = await session.scalar(statement)
        if item is None:
            raise NotFound(f"{name} not found")
        return item
    row = (await session.execute(select(model, changeable).where(model.id == item_id, readable))).first()
    if row is None:
        raise NotFound(f"{name} not found")
    item, may_change = row
    if not may_change:
        raise Forbidden(f"You may not change this {name.lower()}")
    return item
