"""HTTP routes of the data specification, under /api/admin as in the original.

Analysts (and admins) read the regions and their criteria ranges. The specification
is written whole by the DATA_SPECIFICATION_UPDATE worker, a WORKER service account
(the original's workers were admins), or by an admin; an admin asks for a rebuild.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from reefguide.auth.dependencies import AdminUser, AnalystUser, WorkerUser
from reefguide.dataspec import service
from reefguide.dataspec.models import NAME_LENGTH
from reefguide.dataspec.schemas import (
    CriterionRangeOut,
    DataSpecificationIn,
    DataSpecificationOut,
    DataSpecificationUpdateOut,
    RegionListOut,
    RegionOut,
    UpdatedCounts,
)
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.jobs.dependencies import ClockDep, QueueDep

router = ApiRouter(prefix="/admin", tags=["data specification"])

NO_REGION: dict[int | str, dict[str, Any]] = {404: {"description": "No region of this name"}}
RegionName = Annotated[str, Path(min_length=1, max_length=NAME_LENGTH)]


@router.post("/data-specification")
async def replace_data_specification(
    body: DataSpecificationIn, _writer: WorkerUser, session: SessionDep
) -> DataSpecificationOut:
    """Replace the whole specification in one transaction: regions and criteria not
    listed are deleted, the rest updated or created, and every region's criteria
    ranges recreated. Each range must satisfy `min_val <= default_min_val <=
    default_max_val <= max_val`; a region, or a criterion within a region, listed
    twice, or a criterion described differently in two regions, is a 400 naming
    the field."""
    counts = await service.replace_specification(session, body)
    return DataSpecificationOut(
        message="Data specification updated successfully",
        updated=UpdatedCounts(
            criteria_count=counts.criteria,
            regions_count=counts.regions,
            regional_criteria_count=counts.regional_criteria,
        ),
    )


@router.get("/criteria/{region}/ranges", responses=NO_REGION)
async def criteria_ranges(
    region: RegionName, _user: AnalystUser, session: SessionDep
) -> dict[str, CriterionRangeOut]:
    """The region's criteria, keyed by name, each with its range and the default
    range a client starts from (`payload_property_prefix` + `min`/`max` name the
    criterion's bounds in an assessment job's input)."""
    ranges = await service.criteria_ranges(session, region)
    return {
        criterion.name: CriterionRangeOut(
            id=criterion.name,
            min_val=regional.min_val,
            max_val=regional.max_val,
            display_title=criterion.display_title,
            display_subtitle=criterion.display_subtitle,
            units=criterion.units,
            min_tooltip=criterion.min_tooltip,
            max_tooltip=criterion.max_tooltip,
            default_min_val=regional.default_min_val,
            default_max_val=regional.default_max_val,
            payload_property_prefix=criterion.payload_prefix,
        )
        for regional, criterion in ranges
    }


@router.get("/regions")
async def list_regions(_user: AnalystUser, session: SessionDep) -> RegionListOut:
    """Every region, by name, with how many criteria it has."""
    regions = await service.list_regions(session)
    return RegionListOut(
        regions=[
            RegionOut(
                name=region.name,
                display_name=region.display_name,
                description=region.description,
                criteria_count=count,
            )
            for region, count in regions
        ]
    )


@router.post("/data-specification-update")
async def request_data_specification_update(
    admin: AdminUser,
    session: SessionDep,
    queue: QueueDep,
    clock: ClockDep,
) -> DataSpecificationUpdateOut:
    """Ask a worker to rebuild the specification from its data: a new
    DATA_SPECIFICATION_UPDATE job, owned by the caller, never answered from the cache."""
    job_id = await service.request_update(session, queue, admin, now=clock())
    return DataSpecificationUpdateOut(job_id=job_id, message="Data specification update job created")
