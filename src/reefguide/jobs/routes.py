"""HTTP routes of /api/jobs: users submit and follow jobs; workers claim and report.

Users are ANALYST (or ADMIN); workers are WORKER service accounts (or ADMIN).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any, cast

from fastapi import Depends, Query, Request, Response
from opentelemetry.trace import Tracer
from pydantic import ValidationError
from pydantic_core import to_json
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.auth.dependencies import AdminUser, AnalystUser, WorkerUser, require_roles
from reefguide.db.session import SessionDep, unit_of_work
from reefguide.errors import ApiError, BadRequest, Forbidden, invalid
from reefguide.http.responses import ModelResponse
from reefguide.http.routing import ApiRouter
from reefguide.jobs import queue as job_queue
from reefguide.jobs import service as jobs
from reefguide.jobs.dependencies import ClockDep, QueueDep
from reefguide.jobs.models import Job
from reefguide.jobs.queue import Claimed, JobLike, Lease, Report
from reefguide.jobs.schemas import (
    AssignIn,
    AssignmentRow,
    AssignOut,
    BatchResultOutcome,
    BatchResultsIn,
    BatchResultsOut,
    ClaimIn,
    ClaimOut,
    CreateJobIn,
    CreateJobOut,
    DownloadOut,
    HeartbeatIn,
    HeartbeatOut,
    Id,
    InvalidateCacheIn,
    InvalidateCacheOut,
    Invalidated,
    JobDetails,
    JobListOut,
    JobOut,
    JobRequestListOut,
    JobRequestRow,
    JobResultRow,
    JobRow,
    JobSummary,
    LeasedAssignment,
    LeaseIn,
    PollOut,
    ReleaseOut,
    ResultIn,
    ResultOut,
    StatsOut,
    TimeoutJobsIn,
    TimeoutJobsOut,
    TypeStatsOut,
    UploadsIn,
    UploadsOut,
)
from reefguide.jobs.types import get_job_type
from reefguide.observability.tracing import claim_trace_context, request_trace_context
from reefguide.settings import Settings
from reefguide.storage import Storage
from reefguide.users.models import Role, User

router = ApiRouter(prefix="/jobs", tags=["jobs"])
# The worker protocol's routes, apart: included ahead of the others, so the requests a
# busy fleet makes are matched first (FastAPI tries routes in order, each try costing).
worker_router = ApiRouter(prefix="/jobs", tags=["jobs"])
NOT_CURRENT_RESPONSES: dict[int | str, dict[str, Any]] = {409: {"description": job_queue.NOT_CURRENT}}
admin_router = ApiRouter(prefix="/admin", tags=["admin"])

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 500
POLL_LIMIT_DEFAULT = 10
# A waiting claim looks at the queue again this often, whatever it hears.
CLAIM_POLL_SECONDS = 1.0

Limit = Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)]
Offset = Annotated[int, Query(ge=0)]
StatusFilter = Annotated[
    str | None, Query(description="Comma-separated statuses, e.g. PENDING,IN_PROGRESS", max_length=200)
]
StatsReader = Annotated[User, Depends(require_roles(Role.ANALYST, Role.WORKER))]


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _details(job: Job) -> JobDetails:
    result = jobs.latest_result(job)
    return JobDetails.model_validate(
        {
            **JobRow.model_validate(job).model_dump(),
            "assignments": job.assignments,
            "result": None if result is None else JobResultRow.model_validate(result),
        }
    )


def _api_root(request: Request) -> str:
    """The API's address as this caller reached it (scheme, host, port, root path)."""
    return str(request.base_url).rstrip("/")


def _job_row(job: JobLike) -> JobRow:
    # A plain row validates fastest as the mapping it is.
    return JobRow.model_validate(job._mapping if isinstance(job, Row) else job)


def _leased(claimed: Claimed) -> LeasedAssignment:
    return LeasedAssignment.model_validate({**claimed.assignment, "leaseToken": claimed.lease_token})


# Users.


