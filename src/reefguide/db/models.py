"""Every ORM model, imported in one place so Alembic and create_all see them all."""

from reefguide.auth.models import ApiKey, RefreshToken
from reefguide.dataspec.models import Criteria, Region, RegionalCriteria
from reefguide.db.base import Base
from reefguide.jobs.models import Job, JobAssignment, JobRequest, JobResult
from reefguide.projects.models import (
    Group,
    GroupManager,
    GroupMember,
    Project,
    ProjectGroupShare,
    ProjectUserShare,
)
from reefguide.spatial.models import MapLayer, Polygon, PolygonNote
from reefguide.users.models import PasswordResetCode, PreApprovedUser, User, UserLog

__all__ = [
    "ApiKey",
    "Base",
    "Criteria",
    "Group",
    "GroupManager",
    "GroupMember",
    "Job",
    "JobAssignment",
    "JobRequest",
    "JobResult",
    "MapLayer",
    "PasswordResetCode",
    "Polygon",
    "PolygonNote",
    "PreApprovedUser",
    "Project",
    "ProjectGroupShare",
    "ProjectUserShare",
    "RefreshToken",
    "Region",
    "RegionalCriteria",
    "User",
    "UserLog",
]
