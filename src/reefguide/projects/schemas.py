"""Request and response bodies of /api/projects and /api/groups.

A project, a group and their share and membership rows keep the original's
snake_case field names (it serialised the database rows as they were, with the
relations `user`, `userShares`, `groupShares`, `owner`, `managers`, `members`);
the envelopes around them and the sharing bodies are camelCase, as there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from reefguide.projects.groups import GroupDetails
from reefguide.projects.models import GroupManager, GroupMember, ProjectType
from reefguide.projects.service import GroupRef, Outcome, Person, ProjectDetails
from reefguide.schemas import ApiModel

# Ids are 32-bit integers in the database: a larger one is a bad request, not a lookup.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
# One request may name a team, not a directory.
MAX_IDS = 1000
MAX_BULK = 1000
IdList = Annotated[list[Id], Field(min_length=1, max_length=MAX_IDS)]


# Rows, snake_case.


class Row(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class UserRefOut(Row):
    id: int
    email: str

    @classmethod
    def of(cls, person: Person) -> UserRefOut:
        return cls(id=person.id, email=person.email)


class GroupRefOut(Row):
    id: int
    name: str
    description: str | None


class UserShareOut(Row):
    id: int
    project_id: int
    user_id: int
    created_at: datetime
    updated_at: datetime
    user: UserRefOut


class GroupShareOut(Row):
    id: int
    project_id: int
    group_id: int
    created_at: datetime
    updated_at: datetime
    group: GroupRefOut


class ProjectOut(Row):
    id: int
    name: str
    description: str | None
    type: ProjectType
    project_state: dict[str, Any]
    is_public: bool
    created_at: datetime
    updated_at: datetime
    user_id: int
    user: UserRefOut
    user_shares: list[UserShareOut] = Field(alias="userShares")
    group_shares: list[GroupShareOut] = Field(alias="groupShares")

    @classmethod
    def of(cls, details: ProjectDetails) -> ProjectOut:
        project = details.project
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            type=ProjectType(project.type),
            project_state=project.project_state,
            is_public=project.is_public,
            created_at=project.created_at,
            updated_at=project.updated_at,
            user_id=project.user_id,
            user=UserRefOut.of(details.owner),
            user_shares=[
                UserShareOut(
                    id=share.id,
                    project_id=share.project_id,
                    user_id=share.user_id,
                    created_at=share.created_at,
                    updated_at=share.updated_at,
                    user=UserRefOut.of(person),
                )
                for share, person in details.user_shares
            ],
            group_shares=[
                GroupShareOut(
                    id=share.id,
                    project_id=share.project_id,
                    group_id=share.group_id,
                    created_at=share.created_at,
                    updated_at=share.updated_at,
                    group=GroupRefOut(id=group.id, name=group.name, description=group.description),
                )
                for share, group in details.group_shares
            ],
        )


class MembershipOut(Row):
    id: int
    group_id: int
    user_id: int
    created_at: datetime
    user: UserRefOut

    @classmethod
    def of(cls, row: GroupMember | GroupManager, person: Person) -> MembershipOut:
        return cls(
            id=row.id,
            group_id=row.group_id,
            user_id=row.user_id,
            created_at=row.created_at,
            user=UserRefOut.of(person),
        )


class GroupOut(Row):
    id: int
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    owner_id: int
    owner: UserRefOut
    managers: list[MembershipOut]
    members: list[MembershipOut]

    @classmethod
    def of(cls, details: GroupDetails) -> GroupOut:
        group = details.group
        return cls(
            id=group.id,
            name=group.name,
            description=group.description,
            created_at=group.created_at,
            updated_at=group.updated_at,
            owner_id=group.owner_id,
            owner=UserRefOut.of(details.owner),
            managers=[MembershipOut.of(row, person) for row, person in details.managers],
            members=[MembershipOut.of(row, person) for row, person in details.members],
        )


# Project bodies.


class CreateProjectIn(BaseModel):
    """The original's field names; `public` (its name) and `isPublic` are read as `is_public`."""

    name: Name
    description: Description | None = None
    type: ProjectType
    project_state: dict[str, Any] = Field(description="The client's state of the project, any JSON object")
    is_public: bool = Field(default=False, validation_alias=AliasChoices("is_public", "public", "isPublic"))