@router.post("")
async def create_job(
    body: CreateJobIn,
    request: Request,
    user: AnalystUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CreateJobOut:
    """Submit a job. The input is checked against the type's schema and its defaults
    filled in; an identical earlier job (SUCCEEDED with a valid result, else running,
    else pending) answers instead of a new one, with `cached: true`."""
    cache = jobs.CachePolicy(
        disabled=settings.disable_cache, disabled_types=frozenset(settings.disable_specific_caches)
    )
    submitted = await jobs.submit(
        session,
        queue,
        user,
        type_name=body.type,
        input_payload=body.input_payload,
        cache=cache,
        now=clock(),
        trace_context=request_trace_context(request.headers),
    )
    return CreateJobOut(job_id=submitted.job_id, cached=submitted.cached, request_id=submitted.request_id)


@router.get("")
async def list_jobs(
    user: AnalystUser,
    session: SessionDep,
    status: StatusFilter = None,
    user_id: Annotated[Id | None, Query(alias="userId")] = None,
    limit: Limit = LIST_LIMIT_DEFAULT,
    offset: Offset = 0,
) -> JobListOut:
    """Jobs, newest change first: an admin sees everyone's (or `userId`'s), anyone
    else their own (asking for someone else's is 403)."""
    statuses = jobs.parse_statuses(status)
    if user_id is not None and user_id != user.id and not jobs.is_admin(user):
        raise Forbidden("You may only list your own jobs")
    if user_id is not None:
        condition = Job.user_id == user_id
    elif jobs.is_admin(user):
        condition = jobs.job_readable(user)
    else:
        condition = Job.user_id == user.id
    page = await jobs.list_jobs(session, condition=condition, statuses=statuses, limit=limit, offset=offset)
    return JobListOut(jobs=[_details(job) for job in page.items], total=page.total)


@router.get("/mine")
async def my_jobs(
    user: AnalystUser,
    session: SessionDep,
    status: StatusFilter = None,
    limit: Limit = LIST_LIMIT_DEFAULT,
    offset: Offset = 0,
) -> JobListOut:
    statuses = jobs.parse_statuses(status)
    page = await jobs.list_jobs(
        session, condition=Job.user_id == user.id, statuses=statuses, limit=limit, offset=offset
    )
    return JobListOut(jobs=[_details(job) for job in page.items], total=page.total)


@router.get("/requests")
async def job_requests(
    user: AnalystUser, session: SessionDep, limit: Limit = LIST_LIMIT_DEFAULT, offset: Offset = 0
) -> JobRequestListOut:
    """Your submissions (an admin: everyone's), newest first, each with the job that answered it."""
    page = await jobs.list_requests(session, user, limit=limit, offset=offset)
    return JobRequestListOut(
        job_requests=[JobRequestRow.model_validate(item) for item in page.items], total=page.total
    )


@router.get("/stats")
async def job_stats(_user: StatsReader, session: SessionDep, clock: ClockDep) -> StatsOut:
    """Per job type: the whole pending backlog, jobs running, the oldest pending job's
    age, and how many jobs reached each status in the last hour."""
    by_type = await jobs.stats(session, now=clock())
    return StatsOut(
        job_types={
            name: TypeStatsOut(
                pending=entry.pending,
                in_progress=entry.in_progress,
                oldest_pending_age_seconds=entry.oldest_pending_age_seconds,
                last_hour=entry.last_hour,
            )
            for name, entry in sorted(by_type.items())
        }
    )


@router.post("/invalidate-cache")
async def invalidate_cache(
    body: InvalidateCacheIn, _admin: AdminUser, session: SessionDep
) -> InvalidateCacheOut:
    """Results of this type stop answering new requests (the jobs and files stay)."""
    affected = await jobs.invalidate_cache(session, body.job_type)
    return InvalidateCacheOut(
        message="Cache invalidated",
        invalidated=Invalidated(job_type=body.job_type, affected_results=affected),
    )


# Workers. Declared before /{job_id} so that the literal paths win.


@worker_router.get("/poll")
async def poll(
    _worker: WorkerUser,
    session: SessionDep,
    clock: ClockDep,
    job_type: Annotated[str | None, Query(alias="jobType", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = POLL_LIMIT_DEFAULT,
) -> PollOut:
    """Pending jobs a worker could take now, by priority then age (the original's
    worker protocol; `POST /jobs/claim` takes them in one step)."""
    if job_type is not None:
        jobs.job_type_named(job_type)
    found = (await session.scalars(jobs.pending_jobs(job_type=job_type, now=clock(), limit=limit))).all()
    return PollOut(jobs=[JobRow.model_validate(job) for job in found])


@worker_router.post("/assign", responses={409: {"description": job_queue.NOT_AVAILABLE}})
async def assign(
    body: AssignIn, worker: WorkerUser, session: SessionDep, queue: QueueDep, clock: ClockDep
) -> AssignOut:
    """Take one job (the original's protocol, made atomic: of several workers racing
    for a job, one gets it and the rest 409). The lease lasts the job type's maximum
    run time, since these workers send no heartbeats."""
    claimed = await job_queue.assign(
        session,
        queue,
        body.job_id,
        principal_id=worker.id,
        now=clock(),
        ecs_task_arn=body.ecs_task_arn,
        ecs_cluster_arn=body.ecs_cluster_arn,
    )
    return AssignOut(assignment=_leased(claimed))


@worker_router.post("/claim", response_model=ClaimOut)
async def claim(
    body: ClaimIn, request: Request, worker: WorkerUser, queue: QueueDep, clock: ClockDep
) -> Response:
    """Take up to `max` pending jobs of `jobTypes` at once. With `waitSeconds`, wait
    for one to arrive (answered as soon as one does) or answer an empty list at the
    deadline. Each comes with a lease of JOB_LEASE_SECONDS, kept by heartbeats."""
    for name in body.job_types:
        jobs.job_type_named(name)
    started = time.monotonic()
    deadline = started + body.wait_seconds
    waker = request.app.state.claim_waker
    tracer = request.app.state.tracer
    while True:
        # A transaction per attempt: nothing is held while waiting.
        async with unit_of_work(request.app.state.sessionmaker) as session:
            claimed = await job_queue.claim(
                session,
                queue,
                job_types=body.job_types,
                limit=body.max,
                principal_id=worker.id,
                worker_id=body.worker_id,
                now=clock(),
                ecs_task_arn=body.ecs_task_arn,
                ecs_cluster_arn=body.ecs_cluster_arn,
            )
            answer = _claim_answer(claimed, tracer)
        now = time.monotonic()
        if claimed or now >= deadline or request.app.state.jobs.draining.is_set():
            queue.metrics.claim_answered(now - started, claimed=bool(claimed))
            return answer
        remaining = deadline - now
        woken = await waker.wait(body.job_types, min(remaining, CLAIM_POLL_SECONDS))
        if await request.is_disconnected():
            # Nobody would receive what this claim took (a worker stopping, say): stop
            # here, and pass a wake-up on to the claims still waiting.
            if woken:
                for job_type in body.job_types:
                    waker.notify(job_type)
            return _claim_answer([], tracer)


# The fields of the claim's rows, as ClaimOut declares them.
_ASSIGNMENT_FIELDS = tuple(AssignmentRow.model_fields)
_JOB_FIELDS = tuple(JobRow.model_fields)


def _claim_answer(claimed: list[Claimed], tracer: Tracer | None) -> Response:
    """ClaimOut, serialised straight from the rows the claim wrote and returned: for a
    hundred jobs, validating again what the database just gave was most of the route's
    time. tests/jobs/test_workers.py checks that it reads back as a ClaimOut."""
    rows = [c.job for c in claimed if isinstance(c.job, Row)]
    assert len(rows) == len(claimed)  # a claim returns the jobs table's rows
    # Where each field sits in those rows: a row read by position costs a tenth of one
    # read by name.
    positions = [(name, rows[0]._fields.index(name)) for name in _JOB_FIELDS] if rows else []
    answer = [
        {
            "assignment": {
                **{name: c.assignment[name] for name in _ASSIGNMENT_FIELDS},
                "leaseToken": c.lease_token,
            },
            "job": {name: row[position] for name, position in positions},
            "traceContext": _claim_trace(tracer, c),
        }
        for c, row in zip(claimed, rows, strict=True)
    ]
    return Response(to_json({"assignments": answer}), media_type="application/json")


def _claim_trace(tracer: Tracer | None, claimed: Claimed) -> dict[str, str] | None:
    if tracer is None:  # not tracing: the job's own context, as it was kept
        return cast(dict[str, str] | None, claimed.job.trace_context)
    attributes = {
        "reefguide.job.id": claimed.job.id,
        "reefguide.job.type": claimed.job.type,
        "reefguide.assignment.id": claimed.assignment["id"],
        "reefguide.job.attempt": claimed.assignment["attempt"],
    }
    return claim_trace_context(tracer, claimed.job.trace_context, attributes)


def _lease(body: LeaseIn, worker: User) -> Lease:
    return Lease(token=body.lease_token, principal_id=worker.id)


@worker_router.post("/assignments/results", response_model=BatchResultsOut)
async def report_results(
    body: BatchResultsIn, worker: WorkerUser, session: SessionDep, queue: QueueDep, clock: ClockDep
) -> ModelResponse:
    """Report many results in one request; each is answered on its own (its status
    code and message as the single-result route would give them). Successes are
    completed together, in a few statements whatever their number."""
    now = clock()
    checked = await _checked_payloads(session, [(item.assignment_id, item) for item in body.results])
    answers: dict[int, job_queue.Completed | ApiError] = {}
    together: list[tuple[int, tuple[int, Lease, Report]]] = []
    for index, item in enumerate(body.results):
        payload = checked[index]
        if isinstance(payload, ApiError):
            answers[index] = payload
        elif item.status == job_queue.SUCCEEDED:
            report = Report(status=item.status, result_payload=payload)
            together.append((index, (item.assignment_id, _lease(item, worker), report)))
    completed = await job_queue.complete_many(session, queue, [entry for _, entry in together], now=now)
    answers.update({index: answer for (index, _), answer in zip(together, completed, strict=True)})
    for index, item in enumerate(body.results):
        if index in answers:
            continue
        report = Report(status=item.status, result_payload=None, error=item.error, retryable=item.retryable)
        try:
            job = await job_queue.complete(
                session, queue, item.assignment_id, _lease(item, worker), report, now=now
            )
        except ApiError as error:
            answers[index] = error
        else:
            answers[index] = job_queue.Completed(job_id=job.id, status=job.status)
    return ModelResponse(
        BatchResultsOut(
            results=[
                _batch_outcome(item.assignment_id, answers[index]) for index, item in enumerate(body.results)
            ]
        )
    )


def _batch_outcome(assignment_id: int, answer: job_queue.Completed | ApiError) -> BatchResultOutcome:
    if isinstance(answer, ApiError):
        return BatchResultOutcome(
            assignment_id=assignment_id, status=answer.status_code, message=answer.message
        )
    return BatchResultOutcome(assignment_id=assignment_id, status=200, job_status=answer.status)


async def _checked_payloads(
    session: AsyncSession, items: list[tuple[int, ResultIn]]
) -> list[dict[str, Any] | ApiError | None]:
    """Each successful report's result payload checked against its job type's result
    schema (one query finds the types): the payload as parsed, or the 400 it earns.
    A failure's payload is not kept (a FAILED job stores no result)."""
    to_check = [
        assignment_id
        for assignment_id, body in items
        if body.status == job_queue.SUCCEEDED and body.result_payload is not None
    ]
    types = await jobs.assignment_job_types(session, to_check) if to_check else {}
    checked: list[dict[str, Any] | ApiError | None] = []
    for assignment_id, body in items:
        job_type = get_job_type(types.get(assignment_id, ""))
        if body.status != job_queue.SUCCEEDED or body.result_payload is None or job_type is None:
            # An unknown assignment is answered 404 by the queue.
            checked.append(None if body.status != job_queue.SUCCEEDED else body.result_payload)
            continue
        try:
            checked.append(job_type.parse_result(body.result_payload))
        except ValidationError as error:
            checked.append(
                invalid(
                    f"Invalid result payload for job type {job_type.name}",
                    error.errors(include_input=False, include_url=False),
                    prefix="resultPayload",
                )
            )
    return checked


@worker_router.post("/assignments/{assignment_id}/result", responses=NOT_CURRENT_RESPONSES)
async def report_result(
    assignment_id: Id,
    body: ResultIn,
    worker: WorkerUser,
    session: SessionDep,
    queue: QueueDep,
    clock: ClockDep,
) -> ResultOut:
    """End the assignment with its outcome. SUCCEEDED stores the result (checked
    against the type's result schema); FAILED with `retryable` tries again after a
    backoff while attempts remain. Only the current, unexpired lease may report."""
    (payload,) = await _checked_payloads(session, [(assignment_id, body)])
    if isinstance(payload, ApiError):
        raise payload
    report = Report(status=body.status, result_payload=payload, error=body.error, retryable=body.retryable)
    job = await job_queue.complete(session, queue, assignment_id, _lease(body, worker), report, now=clock())
    return ResultOut(job=_job_row(job))


@worker_router.post("/assignments/{assignment_id}/heartbeat", responses=NOT_CURRENT_RESPONSES)
async def heartbeat(
    assignment_id: Id,
    body: HeartbeatIn,
    worker: WorkerUser,
    session: SessionDep,
    queue: QueueDep,
    clock: ClockDep,
) -> HeartbeatOut:
    """Keep the lease (JOB_LEASE_SECONDS more, never past the type's maximum run time)
    and report progress; the answer says whether the job's owner asked to cancel."""
    answer = await job_queue.heartbeat(
        session,
        queue,
        assignment_id,
        _lease(body, worker),
        now=clock(),
        progress=body.progress,
        message=body.message,
    )
    return HeartbeatOut(cancel_requested=answer.cancel_requested, expires_at=answer.expires_at)


@worker_router.post("/assignments/{assignment_id}/uploads", responses=NOT_CURRENT_RESPONSES)
async def upload_urls(
    assignment_id: Id,
    body: UploadsIn,
    request: Request,
    worker: WorkerUser,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> UploadsOut:
    """Where to PUT each result file; the worker needs no storage credentials."""
    assignment = await job_queue.live_assignment(session, assignment_id, _lease(body, worker), clock())
    storage: Storage = request.app.state.storage
    urls = await storage.upload_urls(
        assignment.storage_uri, body.files, settings.s3_url_expiry_seconds, base_url=_api_root(request)
    )
    return UploadsOut(urls=urls)


@worker_router.post("/assignments/{assignment_id}/release", responses=NOT_CURRENT_RESPONSES)
async def release(
    assignment_id: Id,
    body: LeaseIn,
    worker: WorkerUser,
    session: SessionDep,
    queue: QueueDep,
    clock: ClockDep,
) -> ReleaseOut:
    """Give the job back untouched (PENDING again, the attempt not counted)."""
    job = await job_queue.release(session, queue, assignment_id, _lease(body, worker), now=clock())
    return ReleaseOut(job=JobRow.model_validate(job))


# One job.


@router.get("/{job_id}")
async def get_job(job_id: Id, user: AnalystUser, session: SessionDep) -> JobOut:
    """The job with its assignments (progress, message) and result. Readable by its
    owner, admins, and users whose request the cache answered with it."""
    return JobOut(job=_details(await jobs.readable_job(session, user, job_id)))


@router.post("/{job_id}/cancel")
async def cancel_job(
    job_id: Id, user: AnalystUser, session: SessionDep, queue: QueueDep, clock: ClockDep
) -> JobOut:
    """PENDING: cancelled at once. IN_PROGRESS: cancel requested; the worker hears it
    on its next heartbeat and the job ends CANCELLED. Finished: 400."""
    await jobs.changeable_job(session, user, job_id)
    await job_queue.cancel(session, queue, job_id, now=clock())
    return JobOut(job=_details(await jobs.readable_job(session, user, job_id)))


@router.get("/{job_id}/download")
async def download(
    job_id: Id,
    user: AnalystUser,
    session: SessionDep,
    request: Request,
    settings: SettingsDep,
    expiry_seconds: Annotated[int | None, Query(alias="expirySeconds", ge=1, le=7 * 24 * 3600)] = None,
    filter_prefix: Annotated[str | None, Query(alias="filterPrefix", max_length=1024)] = None,
) -> DownloadOut:
    """Links to the files of a SUCCEEDED job's result (at most S3_MAX_FILES)."""
    job = await jobs.readable_job(session, user, job_id)
    result = jobs.latest_result(job)
    if job.status != job_queue.SUCCEEDED or result is None:
        raise BadRequest(f"Job is {job.status}: only a SUCCEEDED job has files to download")
    storage: Storage = request.app.state.storage
    files = await storage.download_urls(
        result.storage_uri,
        prefix=filter_prefix or None,
        max_files=settings.s3_max_files,
        expires_seconds=expiry_seconds or settings.s3_url_expiry_seconds,
        base_url=_api_root(request),
    )
    return DownloadOut(job=JobSummary.model_validate(job), files=files)


# Admin.


@admin_router.post("/timeout-jobs")
async def timeout_jobs(
    body: TimeoutJobsIn, _admin: AdminUser, session: SessionDep, queue: QueueDep, clock: ClockDep
) -> TimeoutJobsOut:
    """PENDING and IN_PROGRESS jobs created more than `timeoutThresholdMinutes` ago
    (of `jobTypes`, if given) end TIMED_OUT."""
    for name in body.job_types or ():
        jobs.job_type_named(name)
    timed_out = await job_queue.time_out_old_jobs(
        session,
        queue,
        now=clock(),
        older_than=timedelta(minutes=body.timeout_threshold_minutes),
        job_types=body.job_types,
    )
    by_type: dict[str, int] = {}
    for job in timed_out:
        by_type[job.type] = by_type.get(job.type, 0) + 1
    return TimeoutJobsOut(
        total_timed_out=len(timed_out), by_type=by_type, timed_out_job_ids=sorted(job.id for job in timed_out)
    )
