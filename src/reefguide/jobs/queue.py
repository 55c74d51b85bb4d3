"""The queue: claim, lease, heartbeat, complete, release, cancel, sweep.

Every change of a job's status is one conditional UPDATE (`… WHERE status =
<expected>`), so when two actors race exactly one wins; a lease is honoured only
while it is live (not completed, not expired) and only for the holder of its
token. Nothing here knows HTTP: callers pass the caller's id and the time.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    exists,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.db.base import UTCDateTime
from reefguide.db.bulk import SHAPES_KEPT, among, insert_params, insert_rows, rows_of, rows_params, shape
from reefguide.db.session import after_commit
from reefguide.errors import ApiError, BadRequest, Conflict, NotFound
from reefguide.jobs.events import JobEvent, JobEvents, JobSignals
from reefguide.jobs.models import Job, JobAssignment, JobResult
from reefguide.jobs.types import JobStatus, get_job_type
from reefguide.observability.metrics import FinishedRun, JobMetrics
from reefguide.storage import Storage

PENDING, IN_PROGRESS = JobStatus.PENDING.value, JobStatus.IN_PROGRESS.value
SUCCEEDED, FAILED = JobStatus.SUCCEEDED.value, JobStatus.FAILED.value
CANCELLED, TIMED_OUT = JobStatus.CANCELLED.value, JobStatus.TIMED_OUT.value
# How a lease ended, beside the job statuses a worker reports.
RELEASED, EXPIRED = "RELEASED", "EXPIRED"

NOT_AVAILABLE = "Job is not available for assignment"
NOT_CURRENT = "This assignment is not current: its lease ended or belongs to another worker"
RETRY_BACKOFF_BASE_SECONDS = 5.0
RETRY_BACKOFF_MAX_SECONDS = 600.0
# UPDATE … RETURNING rows: overwrite what the session holds, and skip the ORM's
# own (here useless) synchronisation of the session with the statement.
NO_SYNC = {"synchronize_session": False}
FRESH_ROWS = {"populate_existing": True, **NO_SYNC}


@dataclass(frozen=True)
class Queue:
    """What the queue needs from the running service."""

    storage: Storage
    events: JobEvents
    signals: JobSignals
    lease_seconds: int
    metrics: JobMetrics


# A job as the ORM loads it, or as a plain row of the jobs table (the hot paths).
JobLike = Job | Row[Any]


@dataclass(frozen=True)
class Claimed:
    job: JobLike
    assignment: dict[str, Any]  # the job_assignments row
    lease_token: str


@dataclass(frozen=True)
class Lease:
    """Who presents an assignment: its token, or (for the original's workers, which
    send none) the principal that claimed it."""

    token: str | None
    principal_id: int

    def condition(self) -> ColumnElement[bool]:
        if self.token:
            return JobAssignment.lease_token_hash == hash_token(self.token)
        return JobAssignment.claimed_by_user_id == self.principal_id


def _table(model: type[Job] | type[JobAssignment] | type[JobResult]) -> Table:
    return cast(Table, model.__table__)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def event_of(
    job: JobLike, *, progress: float | None = None, message: str | None = None, at: datetime | None = None
) -> JobEvent:
    """The event of a change to `job` (`at`: when, if not the job's own last update)."""
    return JobEvent(
        job_id=job.id,
        type=job.type,
        status=job.status,
        user_id=job.user_id,
        progress=progress,
        message=message,
        updated_at=at or job.updated_at,
    )


def retry_backoff(attempt: int) -> timedelta:
    return timedelta(
        seconds=min(RETRY_BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), RETRY_BACKOFF_MAX_SECONDS)
    )


def _claimable(now: datetime | ColumnElement[datetime]) -> list[ColumnElement[bool]]:
    return [
        Job.status == PENDING,
        or_(Job.run_after.is_(None), Job.run_after <= now),
        Job.attempt_count < Job.max_attempts,
    ]


# The columns of a new assignment that differ between the jobs of one claim.
_LEASE_VARYING = ("job_id", "attempt", "lease_token_hash", "expires_at", "deadline", "storage_uri")
# The columns of a new result that differ between the results of one report.
_RESULT_VARYING = ("job_id", "assignment_id", "result_payload", "storage_scheme", "storage_uri")


