"""What the manager reads from the API's answers: only the fields it uses.

Written from the wire format of `GET /api/jobs/stats`, not imported from the
server's schemas: the manager talks to the API over HTTP only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    # Newer servers may add fields; the manager must not break on them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TypeStats(_Answer):
    # The whole backlog of this type, not a page of it.
    pending: int = Field(ge=0)


class StatsAnswer(_Answer):
    job_types: dict[str, TypeStats] = Field(alias="jobTypes")
