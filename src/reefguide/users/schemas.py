"""Request and response bodies of /api/users and /api/auth/admin/pre-approved-users.

User admin bodies are camelCase. A pre-approval keeps the original's snake_case
field names (it serialised the database row as is), inside camelCase envelopes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from reefguide.auth.schemas import UserOut
from reefguide.schemas import ApiModel, Email, Password
from reefguide.users.models import Role

# One request may pre-approve a class or a workshop, not a directory dump.
MAX_BULK = 1000


class UserSummary(ApiModel):
    id: int
    email: str


class SearchOut(ApiModel):
    results: list[UserSummary]


class CreateUserIn(ApiModel):
    email: Email
    password: Password
    roles: list[Role] = Field(default_factory=list)


class CreatedUserOut(ApiModel):
    id: int


class RolesIn(ApiModel):
    roles: list[Role]


class PasswordIn(ApiModel):
    password: Password


class LogEntryOut(ApiModel):
    id: int
    time: datetime
    action: str
    metadata: dict[str, Any] | None
    user_id: int | None = Field(description="Null once the user has been deleted")
    user_email: str | None = Field(description="The user's email when the action was recorded")
    user: UserOut | None


class PageOut(ApiModel):
    page: int
    limit: int
    total: int
    pages: int


class LogPageOut(ApiModel):
    logs: list[LogEntryOut]
    pagination: PageOut


Roles = Annotated[list[Role], Field(min_length=1)]


class PreApprovedUserOut(BaseModel):
    """The original's field names, snake_case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    created_by_user_id: int | None
    used: bool
    used_at: datetime | None


class PreApprovalIn(ApiModel):
    email: Email
    roles: Roles


class PreApprovalUpdateIn(ApiModel):
    email: Email | None = None
    roles: Roles | None = None


class PreApprovalOut(ApiModel):
    pre_approved_user: PreApprovedUserOut


class BulkPreApprovalIn(ApiModel):
    users: list[PreApprovalIn] = Field(min_length=1, max_length=MAX_BULK)


class BulkErrorOut(ApiModel):
    email: str
    error: str


class BulkSummaryOut(ApiModel):
    total_requested: int
    total_created: int
    total_errors: int


class BulkPreApprovalOut(ApiModel):
    created: list[PreApprovedUserOut]
    errors: list[BulkErrorOut]
    summary: BulkSummaryOut


class OffsetPageOut(ApiModel):
    total: int
    limit: int
    offset: int


class PreApprovalListOut(ApiModel):
    pre_approved_users: list[PreApprovedUserOut]
    pagination: OffsetPageOut


class CleanupIn(ApiModel):
    older_than_days: int = Field(default=30, ge=1, le=36500)


class CleanupOut(ApiModel):
    deleted_count: int
