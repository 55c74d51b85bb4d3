"""Request and response bodies of /api/auth."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from reefguide.schemas import ApiModel, Email, EmailLookup, Password, UtcDatetime


class RegisterIn(ApiModel):
    email: Email
    password: Password


class RegisterOut(ApiModel):
    user_id: int


class LoginIn(ApiModel):
    email: EmailLookup
    password: str = Field(min_length=1, max_length=1024)


class TokensOut(ApiModel):
    token: str
    refresh_token: str


class RefreshIn(ApiModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class ChangePasswordIn(ApiModel):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: Password
    confirm_password: Password


class UserOut(ApiModel):
    id: int
    email: str
    roles: list[str]


class ProfileOut(ApiModel):
    user: UserOut


class ApiKeyIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    expires_at: UtcDatetime | None = None


class ApiKeyOut(ApiModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreatedOut(ApiModel):
    id: int
    name: str
    key: str = Field(description="The key itself. Shown this once only: store it now.")
    prefix: str
    expires_at: datetime | None


class ApiKeysOut(ApiModel):
    api_keys: list[ApiKeyOut]
