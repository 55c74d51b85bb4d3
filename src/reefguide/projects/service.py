"""Projects: create, list, read, update, delete, bulk create. Knows nothing of HTTP.

Who may read or change a project is decided by `access` alone; every function
here filters with its conditions. A project is returned with its owner and its
shares (`ProjectDetails`), read in a fixed number of statements however many
projects there are.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import BadRequest
from reefguide.projects import access
from reefguide.projects.models import Group, Project, ProjectGroupShare, ProjectType, ProjectUserShare
from reefguide.users.models import User

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    """A user as others see them: id and email."""

    id: int
    email: str


@dataclass(frozen=True)
class GroupRef:
    id: int
    name: str
    description: str | None = None


@dataclass
class Outcome(Generic[T]):
    """What a batch change (share, add members…) did to each id it was given."""

    done: list[T] = field(default_factory=list)
    unchanged: list[T] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        ids: Sequence[int],
        found: Mapping[int, T],
        changed: Container[int],
        *,
        missing: str,
        refused: Mapping[int, str] | None = None,
    ) -> Outcome[T]:
        """Each id, in order: an error when not `found` (or `refused`, with its reason),
        `done` when in `changed`, else `unchanged`."""
        outcome: Outcome[T] = cls()
        for item_id in ids:
            item = found.get(item_id)
            if item is None:
                outcome.errors.append((item_id, missing))
            elif refused and item_id in refused:
                outcome.errors.append((item_id, refused[item_id]))
            elif item_id in changed:
                outcome.done.append(item)
            else:
                outcome.unchanged.append(item)
        return outcome


async def people(session: AsyncSession, user_ids: Collection[int]) -> dict[int, Person]:
    """The users among `user_ids` that exist, by id."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {user_id: Person(user_id, email) for user_id, email in rows}


def unique(ids: Sequence[int]) -> list[int]:
    """`ids` without repeats, in the order given."""
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class ProjectDetails:
    project: Project
    owner: Person
    user_shares: list[tuple[ProjectUserShare, Person]]
    group_shares: list[tuple[ProjectGroupShare, GroupRef]]


async def describe(session: AsyncSession, projects: Sequence[Project]) -> list[ProjectDetails]:
    """Each project with its owner and shares: three statements for any number of projects."""
    if not projects:
        return []
    ids = [project.id for project in projects]
    owners = await people(session, {project.user_id for project in projects})
    user_shares: dict[int, list[tuple[ProjectUserShare, Person]]] = {}
    user_rows = await session.execute(
        select(ProjectUserShare, User.id, User.email)
        .join(User, User.id == ProjectUserShare.user_id)
        .where(ProjectUserShare.project_id.in_(ids))
        .order_by(ProjectUserShare.id)
    )
    for share, user_id, email in user_rows:
        user_shares.setdefault(share.project_id, []).append((share, Person(user_id, email)))
    group_shares: dict[int, list[tuple[ProjectGroupShare, GroupRef]]] = {}
    group_rows = await session.execute(
        select(ProjectGroupShare, Group.id, Group.name, Group.description)
        .join(Group, Group.id == ProjectGroupShare.group_id)
        .where(ProjectGroupShare.project_id.in_(ids))
        .order_by(ProjectGroupShare.id)
    )
    for group_share, group_id, name, description in group_rows:
        group_shares.setdefault(group_share.project_id, []).append(
            (group_share, GroupRef(group_id, name, description))
        )
    return [
        ProjectDetails(
            project,
            owners[project.user_id],
            user_shares.get(project.id, []),
            group_shares.get(project.id, []),
        )
        for project in projects
    ]


async def describe_one(session: AsyncSession, project: Project) -> ProjectDetails:
    return (await describe(session, [project]))[0]


# Reading.


async def get_readable(session: AsyncSession, user: User, project_id: int) -> Project:
    """404 unless the user may read the project."""
    return await access.load(
        session, Project, project_id, readable=access.project_readable(user), name="Project"
    )


async def get_writable(session: AsyncSession, user: User, project_id: int) -> Project:
    """404 unless the user may read the project, 403 unless they may change it."""
    return await access.load(
        session,
        Project,
        project_id,
        readable=access.project_readable(user),
        changeable=access.project_writable(user),
        name="Project",
    )


@dataclass(frozen=True)
class ProjectPage:
    projects: list[ProjectDetails]
    total: int
    limit: int
    offset: int


