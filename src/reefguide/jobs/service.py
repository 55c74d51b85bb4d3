"""Submitting jobs (with the result cache), reading them, and who may.

Read: a job's owner, admins, and every user whose request the cache answered with
that job. Cancel: its owner and admins. The queue's moves live in queue.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, case, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from reefguide.db.bulk import among
from reefguide.db.session import after_commit
from reefguide.errors import BadRequest, Forbidden, NotFound, invalid
from reefguide.jobs.hashing import job_hash
from reefguide.jobs.models import Job, JobAssignment, JobRequest, JobResult
from reefguide.jobs.queue import IN_PROGRESS, PENDING, SUCCEEDED, Queue, event_of, pending_condition
from reefguide.jobs.types import JobStatus, JobType, get_job_type, job_types
from reefguide.users.models import Role, User


@dataclass(frozen=True)
class CachePolicy:
    disabled: bool = False
    disabled_types: frozenset[str] = field(default_factory=frozenset)

    def applies_to(self, job_type: str) -> bool:
        return not self.disabled and job_type not in self.disabled_types


def job_type_named(name: str) -> JobType:
    job_type = get_job_type(name)
    if job_type is None:
        known = ", ".join(sorted(job_types()))
        raise BadRequest(
            f"Unknown job type {name}",
            extra={"errors": [{"field": "type", "message": f"Unknown job type; one of {known}"}]},
        )
    return job_type


def parse_statuses(text: str | None) -> list[str] | None:
    """`PENDING,IN_PROGRESS` → the statuses; an unknown one → 400."""
    if text is None or not text.strip():
        return None
    statuses = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [status for status in statuses if status not in JobStatus.__members__]
    if unknown:
        known = ", ".join(JobStatus.__members__)
        raise BadRequest(
            f"Unknown job status {', '.join(unknown)}",
            extra={"errors": [{"field": "status", "message": f"Unknown status; one of {known}"}]},
        )
    return statuses


# Who may read.


def is_admin(user: User) -> bool:
    return user.has_role(Role.ADMIN)


def job_readable(user: User) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    answered = exists().where(JobRequest.job_id == Job.id, JobRequest.user_id == user.id)
    return or_(Job.user_id == user.id, answered)


async def job_requesters(session: AsyncSession, job_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each of these jobs, the users whose requests it answered: with its owner and
    admins, who `job_readable` lets read it. One query for the lot."""
    wanted = set(job_ids)
    readers: dict[int, set[int]] = {job_id: set() for job_id in wanted}
    if not wanted:
        return readers
    rows = await session.execute(
        select(JobRequest.job_id, JobRequest.user_id).where(JobRequest.job_id.in_(wanted)).distinct()
    )
    for job_id, user_id in rows:
        readers[job_id].add(user_id)
    return readers


def _with_details(statement: Select[Job]) -> Select[Job]:
    return statement.options(selectinload(Job.assignments).selectinload(JobAssignment.result))


async def readable_job(session: AsyncSession, user: User, job_id: int) -> Job:
    """The job with its assignments and results, or 404 (also when the caller may not read it)."""
    job = await session.scalar(_with_details(select(Job).where(Job.id == job_id, job_readable(user))))
    if job is None:
        raise NotFound("Job not found")
    return job


async def changeable_job(session: AsyncSession, user: User, job_id: int) -> Job:
    """For cancelling: 404 when unreadable, 403 when readable but not the caller's."""
    job = await readable_job(session, user, job_id)
    if not is_admin(user) and job.user_id != user.id:
        raise Forbidden("Only the job's owner or an admin may do this")
    return job


# Submitting.


@dataclass(frozen=True)
class Submitted:
    job_id: int
    cached: bool
    request_id: int
    job: Job


async def _cached_job(session: AsyncSession, job_type: str, digest: str) -> Job | None:
    """The original's rule: a SUCCEEDED job with a valid result, else an IN_PROGRESS
    one, else a PENDING one, with the same hash; newest first within each."""
    valid_result = exists().where(JobResult.job_id == Job.id, JobResult.cache_valid.is_(True))
    rank = case((Job.status == SUCCEEDED, 0), (Job.status == IN_PROGRESS, 1), else_=2)
    return await session.scalar(
        select(Job)
        .where(
            Job.hash == digest,
            Job.type == job_type,
            or_(Job.status.in_([IN_PROGRESS, PENDING]), (Job.status == SUCCEEDED) & valid_result),
        )
        .order_by(rank, Job.created_at.desc(), Job.id.desc())
        .limit(1)
    )


