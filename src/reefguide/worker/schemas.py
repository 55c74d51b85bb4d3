"""What the worker reads from the API's answers: only the fields it uses.

Written from the wire format (README "Jobs", the OpenAPI document), not imported
from the server's schemas: the worker talks to the API over HTTP only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    # Newer servers may add fields; a worker must not break on them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Assignment(_Answer):
    id: int
    job_id: int
    attempt: int
    created_at: datetime
    expires_at: datetime
    storage_uri: str
    lease_token: str = Field(alias="leaseToken")


class ClaimedJob(_Answer):
    id: int
    type: str
    input_payload: dict[str, Any]


class Claimed(_Answer):
    assignment: Assignment
    job: ClaimedJob
    # W3C trace context (`traceparent`, `tracestate`) the job's run continues, if any.
    trace_context: dict[str, str] | None = Field(None, alias="traceContext")


class ClaimAnswer(_Answer):
    assignments: list[Claimed]


class HeartbeatAnswer(_Answer):
    cancel_requested: bool = Field(alias="cancelRequested")
    expires_at: datetime = Field(alias="expiresAt")


class UploadsAnswer(_Answer):
    urls: dict[str, str]


class Tokens(_Answer):
    token: str
    refresh_token: str = Field(alias="refreshToken")
