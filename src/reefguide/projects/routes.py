"""HTTP routes of /api/projects: projects, sharing, publicity.

Every route needs ANALYST (or ADMIN). A project the caller may not read answers
404; one they may read but not change answers 403. Unlike the original, only the
owner and admins may update, delete or share a project: being shared a project,
or seeing a public one, gives read access only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from reefguide.auth.dependencies import AdminUser, AnalystUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.projects import service, sharing
from reefguide.projects.models import ProjectType
from reefguide.projects.schemas import (
    BulkCreateProjectsIn,
    BulkCreateProjectsOut,
    BulkErrorOut,
    BulkSummaryOut,
    CreateProjectIn,
    GroupIdsIn,
    GroupResultOut,
    OffsetPageOut,
    ProjectEnvelope,
    ProjectListOut,
    ProjectOut,
    PublicityIn,
    PublicityOut,
    PublicityProjectOut,
    ShareGroupsOut,
    ShareUsersOut,
    UnshareGroupsOut,
    UnshareUsersOut,
    UpdateProjectIn,
    UserIdsIn,
    UserResultOut,
    group_errors,
    user_errors,
)
from reefguide.schemas import Message

router = ApiRouter(prefix="/projects", tags=["projects"])

NOT_READABLE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project, or one the caller may not read"}
}
NOT_WRITABLE: dict[int | str, dict[str, Any]] = {
    **NOT_READABLE,
    403: {"description": "Without the ANALYST role, or the caller may read the project but not change it"},
}

# /user/me and /bulk are declared before /{project_id}, which would otherwise claim them.


def _new_project(body: CreateProjectIn) -> service.NewProject:
    return service.NewProject(
        name=body.name,
        description=body.description,
        type=body.type,
        project_state=body.project_state,
        is_public=body.is_public,
    )


@router.post("", status_code=201)
async def create_project(body: CreateProjectIn, session: SessionDep, user: AnalystUser) -> ProjectEnvelope:
    """Create a project owned by the caller. `is_public` (also read as `public`, the
    original's name) defaults to false. 400 if the caller already has a project of
    that name."""
    project = await service.create(session, user, _new_project(body))
    return ProjectEnvelope(project=ProjectOut.of(await service.describe_one(session, project)))


@router.get("")
async def list_projects(
    session: SessionDep,
    user: AnalystUser,
    type: Annotated[ProjectType | None, Query(description="Only projects of this type")] = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name, any case")] = None,
    limit: Annotated[int, Query(description="Clamped to 1–100")] = service.LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ProjectListOut:
    """The projects the caller may read (admins: all), most recently updated first,
    each with its owner and shares. `limit` and `offset` page through them (the
    original's were rejected whatever their value)."""
    page = await service.list_readable(session, user, type=type, name=name, limit=limit, offset=offset)
    return ProjectListOut(
        projects=[ProjectOut.of(details) for details in page.projects],
        pagination=OffsetPageOut(total=page.total, limit=page.limit, offset=page.offset),
    )


@router.get("/user/me")
async def list_my_projects(session: SessionDep, user: AnalystUser) -> ProjectListOut:
    """The caller's own projects, most recently updated first."""
    projects = await service.list_owned(session, user)
    return ProjectListOut(
        projects=[ProjectOut.of(details) for details in projects],
        pagination=OffsetPageOut(total=len(projects), limit=len(projects), offset=0),
    )


@router.post("/bulk", status_code=201)
async def bulk_create_projects(
    body: BulkCreateProjectsIn, session: SessionDep, _admin: AdminUser
) -> BulkCreateProjectsOut:
    """Create many projects for one user (`userId`). A name the user already has, or
    that repeats in the list, is listed in `errors`; the others are created. 400 if
    the user does not exist."""
    created, errors = await service.bulk_create(
        session, body.user_id, [_new_project(item) for item in body.projects]
    )
    return BulkCreateProjectsOut(
        created=[ProjectOut.of(details) for details in await service.describe(session, created)],
        errors=[BulkErrorOut(name=name, error=error) for name, error in errors],
        summary=BulkSummaryOut(
            total_requested=len(body.projects), total_created=len(created), total_errors=len(errors)
        ),
    )


@router.get("/{project_id}", responses=NOT_READABLE)
async def get_project(project_id: int, session: SessionDep, user: AnalystUser) -> ProjectEnvelope:
    """A project the caller may read, with its owner and shares."""
    project = await service.get_readable(session, user, project_id)
    return ProjectEnvelope(project=ProjectOut.of(await service.describe_one(session, project)))


@router.put("/{project_id}", responses=NOT_WRITABLE)
async def update_project(
    project_id: int, body: UpdateProjectIn, session: SessionDep, user: AnalystUser
) -> ProjectEnvelope:
    """Change a project's name, description or state: owner and admins only. Fields
    left out are kept; `description: null` clears it. 400 if the owner already has
    another project of the new name."""
    changes = service.ProjectChanges(
        name=body.name,
        description=body.description if "description" in body.model_fields_set else service.UNCHANGED,
        project_state=body.project_state,
    )
    project = await service.update(session, user, project_id, changes)
    return ProjectEnvelope(project=ProjectOut.of(await service.describe_one(session, project)))


@router.delete("/{project_id}", responses=NOT_WRITABLE)
async def delete_project(project_id: int, session: SessionDep, user: AnalystUser) -> Message:
    """Delete a project, its polygons and their notes: owner and admins only."""
    await service.delete(session, user, project_id)
    return Message(message="Project deleted successfully")


@router.post("/{project_id}/share/users", responses=NOT_WRITABLE)
async def share_with_users(
    project_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> ShareUsersOut:
    """Give users read access: owner and admins only. Unknown users, and the owner,
    are listed in `errors`."""
    outcome = await sharing.share_with_users(session, user, project_id, body.user_ids)
    return ShareUsersOut(
        message="Project sharing completed",
        shared=[UserResultOut.of(person) for person in outcome.done],
        already_shared=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.delete("/{project_id}/share/users", responses=NOT_WRITABLE)
async def unshare_with_users(
    project_id: int, body: UserIdsIn, session: SessionDep, user: AnalystUser
) -> UnshareUsersOut:
    """Take users' direct access away: owner and admins only. Unknown users are listed in `errors`."""
    outcome = await sharing.unshare_with_users(session, user, project_id, body.user_ids)
    return UnshareUsersOut(
        message="Project unsharing completed",
        unshared=[UserResultOut.of(person) for person in outcome.done],
        not_shared=[UserResultOut.of(person) for person in outcome.unchanged],
        errors=user_errors(outcome),
    )


@router.post("/{project_id}/share/groups", responses=NOT_WRITABLE)
async def share_with_groups(
    project_id: int, body: GroupIdsIn, session: SessionDep, user: AnalystUser
) -> ShareGroupsOut:
    """Give a group's owner, managers and members read access: owner and admins only.
    Only groups the caller may read can be named; other ids are listed in `errors`
    as not found."""
    outcome = await sharing.share_with_groups(session, user, project_id, body.group_ids)
    return ShareGroupsOut(
        message="Project sharing completed",
        shared=[GroupResultOut.of(group) for group in outcome.done],
        already_shared=[GroupResultOut.of(group) for group in outcome.unchanged],
        errors=group_errors(outcome),
    )


@router.delete("/{project_id}/share/groups", responses=NOT_WRITABLE)
async def unshare_with_groups(
    project_id: int, body: GroupIdsIn, session: SessionDep, user: AnalystUser
) -> UnshareGroupsOut:
    """Take groups' access away: owner and admins only. Unknown groups are listed in `errors`."""
    outcome = await sharing.unshare_with_groups(session, user, project_id, body.group_ids)
    return UnshareGroupsOut(
        message="Project unsharing completed",
        unshared=[GroupResultOut.of(group) for group in outcome.done],
        not_shared=[GroupResultOut.of(group) for group in outcome.unchanged],
        errors=group_errors(outcome),
    )


@router.put("/{project_id}/publicity", responses=NOT_WRITABLE)
async def set_publicity(
    project_id: int, body: PublicityIn, session: SessionDep, user: AnalystUser
) -> PublicityOut:
    """Make a project public (every analyst may read it; only the owner and admins
    may change it) or private: owner and admins only."""
    project = await sharing.set_publicity(session, user, project_id, body.is_public)
    return PublicityOut(
        message=f"Project {'made public' if project.is_public else 'made private'} successfully",
        project=PublicityProjectOut(id=project.id, name=project.name, is_public=project.is_public),
    )