class UpdateProjectIn(BaseModel):
    """Only the fields given change; `description: null` clears it."""

    name: Name | None = None
    description: Description | None = None
    project_state: dict[str, Any] | None = None


class ProjectEnvelope(ApiModel):
    project: ProjectOut


class OffsetPageOut(ApiModel):
    total: int
    limit: int
    offset: int


class ProjectListOut(ApiModel):
    projects: list[ProjectOut]
    pagination: OffsetPageOut


class BulkCreateProjectsIn(ApiModel):
    projects: list[CreateProjectIn] = Field(min_length=1, max_length=MAX_BULK)
    user_id: Id


class BulkErrorOut(ApiModel):
    name: str
    error: str


class BulkSummaryOut(ApiModel):
    total_requested: int
    total_created: int
    total_errors: int


class BulkCreateProjectsOut(ApiModel):
    created: list[ProjectOut]
    errors: list[BulkErrorOut]
    summary: BulkSummaryOut


# Sharing bodies.


class UserIdsIn(ApiModel):
    user_ids: IdList


class GroupIdsIn(ApiModel):
    group_ids: IdList


class UserResultOut(ApiModel):
    user_id: int
    user_email: str

    @classmethod
    def of(cls, person: Person) -> UserResultOut:
        return cls(user_id=person.id, user_email=person.email)


class UserErrorOut(ApiModel):
    user_id: int
    error: str


class GroupResultOut(ApiModel):
    group_id: int
    group_name: str

    @classmethod
    def of(cls, group: GroupRef) -> GroupResultOut:
        return cls(group_id=group.id, group_name=group.name)


class GroupErrorOut(ApiModel):
    group_id: int
    error: str


def user_errors(outcome: Outcome[Person]) -> list[UserErrorOut]:
    return [UserErrorOut(user_id=user_id, error=error) for user_id, error in outcome.errors]


def group_errors(outcome: Outcome[GroupRef]) -> list[GroupErrorOut]:
    return [GroupErrorOut(group_id=group_id, error=error) for group_id, error in outcome.errors]


class ShareUsersOut(ApiModel):
    message: str
    shared: list[UserResultOut]
    already_shared: list[UserResultOut]
    errors: list[UserErrorOut]


class UnshareUsersOut(ApiModel):
    message: str
    unshared: list[UserResultOut]
    not_shared: list[UserResultOut]
    errors: list[UserErrorOut]


class ShareGroupsOut(ApiModel):
    message: str
    shared: list[GroupResultOut]
    already_shared: list[GroupResultOut]
    errors: list[GroupErrorOut]


class UnshareGroupsOut(ApiModel):
    message: str
    unshared: list[GroupResultOut]
    not_shared: list[GroupResultOut]
    errors: list[GroupErrorOut]


class PublicityIn(ApiModel):
    is_public: bool


class PublicityProjectOut(ApiModel):
    id: int
    name: str
    is_public: bool


class PublicityOut(ApiModel):
    message: str
    project: PublicityProjectOut


# Group bodies.


class CreateGroupIn(ApiModel):
    name: Name
    description: Description | None = None


class UpdateGroupIn(ApiModel):
    """Only the fields given change; `description: null` clears it."""

    name: Name | None = None
    description: Description | None = None


class GroupEnvelope(ApiModel):
    group: GroupOut


class GroupListOut(ApiModel):
    groups: list[GroupOut]
    pagination: OffsetPageOut


class AddMembersOut(ApiModel):
    message: str
    added: list[UserResultOut]
    already_members: list[UserResultOut]
    errors: list[UserErrorOut]


class RemoveMembersOut(ApiModel):
    message: str
    removed: list[UserResultOut]
    not_members: list[UserResultOut]
    errors: list[UserErrorOut]


class AddManagersOut(ApiModel):
    message: str
    added: list[UserResultOut]
    already_managers: list[UserResultOut]
    errors: list[UserErrorOut]


class RemoveManagersOut(ApiModel):
    message: str
    removed: list[UserResultOut]
    not_managers: list[UserResultOut]
    errors: list[UserErrorOut]


class TransferOwnershipIn(ApiModel):
    new_owner_id: Id


class TransferOwnershipOut(ApiModel):
    message: str
    group: GroupOut
