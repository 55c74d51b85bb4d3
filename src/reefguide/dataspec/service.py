"""The data specification: replacing it whole, reading it, and asking a worker to rebuild it.

A criterion is shared by the regions that have it, so the specification must
describe it the same way wherever it appears; its range is per region. The
bounds of a range are ordered: min_val <= default_min_val <= default_max_val <= max_val.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import String, cast, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.dataspec.models import Criteria, Region, RegionalCriteria
from reefguide.dataspec.schemas import CriterionSpecIn, DataSpecificationIn
from reefguide.errors import BadRequest, NotFound
from reefguide.jobs import service as jobs
from reefguide.jobs.hashing import job_hash
from reefguide.jobs.models import Job
from reefguide.jobs.queue import Queue
from reefguide.users.models import Role, User

log = structlog.get_logger(__name__)

UPDATE_JOB_TYPE = "DATA_SPECIFICATION_UPDATE"
# What describes a criterion (as opposed to its range in one region).
CRITERION_FIELDS = (
    "display_title",
    "display_subtitle",
    "units",
    "min_tooltip",
    "max_tooltip",
    "payload_prefix",
)


@dataclass(frozen=True)
class Counts:
    criteria: int
    regions: int
    regional_criteria: int


# Checking.


def _field(region: int, criterion: int | None = None, name: str | None = None) -> str:
    parts = [f"regions.{region}"]
    if criterion is not None:
        parts.append(f"criteria.{criterion}")
    if name is not None:
        parts.append(name)
    return ".".join(parts)


def _bound_errors(criterion: CriterionSpecIn, region: int, index: int) -> list[dict[str, str]]:
    errors = []

    def fail(name: str, message: str) -> None:
        errors.append({"field": _field(region, index, name), "message": message})

    if criterion.min_val > criterion.max_val:
        fail("max_val", "Must not be less than min_val")
    if criterion.default_min_val > criterion.default_max_val:
        fail("default_max_val", "Must not be less than default_min_val")
    for name in ("default_min_val", "default_max_val"):
        value = getattr(criterion, name)
        if not criterion.min_val <= value <= criterion.max_val:
            fail(name, "Must lie between min_val and max_val")
    return errors


def _description(criterion: CriterionSpecIn) -> tuple[Any, ...]:
    return tuple(getattr(criterion, name) for name in CRITERION_FIELDS)


def check_specification(spec: DataSpecificationIn) -> dict[str, CriterionSpecIn]:
    """Every criterion of the specification by name, or a 400 listing each problem:
    a region or criterion named twice, bounds out of order, a criterion described
    differently in two regions."""
    errors: list[dict[str, str]] = []
    regions_seen: set[str] = set()
    criteria: dict[str, CriterionSpecIn] = {}
    first_region: dict[str, str] = {}
    for r, region in enumerate(spec.regions):
        if region.name in regions_seen:
            errors.append(
                {"field": _field(r, name="name"), "message": f"Region {region.name} is listed twice"}
            )
        regions_seen.add(region.name)
        in_region: set[str] = set()
        for c, criterion in enumerate(region.criteria):
            if criterion.name in in_region:
                errors.append(
                    {
                        "field": _field(r, c, "name"),
                        "message": f"Criterion {criterion.name} is listed twice in region {region.name}",
                    }
                )
            in_region.add(criterion.name)
            errors.extend(_bound_errors(criterion, r, c))
            known = criteria.setdefault(criterion.name, criterion)
            first_region.setdefault(criterion.name, region.name)
            if known is not criterion and _description(known) != _description(criterion):
                differing = next(
                    name for name in CRITERION_FIELDS if getattr(known, name) != getattr(criterion, name)
                )
                errors.append(
                    {
                        "field": _field(r, c, differing),
                        "message": f"Criterion {criterion.name} is described differently "
                        f"in region {first_region[criterion.name]}",
                    }
                )
    if errors:
        raise BadRequest("Invalid data specification", extra={"errors": errors})
    return criteria


# Replacing.


async def replace_specification(session: AsyncSession, spec: DataSpecificationIn) -> Counts:
    """Make the stored specification the one given: regions and criteria it does not
    list are deleted, the others updated or created, and every regional range
    recreated. One transaction (the request's): a reader sees the old or the new."""
    criteria = check_specification(spec)
    # Every range is recreated below; deleting them first keeps the cascade out of it.
    await session.execute(delete(RegionalCriteria))
    await session.execute(delete(Region).where(Region.name.not_in([region.name for region in spec.regions])))
    await session.execute(delete(Criteria).where(Criteria.name.not_in(list(criteria))))

    stored_criteria = {
        row.name: row
        for row in await session.scalars(select(Criteria).where(Criteria.name.in_(list(criteria))))
    }
    for name, described in criteria.items():
        row = stored_criteria.get(name)
        if row is None:
            row = stored_criteria[name] = Criteria(name=name)
            session.add(row)
        for field in CRITERION_FIELDS:
            setattr(row, field, getattr(described, field))

    names = [region.name for region in spec.regions]
    stored_regions = {
        row.name: row for row in await session.scalars(select(Region).where(Region.name.in_(names)))
    }
    for region in spec.regions:
        row_region = stored_regions.get(region.name)
        if row_region is None:
            row_region = stored_regions[region.name] = Region(name=region.name)
            session.add(row_region)
        row_region.display_name = region.display_name
        row_region.description = region.description
    await session.flush()

    ranges = [
        {
            "region_id": stored_regions[region.name].id,
            "criteria_id": stored_criteria[criterion.name].id,
            "min_val": criterion.min_val,
            "max_val": criterion.max_val,
            "default_min_val": criterion.default_min_val,
            "default_max_val": criterion.default_max_val,
        }
        for region in spec.regions
        for criterion in region.criteria
    ]
    if ranges:
        await session.execute(insert(RegionalCriteria), ranges)
    return Counts(criteria=len(criteria), regions=len(spec.regions), regional_criteria=len(ranges))


# Reading.


async def criteria_ranges(
    session: AsyncSession, region_name: str
) -> Sequence[tuple[RegionalCriteria, Criteria]]:
    """The region's ranges with their criteria, in the order the specification gave them; 404."""
    region_id = await session.scalar(select(Region.id).where(Region.name == region_name))
    if region_id is None:
        raise NotFound("Region not found")
    rows = await session.execute(
        select(RegionalCriteria, Criteria)
        .join(Criteria, Criteria.id == RegionalCriteria.criteria_id)
        .where(RegionalCriteria.region_id == region_id)
        .order_by(RegionalCriteria.id)
    )
    return [(regional, criterion) for regional, criterion in rows]


async def list_regions(session: AsyncSession) -> Sequence[tuple[Region, int]]:
    """Every region by name, with how many criteria it has."""
    counts = (
        select(func.count())
        .select_from(RegionalCriteria)
        .where(RegionalCriteria.region_id == Region.id)
        .scalar_subquery()
    )
    rows = await session.execute(select(Region, counts).order_by(Region.name))
    return [(region, count) for region, count in rows]


# Rebuilding: a DATA_SPECIFICATION_UPDATE job, run by a worker that reads the data.


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def request_update(session: AsyncSession, queue: Queue, user: User, *, now: datetime) -> int:
    """A new DATA_SPECIFICATION_UPDATE job owned by `user`; its `cache_buster` (the time
    in milliseconds) and a by-passed cache make sure it is a new job. Its id."""
    submitted = await jobs.submit(
        session,
        queue,
        user,
        type_name=UPDATE_JOB_TYPE,
        input_payload={"cache_buster": _milliseconds(now)},
        cache=jobs.CachePolicy(disabled=True),
        now=now,
    )
    return submitted.job_id


async def first_admin(session: AsyncSession) -> User | None:
    # Roles are a JSON list; its text narrows the candidates on both databases and the
    # check on the list itself decides (as users.bootstrap does).
    candidates = await session.scalars(
        select(User).where(cast(User.roles, String).contains('"ADMIN"')).order_by(User.id)
    )
    return next((user for user in candidates if Role.ADMIN in user.roles), None)


async def submit_scheduled_update(
    session: AsyncSession, queue: Queue, *, now: datetime, every: timedelta
) -> int:
    """The scheduled rebuild: one job per period of `every` (periods counted from the
    Unix epoch, so a daily one starts at midnight UTC), owned by the first admin.

    The job's `cache_buster` is the period's start, so every API replica that runs
    this in the same period names the same job, and finds it already there (two
    checking at the very same moment may both submit one: a second rebuild is
    harmless). Returns how many jobs it made (0 or 1)."""
    period = every.total_seconds()
    start = datetime.fromtimestamp(now.timestamp() // period * period, UTC)
    payload = {"cache_buster": _milliseconds(start)}
    job_type = jobs.job_type_named(UPDATE_JOB_TYPE)
    digest = job_hash(job_type.name, job_type.parse_input(payload))
    if await session.scalar(select(exists().where(Job.hash == digest, Job.type == job_type.name))):
        return 0
    admin = await first_admin(session)
    if admin is None:
        log.warning("no admin account: the scheduled data specification update is skipped")
        return 0
    submitted = await jobs.submit(
        session,
        queue,
        admin,
        type_name=job_type.name,
        input_payload=payload,
        cache=jobs.CachePolicy(disabled=True),
        now=now,
    )
    log.info("data specification update scheduled", job_id=submitted.job_id, period_start=start.isoformat())
    return 1