async def list_readable(
    session: AsyncSession,
    user: User,
    *,
    type: ProjectType | None = None,
    name: str | None = None,
    limit: int = LIST_LIMIT_DEFAULT,
    offset: int = 0,
) -> ProjectPage:
    """The projects the user may read, most recently updated first, optionally of one
    type or with `name` in their name (any case). `limit` is clamped to 1–100."""
    limit = min(LIST_LIMIT_MAX, max(1, limit))
    offset = max(0, offset)
    conditions: list[ColumnElement[bool]] = [access.project_readable(user)]
    if type is not None:
        conditions.append(Project.type == type.value)
    if name and name.strip():
        conditions.append(func.lower(Project.name).contains(name.strip().lower(), autoescape=True))
    total = await session.scalar(select(func.count()).select_from(Project).where(*conditions))
    projects = await session.scalars(
        select(Project)
        .where(*conditions)
        .order_by(Project.updated_at.desc(), Project.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return ProjectPage(await describe(session, list(projects)), total or 0, limit, offset)


async def list_owned(session: AsyncSession, user: User) -> list[ProjectDetails]:
    """The user's own projects, most recently updated first."""
    projects = await session.scalars(
        select(Project)
        .where(Project.user_id == user.id)
        .order_by(Project.updated_at.desc(), Project.id.desc())
    )
    return await describe(session, list(projects))


# Creating.


@dataclass(frozen=True)
class NewProject:
    name: str
    type: ProjectType
    project_state: dict[str, Any]
    description: str | None = None
    is_public: bool = False


def _duplicate_name(name: str) -> str:
    return f'Project with name "{name}" already exists for this user'


async def _check_name_free(
    session: AsyncSession, owner_id: int, name: str, *, except_id: int | None = None
) -> None:
    statement = select(Project.id).where(Project.user_id == owner_id, Project.name == name)
    if except_id is not None:
        statement = statement.where(Project.id != except_id)
    if await session.scalar(statement.limit(1)) is not None:
        raise BadRequest(_duplicate_name(name))


def _project(owner_id: int, new: NewProject) -> Project:
    return Project(
        name=new.name,
        description=new.description or None,
        type=new.type.value,
        project_state=new.project_state,
        is_public=new.is_public,
        user_id=owner_id,
    )


async def create(session: AsyncSession, owner: User, new: NewProject) -> Project:
    """A new project of `owner`; 400 if they already have one of that name."""
    await _check_name_free(session, owner.id, new.name)
    project = _project(owner.id, new)
    session.add(project)
    await session.flush()
    return project


async def bulk_create(
    session: AsyncSession, owner_id: int, items: Sequence[NewProject]
) -> tuple[list[Project], list[tuple[str, str]]]:
    """Create projects for one user. A name the user already has (or that repeats in
    the list) is listed in the errors, as (name, message); the others are created.
    400 if the user does not exist."""
    if not await people(session, [owner_id]):
        raise BadRequest(f"User with ID {owner_id} not found")
    names = {item.name for item in items}
    taken = set(
        await session.scalars(
            select(Project.name).where(Project.user_id == owner_id, Project.name.in_(names))
        )
    )
    created: list[Project] = []
    errors: list[tuple[str, str]] = []
    for item in items:
        if item.name in taken:
            errors.append((item.name, _duplicate_name(item.name)))
            continue
        taken.add(item.name)
        created.append(_project(owner_id, item))
    session.add_all(created)
    await session.flush()
    return created, errors


# Changing.


class Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@dataclass(frozen=True)
class ProjectChanges:
    """What an update sets; `None` name or state, or an UNCHANGED description, keeps the value."""

    name: str | None = None
    description: str | Unchanged | None = UNCHANGED
    project_state: dict[str, Any] | None = None


async def update(session: AsyncSession, user: User, project_id: int, changes: ProjectChanges) -> Project:
    """Change a project's name, description or state: owner and admin only."""
    project = await get_writable(session, user, project_id)
    if changes.name is not None and changes.name != project.name:
        await _check_name_free(session, project.user_id, changes.name, except_id=project.id)
        project.name = changes.name
    if changes.description is not UNCHANGED:
        project.description = changes.description or None
    if changes.project_state is not None:
        project.project_state = changes.project_state
    await session.flush()
    return project


async def delete(session: AsyncSession, user: User, project_id: int) -> None:
    """Delete a project: owner and admin only. Its polygons (and their notes) and
    shares go with it (ON DELETE CASCADE)."""
    project = await get_writable(session, user, project_id)
    await session.delete(project)
    await session.flush()
