"""Request and response bodies of /api/jobs.

Job, assignment, result and request rows keep the original's snake_case field
names (it serialised its database rows as they were); the envelopes around them
and the request bodies are camelCase, as there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from reefguide.schemas import ApiModel

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
TypeName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Arn = Annotated[str, StringConstraints(max_length=2048)]
LeaseToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]
RelativePath = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
MAX_CLAIM = 100
MAX_WAIT_SECONDS = 60.0
MAX_BATCH = 1000


# Rows, snake_case.


class Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class JobResultRow(Row):
    id: int
    created_at: datetime
    job_id: int
    assignment_id: int
    result_payload: dict[str, Any] | None
    storage_scheme: str
    storage_uri: str
    metadata: dict[str, Any] | None = Field(validation_alias=AliasChoices("meta", "metadata"))
    cache_valid: bool


class AssignmentRow(Row):
    id: int
    created_at: datetime
    updated_at: datetime
    job_id: int
    attempt: int
    worker_id: str | None
    ecs_task_arn: str | None
    ecs_cluster_arn: str | None
    expires_at: datetime
    deadline: datetime
    heartbeat_at: datetime | None
    progress: float | None
    message: str | None
    storage_scheme: str
    storage_uri: str
    completed_at: datetime | None
    outcome: str | None
    error: str | None


class AssignmentDetails(AssignmentRow):
    result: JobResultRow | None


class LeasedAssignment(AssignmentRow):
    """An assignment as its worker receives it: with the lease token, shown only here."""

    leaseToken: str  # the wire name, camelCase beside the row's snake_case fields


class JobRow(Row):
    id: int
    created_at: datetime
    updated_at: datetime
    type: str
    status: str
    hash: str
    user_id: int | None
    input_payload: dict[str, Any]
    priority: int
    attempt_count: int
    max_attempts: int
    run_after: datetime | None
    cancel_requested: bool


class JobDetails(JobRow):
    assignments: list[AssignmentDetails]
    result: JobResultRow | None


class JobRequestRow(Row):
    id: int
    created_at: datetime
    user_id: int
    type: str
    input_payload: dict[str, Any]
    cache_hit: bool
    job_id: int


# Users.


class CreateJobIn(ApiModel):
    type: TypeName
    input_payload: dict[str, Any]


class CreateJobOut(ApiModel):
    job_id: int
    cached: bool
    request_id: int


class JobOut(ApiModel):
    job: JobDetails


class JobListOut(ApiModel):
    jobs: list[JobDetails]
    total: int


class JobRequestListOut(ApiModel):
    job_requests: list[JobRequestRow]
    total: int


class JobSummary(Row):
    id: int
    type: str
    status: str


class DownloadOut(ApiModel):
    job: JobSummary
    files: dict[str, str]


class InvalidateCacheIn(ApiModel):
    job_type: TypeName


class Invalidated(ApiModel):
    job_type: str
    affected_results: int


class InvalidateCacheOut(ApiModel):
    message: str
    invalidated: Invalidated


class TypeStatsOut(ApiModel):
    pending: int
    in_progress: int
    oldest_pending_age_seconds: float | None
    last_hour: dict[str, int]


class StatsOut(ApiModel):
    job_types: dict[str, TypeStatsOut]


# Workers.


class PollOut(ApiModel):
    jobs: list[JobRow]


class AssignIn(ApiModel):
    job_id: Id
    ecs_task_arn: Arn | None = None
    ecs_cluster_arn: Arn | None = None


class AssignOut(ApiModel):
    assignment: LeasedAssignment


class ClaimIn(ApiModel):
    job_types: Annotated[list[TypeName], Field(min_length=1, max_length=50)]
    max: Annotated[int, Field(ge=1, le=MAX_CLAIM)] = 1
    wait_seconds: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)] = 0
    worker_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    ecs_task_arn: Arn | None = None
    ecs_cluster_arn: Arn | None = None


class ClaimedOut(ApiModel):
    assignment: LeasedAssignment
    job: JobRow
    # W3C trace context (`traceparent`, `tracestate`) for the worker's run to continue:
    # the trace of the request that created the job, when it had one.
    trace_context: dict[str, str] | None = None


class ClaimOut(ApiModel):
    assignments: list[ClaimedOut]


class LeaseIn(ApiModel):
    """Without a lease token, only the principal that claimed the assignment may use it."""

    lease_token: LeaseToken | None = None


class HeartbeatIn(LeaseIn):
    progress: Annotated[float, Field(ge=0, le=1)] | None = None
    message: Annotated[str, StringConstraints(max_length=2000)] | None = None


class HeartbeatOut(ApiModel):
    cancel_requested: bool
    expires_at: datetime


class UploadsIn(LeaseIn):
    files: Annotated[list[RelativePath], Field(min_length=1, max_length=MAX_BATCH)]


class UploadsOut(ApiModel):
    urls: dict[str, str]


class ResultIn(LeaseIn):
    status: Literal["SUCCEEDED", "FAILED", "CANCELLED"]
    result_payload: dict[str, Any] | None = None
    error: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    # A FAILED job is tried again, after a backoff, while attempts remain.
    retryable: bool = False


class ResultOut(ApiModel):
    job: JobRow


class BatchResultItem(ResultIn):
    assignment_id: Id


class BatchResultsIn(ApiModel):
    results: Annotated[list[BatchResultItem], Field(min_length=1, max_length=MAX_BATCH)]


class BatchResultOutcome(ApiModel):
    assignment_id: int
    status: int
    message: str | None = None
    job_status: str | None = None


class BatchResultsOut(ApiModel):
    results: list[BatchResultOutcome]


class ReleaseOut(ApiModel):
    job: JobRow


# Admin.


class TimeoutJobsIn(ApiModel):
    timeout_threshold_minutes: Annotated[int, Field(ge=1, le=10_000_000)] = 120
    job_types: list[TypeName] | None = None


class TimeoutJobsOut(ApiModel):
    total_timed_out: int
    by_type: dict[str, int]
    timed_out_job_ids: list[int]
