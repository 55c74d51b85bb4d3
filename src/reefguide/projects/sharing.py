"""Sharing a project with users and groups, and making it public. Knows nothing of HTTP.

Owner and admin only (`access.project_writable`). Each change is written to the
audit log as the caller's action (the original never wrote these).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.projects import access
from reefguide.projects.models import Group, Project, ProjectGroupShare, ProjectUserShare
from reefguide.projects.service import GroupRef, Outcome, Person, get_writable, people, unique
from reefguide.users import audit
from reefguide.users.models import User, UserAction

USER_NOT_FOUND = "User not found"
GROUP_NOT_FOUND = "Group not found"
OWNER = "User owns this project"


async def share_with_users(
    session: AsyncSession, by: User, project_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Share with each user: `done` newly shared, `unchanged` already shared; unknown
    users and the owner are listed in the errors."""
    project = await get_writable(session, by, project_id)
    ids = unique(user_ids)
    found = await people(session, ids)
    existing = set(
        await session.scalars(
            select(ProjectUserShare.user_id).where(
                ProjectUserShare.project_id == project.id, ProjectUserShare.user_id.in_(ids)
            )
        )
    )
    refused = {project.user_id: OWNER}
    skipped = existing | set(refused)
    added = [user_id for user_id in ids if user_id in found and user_id not in skipped]
    session.add_all(ProjectUserShare(project_id=project.id, user_id=user_id) for user_id in added)
    outcome = Outcome.of(ids, found, set(added), missing=USER_NOT_FOUND, refused=refused)
    if outcome.done:
        _record(session, UserAction.SHARE_PROJECT, by, project, userIds=[p.id for p in outcome.done])
    await session.flush()
    return outcome


async def unshare_with_users(
    session: AsyncSession, by: User, project_id: int, user_ids: Sequence[int]
) -> Outcome[Person]:
    """Stop sharing with each user: `done` unshared, `unchanged` was not shared;
    unknown users are listed in the errors."""
    project = await get_writable(session, by, project_id)
    ids = unique(user_ids)
    found = await people(session, ids)
    removed = set(
        await session.scalars(
            delete(ProjectUserShare)
            .where(ProjectUserShare.project_id == project.id, ProjectUserShare.user_id.in_(ids))
            .returning(ProjectUserShare.user_id)
        )
    )
    outcome = Outcome.of(ids, found, removed, missing=USER_NOT_FOUND)
    if outcome.done:
        _record(session, UserAction.UNSHARE_PROJECT, by, project, userIds=[p.id for p in outcome.done])
    await session.flush()
    return outcome


async def _groups(session: AsyncSession, by: User, project: Project, ids: list[int]) -> dict[int, GroupRef]:
    """The groups among `ids` the caller may name: those they may read, and those the
    project is already shared with (so a share can always be taken back). Any other
    id reads as unknown, so sharing does not reveal other people's groups."""
    already_shared = select(ProjectGroupShare.group_id).where(ProjectGroupShare.project_id == project.id)
    rows = await session.execute(
        select(Group.id, Group.name, Group.description).where(
            Group.id.in_(ids), or_(access.group_readable(by), Group.id.in_(already_shared))
        )
    )
    return {group_id: GroupRef(group_id, name, description) for group_id, name, description in rows}


async def share_with_groups(
    session: AsyncSession, by: User, project_id: int, group_ids: Sequence[int]
) -> Outcome[GroupRef]:
    """Share with each group the caller may read (owns, manages, belongs to; admin:
    any): `done` newly shared, `unchanged` already shared; other ids are errors."""
    project = await get_writable(session, by, project_id)
    ids = unique(group_ids)
    found = await _groups(session, by, project, ids)
    existing = set(
        await session.scalars(
            select(ProjectGroupShare.group_id).where(
                ProjectGroupShare.project_id == project.id, ProjectGroupShare.group_id.in_(ids)
            )
        )
    )
    added = [group_id for group_id in ids if group_id in found and group_id not in existing]
    session.add_all(ProjectGroupShare(project_id=project.id, group_id=group_id) for group_id in added)
    outcome = Outcome.of(ids, found, set(added), missing=GROUP_NOT_FOUND)
    if outcome.done:
        _record(session, UserAction.SHARE_PROJECT, by, project, groupIds=[g.id for g in outcome.done])
    await session.flush()
    return outcome


async def unshare_with_groups(
    session: AsyncSession, by: User, project_id: int, group_ids: Sequence[int]
) -> Outcome[GroupRef]:
    """Stop sharing with each group: `done` unshared, `unchanged` was not shared;
    unknown groups are listed in the errors."""
    project = await get_writable(session, by, project_id)
    ids = unique(group_ids)
    found = await _groups(session, by, project, ids)
    removed = set(
        await session.scalars(
            delete(ProjectGroupShare)
            .where(ProjectGroupShare.project_id == project.id, ProjectGroupShare.group_id.in_(ids))
            .returning(ProjectGroupShare.group_id)
        )
    )
    outcome = Outcome.of(ids, found, removed, missing=GROUP_NOT_FOUND)
    if outcome.done:
        _record(session, UserAction.UNSHARE_PROJECT, by, project, groupIds=[g.id for g in outcome.done])
    await session.flush()
    return outcome


async def set_publicity(session: AsyncSession, by: User, project_id: int, is_public: bool) -> Project:
    """Make a project public (readable by every analyst, still changeable by its owner
    and admins only) or private again."""
    project = await get_writable(session, by, project_id)
    if project.is_public != is_public:
        project.is_public = is_public
        _record(session, UserAction.UPDATE_PROJECT_SHARING, by, project, isPublic=is_public)
    await session.flush()
    return project


def _record(session: AsyncSession, action: UserAction, by: User, project: Project, **details: object) -> None:
    audit.record(session, action, by, {"projectId": project.id, "projectName": project.name, **details})