async def submit(
    session: AsyncSession,
    queue: Queue,
    user: User,
    *,
    type_name: str,
    input_payload: Any,
    cache: CachePolicy,
    now: datetime,
    trace_context: dict[str, str] | None = None,
) -> Submitted:
    job_type = job_type_named(type_name)
    try:
        payload = job_type.parse_input(input_payload)
    except ValidationError as error:
        raise invalid(
            f"Invalid payload for job type {job_type.name}",
            error.errors(include_input=False, include_url=False),
            prefix="inputPayload",
        ) from None
    digest = job_hash(job_type.name, payload)
    job = await _cached_job(session, job_type.name, digest) if cache.applies_to(job_type.name) else None
    cached = job is not None
    if job is None:
        job = Job(
            type=job_type.name,
            status=PENDING,
            hash=digest,
            user_id=user.id,
            input_payload=payload,
            priority=job_type.priority,
            max_attempts=job_type.max_attempts,
            trace_context=trace_context,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        await session.flush()
        await queue.signals.announce(session, job.type)
        queue.events.publish_after_commit(session, [event_of(job)])
    request = JobRequest(
        user_id=user.id,
        type=job_type.name,
        input_payload=payload,
        cache_hit=cached,
        job_id=job.id,
        created_at=now,
    )
    session.add(request)
    await session.flush()
    after_commit(session, lambda: queue.metrics.submitted(job_type.name, cached=cached))
    return Submitted(job_id=job.id, cached=cached, request_id=request.id, job=job)


# Reading.


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    total: int


async def list_jobs(
    session: AsyncSession,
    *,
    condition: ColumnElement[bool],
    statuses: list[str] | None,
    limit: int,
    offset: int,
) -> Page:
    conditions = [condition]
    if statuses:
        conditions.append(Job.status.in_(statuses))
    total = await session.scalar(select(func.count()).select_from(Job).where(*conditions))
    jobs = (
        await session.scalars(
            _with_details(
                select(Job)
                .where(*conditions)
                .order_by(Job.updated_at.desc(), Job.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
    ).all()
    return Page(items=jobs, total=total or 0)


async def list_requests(session: AsyncSession, user: User, *, limit: int, offset: int) -> Page:
    condition = true() if is_admin(user) else JobRequest.user_id == user.id
    total = await session.scalar(select(func.count()).select_from(JobRequest).where(condition))
    requests = (
        await session.scalars(
            select(JobRequest)
            .where(condition)
            .order_by(JobRequest.created_at.desc(), JobRequest.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return Page(items=requests, total=total or 0)


def pending_jobs(*, job_type: str | None, now: datetime, limit: int) -> Select[Job]:
    statement = select(Job).where(pending_condition(now))
    if job_type is not None:
        statement = statement.where(Job.type == job_type)
    return statement.order_by(Job.priority.desc(), Job.id).limit(limit)


async def invalidate_cache(session: AsyncSession, job_type: str) -> int:
    job_type_named(job_type)
    result = await session.execute(
        update(JobResult)
        .where(
            JobResult.cache_valid.is_(True),
            JobResult.job_id.in_(select(Job.id).where(Job.type == job_type)),
        )
        .values(cache_valid=False)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass
class TypeStats:
    pending: int = 0
    in_progress: int = 0
    oldest_pending_age_seconds: float | None = None
    last_hour: dict[str, int] = field(default_factory=dict)


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    """PENDING jobs per type, as `stats` counts them (types with none are left out)."""
    rows = await session.execute(
        select(Job.type, func.count()).where(Job.status == PENDING).group_by(Job.type)
    )
    return {job_type: count for job_type, count in rows.tuples()}


async def stats(session: AsyncSession, *, now: datetime) -> dict[str, TypeStats]:
    """Per job type: the whole backlog, what runs, the oldest pending job's age, and
    what changed state in the last hour. Every known type appears, even at zero."""
    by_type = {name: TypeStats() for name in job_types()}
    live = await session.execute(
        select(Job.type, Job.status, func.count(), func.min(Job.created_at))
        .where(Job.status.in_([PENDING, IN_PROGRESS]))
        .group_by(Job.type, Job.status)
    )
    for job_type, status, count, oldest in live:
        entry = by_type.setdefault(job_type, TypeStats())
        if status == PENDING:
            entry.pending = count
            if oldest is not None:
                entry.oldest_pending_age_seconds = max((now - oldest).total_seconds(), 0.0)
        else:
            entry.in_progress = count
    recent = await session.execute(
        select(Job.type, Job.status, func.count())
        .where(Job.updated_at >= now - timedelta(hours=1))
        .group_by(Job.type, Job.status)
    )
    for job_type, status, count in recent:
        by_type.setdefault(job_type, TypeStats()).last_hour[status] = count
    return by_type


async def status_counts(session: AsyncSession) -> list[tuple[str, str, int, datetime | None]]:
    """Jobs per (type, status), each group with its oldest job's creation time: one
    GROUP BY, for the metrics scrape."""
    rows = await session.execute(
        select(Job.type, Job.status, func.count(), func.min(Job.created_at)).group_by(Job.type, Job.status)
    )
    return [(job_type, status, count, oldest) for job_type, status, count, oldest in rows]


@cache
def _assignment_types_statement(dialect_name: str) -> Select[int, str]:
    return (
        select(JobAssignment.id, Job.type)
        .join(Job, Job.id == JobAssignment.job_id)
        .where(among(dialect_name, JobAssignment.id.expression, "assignment_ids"))
    )


async def assignment_job_types(session: AsyncSession, assignment_ids: Sequence[int]) -> dict[int, str]:
    """The job type of each of these assignments' jobs."""
    statement = _assignment_types_statement(session.get_bind().dialect.name)
    rows = await session.execute(statement, {"assignment_ids": list(assignment_ids)})
    return {assignment_id: job_type for assignment_id, job_type in rows}


def latest_result(job: Job) -> JobResult | None:
    results = [assignment.result for assignment in job.assignments if assignment.result is not None]
    return max(results, key=lambda result: result.id, default=None)