def _max_run(job: JobLike) -> timedelta:
    job_type = get_job_type(job.type)
    return timedelta(seconds=job_type.max_run_seconds if job_type else 3600)


async def _start(
    session: AsyncSession,
    queue: Queue,
    jobs: Sequence[JobLike],
    *,
    now: datetime,
    principal_id: int,
    worker_id: str | None,
    ecs_task_arn: str | None,
    ecs_cluster_arn: str | None,
    lease_for: timedelta | None,
) -> list[Claimed]:
    """The assignments of jobs just moved to IN_PROGRESS (in this transaction).

    `lease_for` None: a lease of `queue.lease_seconds`, kept alive by heartbeats.
    Otherwise the whole run time up front, for workers that never heartbeat."""
    if not jobs:
        return []
    lease = lease_for or timedelta(seconds=queue.lease_seconds)
    tokens = [secrets.token_urlsafe(32) for _ in jobs]
    # What differs from one assignment to the next; the rest is the same for all.
    varying = []
    for job, token in zip(jobs, tokens, strict=True):
        deadline = now + _max_run(job)
        varying.append(
            (
                job.id,
                job.attempt_count,
                hash_token(token),
                min(now + lease, deadline),
                deadline,
                queue.storage.location(job.type, job.id, job.attempt_count),
            )
        )
    shared = {
        "claimed_by_user_id": principal_id,
        "worker_id": worker_id,
        "ecs_task_arn": ecs_task_arn,
        "ecs_cluster_arn": ecs_cluster_arn,
        "storage_scheme": queue.storage.scheme,
        "created_at": now,
        "updated_at": now,
    }
    table = _table(JobAssignment)
    connection = await session.connection()
    dialect = connection.dialect
    statement = insert_rows(
        shape(dialect, len(varying)), table, _LEASE_VARYING, tuple(shared), ("job_id", "id")
    )
    parameters = insert_params(dialect, table, _LEASE_VARYING, varying, shared)
    ids: dict[int, int] = {
        job_id: id_ for job_id, id_ in (await connection.execute(statement, parameters)).all()
    }
    claimed = [
        Claimed(
            job=job,
            assignment={
                **shared,
                **dict(zip(_LEASE_VARYING, row, strict=True)),
                "id": ids[job.id],
                "heartbeat_at": None,
                "progress": None,
                "message": None,
                "completed_at": None,
                "outcome": None,
                "error": None,
            },
            lease_token=token,
        )
        for job, token, row in zip(jobs, tokens, varying, strict=True)
    ]
    queue.events.publish_after_commit(session, (event_of(c.job) for c in claimed))
    return claimed


@cache
def _claim_statement(dialect_name: str) -> Update:
    """The claim, built once per database kind; parameters claim_types, claim_limit
    and claim_now."""
    now = bindparam("claim_now", type_=UTCDateTime())
    picked = (
        select(Job.id)
        .where(among(dialect_name, Job.type.expression, "claim_types"), *_claimable(now))
        .order_by(Job.priority.desc(), Job.id)
        .limit(bindparam("claim_limit"))
        # PostgreSQL: rows another claimer holds are passed over, not waited for.
        # SQLite has no row locks; its single writer does the same job.
        .with_for_update(skip_locked=True)
    )
    targets: Select[Any]
    if dialect_name == "postgresql":
        # A CTE is evaluated once. As `id IN (subquery)`, PostgreSQL may run the
        # subquery again for each row it joins, each time skipping the rows the
        # previous run locked, and so take more than `limit` jobs.
        chosen = picked.cte("picked").prefix_with("MATERIALIZED")
        targets = select(chosen.c.id)
    else:
        # Python's sqlite3 opens a transaction only before a statement that starts
        # with UPDATE: a `WITH …` statement would run outside it.
        targets = picked
    jobs_table = _table(Job)
    return (
        update(jobs_table)
        .where(jobs_table.c.id.in_(targets), jobs_table.c.status == PENDING)
        .values(status=IN_PROGRESS, attempt_count=jobs_table.c.attempt_count + 1, updated_at=now)
        .returning(*jobs_table.c)
    )


