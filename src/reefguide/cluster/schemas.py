"""Bodies of the /api/admin cluster routes, in the original README's shapes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from reefguide.schemas import ApiModel

MAX_DESIRED_COUNT = 10


class ScaleIn(ApiModel):
    # Strict: as in the original, a JSON number only (not "3", not 2.5).
    desired_count: Annotated[int, Field(ge=0, le=MAX_DESIRED_COUNT, strict=True)]


class ScaleOut(ApiModel):
    message: str
    desired_count: int


class DeploymentOut(ApiModel):
    status: str = Field(description="PRIMARY (the current one) or ACTIVE (being replaced)")
    task_definition: str = Field(description="An ECS task definition ARN, or a local worker command")
    desired_count: int
    pending_count: int
    running_count: int
    failed_tasks: int
    rollout_state: str = Field(description="IN_PROGRESS or COMPLETED (FAILED on ECS)")
    rollout_state_reason: str


class ClusterEventOut(ApiModel):
    created_at: str = Field(description="UTC, ISO 8601")
    message: str


class ClusterStatusOut(ApiModel):
    running_count: int
    pending_count: int
    desired_count: int
    deployments: list[DeploymentOut]
    events: list[ClusterEventOut] = Field(description="The five latest, newest first")
    service_status: str = Field(description="ACTIVE while the service runs (ECS: also DRAINING, INACTIVE)")
