"""Users, their audit log, pre-approvals and password reset codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reefguide.db.base import Base, CreatedAt, JSONType, Timestamps, utcnow


class Role(StrEnum):
    ADMIN = "ADMIN"
    ANALYST = "ANALYST"
    DEFAULT = "DEFAULT"
    WORKER = "WORKER"


class UserAction(StrEnum):
    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"
    CHANGE_PASSWORD = "CHANGE_PASSWORD"  # noqa: S105 - an action name
    RESET_PASSWORD = "RESET_PASSWORD"  # noqa: S105 - an action name
    UPDATED = "UPDATED"
    DELETE_USER = "DELETE_USER"
    CREATE_API_KEY = "CREATE_API_KEY"
    REVOKE_API_KEY = "REVOKE_API_KEY"
    CREATE_GROUP = "CREATE_GROUP"
    UPDATE_GROUP = "UPDATE_GROUP"
    DELETE_GROUP = "DELETE_GROUP"
    ADD_GROUP_MEMBER = "ADD_GROUP_MEMBER"
    REMOVE_GROUP_MEMBER = "REMOVE_GROUP_MEMBER"
    ADD_GROUP_MANAGER = "ADD_GROUP_MANAGER"
    REMOVE_GROUP_MANAGER = "REMOVE_GROUP_MANAGER"
    TRANSFER_GROUP_OWNERSHIP = "TRANSFER_GROUP_OWNERSHIP"
    SHARE_PROJECT = "SHARE_PROJECT"
    UNSHARE_PROJECT = "UNSHARE_PROJECT"
    UPDATE_PROJECT_SHARING = "UPDATE_PROJECT_SHARING"


class User(Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # A short list read with every authenticated request: a JSON column keeps
    # that one primary-key lookup.
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)

    def has_role(self, *roles: Role) -> bool:
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)


class UserLog(Base):
    """The audit log. Rows outlive their user (user_id is set NULL; the email stays)."""

    __tablename__ = "user_logs"
    __table_args__ = (Index("ix_user_logs_time", "time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType, default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    user_email: Mapped[str | None] = mapped_column(String(320))


class PreApprovedUser(Timestamps, Base):
    __tablename__ = "pre_approved_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used: Mapped[bool] = mapped_column(default=False)
    used_at: Mapped[datetime | None]


class PasswordResetCode(CreatedAt, Base):
    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime]
    used: Mapped[bool] = mapped_column(default=False)
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
