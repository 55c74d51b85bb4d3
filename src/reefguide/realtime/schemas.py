"""What travels over the socket: `job:update` events and `job:subscribe` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from reefguide.jobs.events import JobEvent
from reefguide.schemas import ApiModel

JOB_UPDATE = "job:update"
JOB_SUBSCRIBE = "job:subscribe"


class JobUpdate(ApiModel):
    job_id: int
    type: str
    status: str
    progress: float | None
    message: str | None
    updated_at: datetime

    @classmethod
    def of(cls, event: JobEvent) -> JobUpdate:
        return cls(
            job_id=event.job_id,
            type=event.type,
            status=event.status,
            progress=event.progress,
            message=event.message,
            updated_at=event.updated_at,
        )

    def wire(self) -> dict[str, Any]:
        """camelCase JSON, timestamps as the HTTP API writes them."""
        return self.model_dump(mode="json", by_alias=True)


class SubscribeRequest(ApiModel):
    job_id: int


def subscribe_request(data: object) -> SubscribeRequest | None:
    """`{jobId: <int>}`, or None for anything else."""
    try:
        return SubscribeRequest.model_validate(data, strict=True)
    except ValidationError:
        return None


def error(message: str) -> dict[str, Any]:
    """A `job:subscribe` answer that refuses."""
    return {"error": message}