async def claim(
    session: AsyncSession,
    queue: Queue,
    *,
    job_types: Sequence[str],
    limit: int,
    principal_id: int,
    worker_id: str | None,
    now: datetime,
    ecs_task_arn: str | None = None,
    ecs_cluster_arn: str | None = None,
) -> list[Claimed]:
    """Up to `limit` pending jobs of `job_types`, highest priority then oldest first,
    each moved to IN_PROGRESS with a fresh lease, in one statement."""
    if not job_types or limit < 1:
        return []
    connection = await session.connection()
    statement = _claim_statement(connection.dialect.name)
    parameters = {"claim_types": list(job_types), "claim_limit": limit, "claim_now": now}
    # Plain rows, in Core: the ORM's bookkeeping for a hundred jobs costs more than the
    # statement, and nothing here changes them further.
    rows = (await connection.execute(statement, parameters)).all()
    jobs = sorted(rows, key=lambda job: (-job.priority, job.id))
    return await _start(
        session,
        queue,
        jobs,
        now=now,
        principal_id=principal_id,
        worker_id=worker_id,
        ecs_task_arn=ecs_task_arn,
        ecs_cluster_arn=ecs_cluster_arn,
        lease_for=None,
    )


async def assign(
    session: AsyncSession,
    queue: Queue,
    job_id: int,
    *,
    principal_id: int,
    now: datetime,
    ecs_task_arn: str | None = None,
    ecs_cluster_arn: str | None = None,
) -> Claimed:
    """The original's `POST /jobs/assign`, made atomic: of several workers racing
    for one job exactly one gets it. Its workers never heartbeat, so the lease
    lasts the job type's whole run time, as the original's assignment expiry did."""
    statement = (
        update(Job)
        .where(Job.id == job_id, *_claimable(now))
        .values(status=IN_PROGRESS, attempt_count=Job.attempt_count + 1, updated_at=now)
        .returning(Job)
    )
    job = (await session.scalars(statement, execution_options=FRESH_ROWS)).one_or_none()
    if job is None:
        if await session.get(Job, job_id) is None:
            raise NotFound("Job not found")
        raise Conflict(NOT_AVAILABLE)
    (claimed,) = await _start(
        session,
        queue,
        [job],
        now=now,
        principal_id=principal_id,
        worker_id=None,
        ecs_task_arn=ecs_task_arn,
        ecs_cluster_arn=ecs_cluster_arn,
        lease_for=_max_run(job),
    )
    return claimed


def _live(assignment_id: int, lease: Lease, now: datetime) -> list[ColumnElement[bool]]:
    return [
        JobAssignment.id == assignment_id,
        JobAssignment.completed_at.is_(None),
        JobAssignment.expires_at > now,
        lease.condition(),
    ]


async def _not_current(session: AsyncSession, assignment_id: int) -> Exception:
    if await session.get(JobAssignment, assignment_id) is None:
        return NotFound("Assignment not found")
    return Conflict(NOT_CURRENT)


async def live_assignment(
    session: AsyncSession, assignment_id: int, lease: Lease, now: datetime
) -> JobAssignment:
    """The assignment if `lease` is its current holder (for uploads), else 404/409."""
    assignment = await session.scalar(select(JobAssignment).where(*_live(assignment_id, lease, now)))
    if assignment is None:
        raise await _not_current(session, assignment_id)
    return assignment


@dataclass(frozen=True)
class HeartbeatAnswer:
    cancel_requested: bool
    expires_at: datetime


