"""Jobs, the requests that asked for them, their assignments (leases) and results.

A job's status only changes through a conditional UPDATE (see queue.py), and at
most one assignment of a job is live (not completed) at a time: a unique partial
index says so, so even a bug cannot give a job to two workers at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reefguide.db.base import Base, CreatedAt, JSONType, Timestamps


class Job(Timestamps, Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="PENDING")
    # sha256 of the normalised input and the type: the cache key (hashing.py).
    hash: Mapped[str] = mapped_column(String(64), index=True)
    # The job outlives its owner's account: its result may answer others' requests.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    input_payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(default=0)
    # Claims so far; a claim past max_attempts is never made.
    attempt_count: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    # Not claimable before this time (the backoff after a retryable failure).
    run_after: Mapped[datetime | None] = mapped_column()
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # W3C trace context of the request that created the job, for the worker to continue.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONType)

    # Loaded only when asked for (selectinload): a forgotten load fails loudly.
    assignments: Mapped[list[JobAssignment]] = relationship(
        order_by="JobAssignment.id", lazy="raise", viewonly=True
    )

    __table_args__ = (
        # The claim query: pending jobs of some types, by priority then age.
        Index(
            "ix_jobs_pending",
            "type",
            text("priority DESC"),
            "id",
            postgresql_where=text("status = 'PENDING'"),
            sqlite_where=text("status = 'PENDING'"),
        ),
        Index("ix_jobs_status_updated_at", "status", "updated_at"),
    )


class JobRequest(CreatedAt, Base):
    """Every submission, answered by a new job or by a cached one."""

    __tablename__ = "job_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    input_payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    cache_hit: Mapped[bool] = mapped_column(default=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)


class JobAssignment(Timestamps, Base):
    """A lease on a job: whoever holds its token may report on the job until it expires."""

    __tablename__ = "job_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column()
    # The principal that claimed it: without a lease token, only it may report.
    claimed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    worker_id: Mapped[str | None] = mapped_column(String(200))
    ecs_task_arn: Mapped[str | None] = mapped_column(String(2048))
    ecs_cluster_arn: Mapped[str | None] = mapped_column(String(2048))
    lease_token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    # The job's maximum run time: no heartbeat extends the lease past it.
    deadline: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    progress: Mapped[float | None] = mapped_column()
    message: Mapped[str | None] = mapped_column(Text)
    storage_scheme: Mapped[str] = mapped_column(String(16))
    storage_uri: Mapped[str] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column()
    # How the lease ended: SUCCEEDED, FAILED, CANCELLED, RELEASED, EXPIRED or TIMED_OUT.
    outcome: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)

    result: Mapped[JobResult | None] = relationship(lazy="raise", viewonly=True)

    __table_args__ = (
        Index(
            "uq_job_assignments_live_job_id",
            "job_id",
            unique=True,
            postgresql_where=text("completed_at IS NULL"),
            sqlite_where=text("completed_at IS NULL"),
        ),
        # The lease sweep: live assignments by expiry.
        Index(
            "ix_job_assignments_live_expires_at",
            "expires_at",
            postgresql_where=text("completed_at IS NULL"),
            sqlite_where=text("completed_at IS NULL"),
        ),
    )


class JobResult(CreatedAt, Base):
    __tablename__ = "job_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("job_assignments.id", ondelete="CASCADE"), unique=True
    )
    result_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    storage_scheme: Mapped[str] = mapped_column(String(16))
    storage_uri: Mapped[str] = mapped_column(Text)
    # `metadata` is taken on a declarative class; the column keeps the original's name.
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    cache_valid: Mapped[bool] = mapped_column(default=True)
