"""Request and response bodies of the data specification routes.

The specification keeps the original's snake_case field names, as its clients and
its worker send and read them, and ignores fields it does not know, as the original
did; the job envelope is camelCase (`jobId`), as there.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from reefguide.dataspec.models import NAME_LENGTH, TITLE_LENGTH
from reefguide.schemas import ApiModel

# Regions and criteria are named in paths and in job inputs: no blank, no padding.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_LENGTH)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
# A bound of a criterion: a finite JSON number (not a string, not a boolean).
Value = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# Enough for every region and criterion of a real data set, with room to spare.
MAX_REGIONS = 1000
MAX_CRITERIA_PER_REGION = 1000


class CriterionSpecIn(BaseModel):
    """A criterion and its range in one region (the service checks the bounds' order)."""

    name: Name
    display_title: Title
    display_subtitle: Text | None = None
    units: Annotated[str, StringConstraints(max_length=NAME_LENGTH)] | None = None
    min_tooltip: Text | None = None
    max_tooltip: Text | None = None
    payload_prefix: Name
    min_val: Value
    max_val: Value
    default_min_val: Value
    default_max_val: Value


class RegionSpecIn(BaseModel):
    name: Name
    display_name: Title
    description: Text | None = None
    criteria: list[CriterionSpecIn] = Field(max_length=MAX_CRITERIA_PER_REGION)


class DataSpecificationIn(BaseModel):
    """The whole specification: what it does not list is deleted (an empty list
    deletes every region and criterion, as in the original)."""

    regions: list[RegionSpecIn] = Field(max_length=MAX_REGIONS)


class UpdatedCounts(BaseModel):
    criteria_count: int
    regions_count: int
    regional_criteria_count: int


class DataSpecificationOut(BaseModel):
    message: str
    updated: UpdatedCounts


class CriterionRangeOut(BaseModel):
    """A criterion's range in one region, in the original's shape: `id` is the
    criterion's name, and its prefix is called `payload_property_prefix` here."""

    id: str
    min_val: float
    max_val: float
    display_title: str
    display_subtitle: str | None
    units: str | None
    min_tooltip: str | None
    max_tooltip: str | None
    default_min_val: float
    default_max_val: float
    payload_property_prefix: str


class RegionOut(BaseModel):
    name: str
    display_name: str
    description: str | None
    criteria_count: int


class RegionListOut(BaseModel):
    regions: list[RegionOut]


class DataSpecificationUpdateOut(ApiModel):
    job_id: int
    message: str