async def heartbeat(
    session: AsyncSession,
    queue: Queue,
    assignment_id: int,
    lease: Lease,
    *,
    now: datetime,
    progress: float | None = None,
    message: str | None = None,
) -> HeartbeatAnswer:
    """Extend the lease by the lease time (never past the job's deadline) and
    record progress; the answer says whether the job's owner asked to cancel."""
    extended = now + timedelta(seconds=queue.lease_seconds)
    values: dict[str, Any] = {
        "expires_at": case((JobAssignment.deadline < extended, JobAssignment.deadline), else_=extended),
        "heartbeat_at": now,
        "updated_at": now,
    }
    if progress is not None:
        values["progress"] = progress
    if message is not None:
        values["message"] = message
    statement = (
        update(JobAssignment)
        .where(*_live(assignment_id, lease, now))
        .values(**values)
        .returning(
            JobAssignment.job_id, JobAssignment.expires_at, JobAssignment.progress, JobAssignment.message
        )
    )
    row = (await session.execute(statement, execution_options=NO_SYNC)).one_or_none()
    if row is None:
        raise await _not_current(session, assignment_id)
    job = await session.get(Job, row.job_id, populate_existing=True)
    assert job is not None  # the assignment's foreign key
    queue.events.publish_after_commit(
        session, [event_of(job, progress=row.progress, message=row.message, at=now)]
    )
    return HeartbeatAnswer(cancel_requested=job.cancel_requested, expires_at=row.expires_at)


@dataclass(frozen=True)
class Report:
    status: str  # SUCCEEDED, FAILED or CANCELLED
    result_payload: dict[str, Any] | None = None
    error: str | None = None
    retryable: bool = False


async def complete(
    session: AsyncSession, queue: Queue, assignment_id: int, lease: Lease, report: Report, *, now: datetime
) -> JobLike:
    """End the lease with the worker's report and move the job on: SUCCEEDED (with
    its result), FAILED, PENDING again after a backoff when a retryable failure has
    attempts left, or CANCELLED when its owner asked (whatever the worker says)."""
    if report.status == SUCCEEDED:
        reports = [(assignment_id, lease, report)]
        outcome = (await complete_many(session, queue, reports, now=now, whole_jobs=True))[0]
        if isinstance(outcome, ApiError):
            raise outcome
        assert outcome.job is not None
        return outcome.job
    if report.status not in {FAILED, CANCELLED}:
        raise BadRequest("status must be SUCCEEDED, FAILED or CANCELLED")
    ended = (
        await session.execute(
            update(JobAssignment)
            .where(*_live(assignment_id, lease, now))
            .values(completed_at=now, outcome=report.status, error=report.error, updated_at=now)
            .returning(JobAssignment.job_id, JobAssignment.attempt, JobAssignment.created_at),
            execution_options=NO_SYNC,
        )
    ).one_or_none()
    if ended is None:
        raise await _not_current(session, assignment_id)
    outcome_status: Any = report.status
    run_after: Any = Job.run_after
    if report.status == FAILED and report.retryable:
        outcome_status = case((Job.attempt_count < Job.max_attempts, PENDING), else_=FAILED)
        run_after = case(
            (Job.attempt_count < Job.max_attempts, now + retry_backoff(ended.attempt)), else_=Job.run_after
        )
    job = await _move_on(session, queue, ended.job_id, outcome_status, now=now, run_after=run_after)
    _count_runs(
        session, queue, [FinishedRun(job.type, report.status, (now - ended.created_at).total_seconds())]
    )
    return job


def _count_runs(session: AsyncSession, queue: Queue, runs: list[FinishedRun]) -> None:
    """Each run's time from claim to report, once the report has committed."""
    if runs:
        after_commit(session, lambda: queue.metrics.ran(runs))


@dataclass(frozen=True)
class Completed:
    job_id: int
    status: str
    # The job's row as the completion left it (complete_many's `whole_jobs`).
    job: Row[Any] | None = None


_PRESENTED = (_table(JobAssignment).c.id, _table(JobAssignment).c.lease_token_hash)


def _ending_leases(dialect_name: str) -> Update:
    """Live leases among lease_ids end SUCCEEDED at lease_now (the holder's condition
    is added by the caller)."""
    leases = _table(JobAssignment).c
    now = bindparam("lease_now", type_=UTCDateTime())
    return (
        update(_table(JobAssignment))
        .where(
            among(dialect_name, leases.id, "lease_ids"),
            leases.completed_at.is_(None),
            leases.expires_at > now,
        )
        .values(completed_at=now, outcome=SUCCEEDED, updated_at=now)
        .returning(leases.id, leases.job_id, leases.storage_scheme, leases.storage_uri, leases.created_at)
    )


