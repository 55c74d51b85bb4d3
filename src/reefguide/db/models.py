"""Every ORM model, imported in one place so Alembic and create_all see them all."""

from reefguide.auth.models import ApiKey, RefreshToken
from reefguide.db.base import Base
from reefguide.users.models import PasswordResetCode, PreApprovedUser, User, UserLog

__all__ = ["ApiKey", "Base", "PasswordResetCode", "PreApprovedUser", "RefreshToken", "User", "UserLog"]
