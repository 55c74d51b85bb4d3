"""What `job:subscribe` reads: whether the caller may read the job (the HTTP API's
rule, `jobs.service.job_readable`) and the job's state now, as a `job:update`."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import NotFound, Unauthorized
from reefguide.jobs.events import JobEvent
from reefguide.jobs.models import Job, JobAssignment
from reefguide.jobs.queue import IN_PROGRESS, event_of
from reefguide.jobs.service import job_readable
from reefguide.users.models import User

JOB_NOT_FOUND = "Job not found"


async def check_readable(session: AsyncSession, user_id: int, job_id: int) -> None:
    """NotFound unless the user (with their roles as they are now) may read the job."""
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized("Your account no longer exists")
    found = await session.scalar(select(Job.id).where(Job.id == job_id, job_readable(user)))
    if found is None:
        raise NotFound(JOB_NOT_FOUND)


async def job_state(session: AsyncSession, job_id: int) -> JobEvent:
    """The job as a `job:update` would tell it now: while it runs, with its live
    lease's last progress and message."""
    live = and_(JobAssignment.job_id == Job.id, JobAssignment.completed_at.is_(None))
    row = (
        await session.execute(
            select(Job, JobAssignment).outerjoin(JobAssignment, live).where(Job.id == job_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(JOB_NOT_FOUND)
    job, assignment = row
    progress = message = None
    updated_at = job.updated_at
    if assignment is not None and job.status == IN_PROGRESS:
        progress, message = assignment.progress, assignment.message
        updated_at = max(updated_at, assignment.updated_at)
    return event_of(job, progress=progress, message=message, at=updated_at)