@lru_cache(maxsize=SHAPES_KEPT)
def _end_leases_by_token(dialect_shape: tuple[str, int | None]) -> Update:
    """Presented with their tokens (the rows `presented`: id and token hash). The id
    list is said twice: as a list, it makes PostgreSQL look the leases up by their key
    (joined to the rows alone, it may walk every live lease instead)."""
    leases = _table(JobAssignment).c
    presented = rows_of(dialect_shape, "presented", _PRESENTED)
    return _ending_leases(dialect_shape[0]).where(
        leases.id == presented.c.id, leases.lease_token_hash == presented.c.lease_token_hash
    )


@cache
def _end_leases_by_principal(dialect_name: str) -> Update:
    """Presented without tokens, by the principal (lease_principal) that claimed them."""
    leases = _table(JobAssignment).c
    return _ending_leases(dialect_name).where(leases.claimed_by_user_id == bindparam("lease_principal"))


@cache
def _succeed_jobs(dialect_name: str, whole_jobs: bool) -> Update:
    """The running jobs among job_ids become SUCCEEDED at job_now (CANCELLED if their
    owner asked); each returned whole, or what an answer and an event need."""
    jobs = _table(Job).c
    returned = jobs if whole_jobs else (jobs.id, jobs.type, jobs.status, jobs.user_id, jobs.updated_at)
    return (
        update(_table(Job))
        .where(among(dialect_name, jobs.id, "job_ids"), jobs.status == IN_PROGRESS)
        .values(
            status=case((jobs.cancel_requested, CANCELLED), else_=SUCCEEDED),
            updated_at=bindparam("job_now", type_=UTCDateTime()),
        )
        .returning(*returned)
    )


async def complete_many(
    session: AsyncSession,
    queue: Queue,
    reports: Sequence[tuple[int, Lease, Report]],
    *,
    now: datetime,
    whole_jobs: bool = False,
) -> list[Completed | ApiError]:
    """Successful results, many at once, in a handful of statements whatever their
    number: the leases end, the jobs become SUCCEEDED (or CANCELLED, if their owner
    asked), their results are stored. One answer per report, in order: what the
    job became (with its whole row if `whole_jobs`), or the error the single-result
    route would give."""
    answers: list[Completed | ApiError | None] = [None] * len(reports)
    wanted: dict[int, int] = {}  # assignment id -> index of its (first) report
    by_token: list[tuple[int, str]] = []
    by_principal: dict[int, list[int]] = {}
    for index, (assignment_id, lease, report) in enumerate(reports):
        if report.status != SUCCEEDED:
            answers[index] = BadRequest("Only SUCCEEDED results are completed together")
        elif assignment_id in wanted:
            answers[index] = Conflict(NOT_CURRENT)  # the same assignment twice: the first ends it
        else:
            wanted[assignment_id] = index
            if lease.token:
                by_token.append((assignment_id, hash_token(lease.token)))
            else:
                by_principal.setdefault(lease.principal_id, []).append(assignment_id)
    # In Core, on plain rows, in statements built once: the path a busy fleet's results take.
    connection = await session.connection()
    dialect = connection.dialect
    ended: list[Any] = []
    if by_token:
        statement = _end_leases_by_token(shape(dialect, len(by_token)))
        parameters = {
            **rows_params(dialect, "presented", _PRESENTED, by_token),
            "lease_ids": [assignment_id for assignment_id, _ in by_token],
            "lease_now": now,
        }
        ended += (await connection.execute(statement, parameters)).all()
    for principal_id, assignment_ids in by_principal.items():
        parameters = {"lease_ids": assignment_ids, "lease_principal": principal_id, "lease_now": now}
        ended += (await connection.execute(_end_leases_by_principal(dialect.name), parameters)).all()
    moved: dict[int, Any] = {}
    if ended:
        parameters = {"job_ids": [row.job_id for row in ended], "job_now": now}
        rows = (await connection.execute(_succeed_jobs(dialect.name, whole_jobs), parameters)).all()
        moved = {row.id: row for row in rows}
    results: list[tuple[Any, ...]] = []
    runs = []
    for row in ended:
        index = wanted.pop(row.id)
        job = moved.get(row.job_id)
        if job is None:  # only a sweep can have ended the job under a live lease (by its age)
            answers[index] = Conflict(NOT_CURRENT)
            continue
        answers[index] = Completed(job_id=job.id, status=job.status, job=job if whole_jobs else None)
        runs.append(FinishedRun(job.type, SUCCEEDED, (now - row.created_at).total_seconds()))
        if job.status == SUCCEEDED:
            payload = reports[index][2].result_payload
            results.append((job.id, row.id, payload, row.storage_scheme, row.storage_uri))
    if results:
        stored = _table(JobResult)
        shared = {"cache_valid": True, "created_at": now}
        storing = insert_rows(shape(dialect, len(results)), stored, _RESULT_VARYING, tuple(shared))
        await connection.execute(storing, insert_params(dialect, stored, _RESULT_VARYING, results, shared))
    _count_runs(session, queue, runs)
    if wanted:  # leases that were not live, or not the caller's
        known = set(
            (await session.scalars(select(JobAssignment.id).where(JobAssignment.id.in_(list(wanted))))).all()
        )
        for assignment_id, index in wanted.items():
            answers[index] = (
                Conflict(NOT_CURRENT) if assignment_id in known else NotFound("Assignment not found")
            )
    queue.events.publish_after_commit(session, (event_of(job) for job in moved.values()))
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


async def release(
    session: AsyncSession, queue: Queue, assignment_id: int, lease: Lease, *, now: datetime
) -> Job:
    """Give the job back untouched: PENDING again, the attempt not counted against
    its limit."""
    ended = (
        await session.execute(
            update(JobAssignment)
            .where(*_live(assignment_id, lease, now))
            .values(completed_at=now, outcome=RELEASED, updated_at=now)
            .returning(JobAssignment.job_id),
            execution_options=NO_SYNC,
        )
    ).one_or_none()
    if ended is None:
        raise await _not_current(session, assignment_id)
    # The attempt keeps its number (and so its own storage folder); the job gets one more.
    return await _move_on(session, queue, ended.job_id, PENDING, now=now, max_attempts=Job.max_attempts + 1)


async def _move_on(
    session: AsyncSession, queue: Queue, job_id: int, status: Any, *, now: datetime, **values: Any
) -> Job:
    """The running job whose lease just ended becomes `status` (CANCELLED instead if
    its owner asked), announced to listeners and, if PENDING again, to waiting claims."""
    job = (
        await session.scalars(
            update(Job)
            .where(Job.id == job_id, Job.status == IN_PROGRESS)
            .values(status=case((Job.cancel_requested, CANCELLED), else_=status), updated_at=now, **values)
            .returning(Job),
            execution_options=FRESH_ROWS,
        )
    ).one_or_none()
    if job is None:
        # Only a sweep can have ended the job under a live lease (by its age).
        raise Conflict(NOT_CURRENT)
    queue.events.publish_after_commit(session, [event_of(job)])
    if job.status == PENDING:
        await queue.signals.announce(session, job.type)
    return job


async def cancel(session: AsyncSession, queue: Queue, job_id: int, *, now: datetime) -> Job:
    """PENDING → CANCELLED at once; IN_PROGRESS → cancel requested (the worker hears it
    on its next heartbeat, and the job ends CANCELLED); a finished job → 400."""
    for condition, values in (
        (Job.status == PENDING, {"status": CANCELLED}),
        (Job.status == IN_PROGRESS, {"cancel_requested": True}),
    ):
        job = (
            await session.scalars(
                update(Job)
                .where(Job.id == job_id, condition)
                .values(updated_at=now, **values)
                .returning(Job),
                execution_options=FRESH_ROWS,
            )
        ).one_or_none()
        if job is not None:
            queue.events.publish_after_commit(
                session, [event_of(job, message="Cancel requested" if job.status == IN_PROGRESS else None)]
            )
            return job
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound("Job not found")
    raise BadRequest(f"Job is already {job.status} and cannot be cancelled")


async def _settle_orphans(session: AsyncSession, queue: Queue, now: datetime) -> list[Job]:
    """IN_PROGRESS jobs left without a live lease move on: CANCELLED if asked, TIMED_OUT
    when the run hit its deadline or no attempt is left, else PENDING again."""
    live = exists().where(JobAssignment.job_id == Job.id, JobAssignment.completed_at.is_(None))
    ran_out_of_time = exists().where(
        JobAssignment.job_id == Job.id,
        JobAssignment.attempt == Job.attempt_count,
        JobAssignment.outcome == TIMED_OUT,
    )
    jobs = (
        await session.scalars(
            update(Job)
            .where(Job.status == IN_PROGRESS, ~live)
            .values(
                status=case(
                    (Job.cancel_requested, CANCELLED),
                    (or_(ran_out_of_time, Job.attempt_count >= Job.max_attempts), TIMED_OUT),
                    else_=PENDING,
                ),
                updated_at=now,
            )
            .returning(Job),
            execution_options=FRESH_ROWS,
        )
    ).all()
    queue.events.publish_after_commit(session, [event_of(job) for job in jobs])
    requeued: dict[str, int] = {}
    for job in jobs:
        if job.status == PENDING:
            requeued[job.type] = requeued.get(job.type, 0) + 1
    for job_type, count in requeued.items():
        await queue.signals.announce(session, job_type, count)
    return list(jobs)


async def expire_leases(session: AsyncSession, queue: Queue, *, now: datetime) -> list[Job]:
    """The lease sweep: end every lease past its expiry (TIMED_OUT past the job's
    deadline, EXPIRED otherwise), then settle their jobs. Idempotent, and safe to
    run in several processes at once: each statement changes only what still needs it."""
    expired_job_ids = (
        await session.scalars(
            update(JobAssignment)
            .where(JobAssignment.completed_at.is_(None), JobAssignment.expires_at <= now)
            .values(
                completed_at=now,
                outcome=case((JobAssignment.deadline <= now, TIMED_OUT), else_=EXPIRED),
                updated_at=now,
            )
            .returning(JobAssignment.job_id)
            .execution_options(**NO_SYNC)
        )
    ).all()
    if expired_job_ids:
        # Rare: one more query, for their types, costs nothing that matters.
        expired_types = (await session.scalars(select(Job.type).where(Job.id.in_(expired_job_ids)))).all()
        after_commit(session, lambda: queue.metrics.leases_ended(expired_types))
    return await _settle_orphans(session, queue, now)


async def time_out_old_jobs(
    session: AsyncSession,
    queue: Queue,
    *,
    now: datetime,
    older_than: timedelta,
    job_types: Sequence[str] | None = None,
) -> list[Job]:
    """The original's job expiry: PENDING and IN_PROGRESS jobs created more than
    `older_than` ago end TIMED_OUT, and their live leases end with them."""
    conditions: list[ColumnElement[bool]] = [
        Job.status.in_([PENDING, IN_PROGRESS]),
        Job.created_at < now - older_than,
    ]
    if job_types is not None:
        conditions.append(Job.type.in_(job_types) if job_types else false())
    jobs = (
        await session.scalars(
            update(Job).where(*conditions).values(status=TIMED_OUT, updated_at=now).returning(Job),
            execution_options=FRESH_ROWS,
        )
    ).all()
    await session.execute(
        update(JobAssignment)
        .where(
            JobAssignment.completed_at.is_(None),
            JobAssignment.job_id.in_(select(Job.id).where(Job.status == TIMED_OUT)),
        )
        .values(completed_at=now, outcome=TIMED_OUT, updated_at=now)
        .execution_options(**NO_SYNC)
    )
    queue.events.publish_after_commit(session, [event_of(job) for job in jobs])
    return list(jobs)


def pending_condition(now: datetime) -> ColumnElement[bool]:
    """Jobs a worker could claim now (for `GET /jobs/poll`)."""
    return and_(*_claimable(now))
