"""The data specification as a worker finds it on disk, for POST /api/admin/data-specification.

DATA_PATH holds one folder per region and, in each, one GeoTIFF per criterion:

    <DATA_PATH>/criteria.json                 optional: how to show each criterion
    <DATA_PATH>/<region>/region.json          optional: how to show the region
    <DATA_PATH>/<region>/<criterion>.tif      one per criterion (.tif or .tiff)

A criterion's range in a region is the smallest and largest valid pixel of its
raster, and its default range is that same range. Names shown to users come from
the folder and file names (`low_tide` and `LowTide` both read "Low Tide"; the job
input prefix is `low_tide_`) unless the JSON files say otherwise:

    criteria.json: {"<criterion>": {"display_title", "display_subtitle", "units",
                                     "min_tooltip", "max_tooltip", "payload_prefix"}}
    region.json:   {"display_name", "description"}

Every key is optional; an unknown one is an error (a typo must not go unnoticed).
Hidden entries (a leading `.`) and folders without a raster are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from reefguide.worker.rasters import ValueRange

CRITERIA_FILE = "criteria.json"
REGION_FILE = "region.json"
RASTER_SUFFIXES = frozenset({".tif", ".tiff"})


class SpecificationError(ValueError):
    """DATA_PATH does not hold a usable specification."""


class CriterionMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    display_title: str | None = None
    display_subtitle: str | None = None
    units: str | None = None
    min_tooltip: str | None = None
    max_tooltip: str | None = None
    payload_prefix: str | None = None


class RegionMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    display_name: str | None = None
    description: str | None = None


_CRITERIA_METADATA: TypeAdapter[dict[str, CriterionMetadata]] = TypeAdapter(dict[str, CriterionMetadata])


@dataclass(frozen=True)
class RegionData:
    name: str
    folder: Path
    # Criterion name -> its raster, by name.
    rasters: Mapping[str, Path]


def _words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [word for word in re.split(r"[\s_\-.]+", spaced) if word]


def display_name(name: str) -> str:
    """`low_tide`, `low-tide`, `LowTide` -> "Low Tide"; `Cairns-Cooktown` -> "Cairns Cooktown"."""
    return " ".join(word[:1].upper() + word[1:] for word in _words(name)) or name


def payload_prefix(name: str) -> str:
    """`depth` -> `depth_`, `LowTide` -> `low_tide_`: how an assessment job's input
    names the criterion's bounds (`low_tide_min`, `low_tide_max`)."""
    return "_".join(word.lower() for word in _words(name)) + "_"


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def find_regions(data_path: Path) -> list[RegionData]:
    """Each region folder with its rasters, by name. Raises SpecificationError when
    DATA_PATH is not a folder or holds no raster at all (posting an empty
    specification would delete every region)."""
    if not data_path.is_dir():
        raise SpecificationError(f"DATA_PATH {data_path} is not a folder")
    regions = []
    for folder in sorted(path for path in data_path.iterdir() if path.is_dir() and _visible(path)):
        rasters = {
            path.stem: path
            for path in sorted(folder.iterdir())
            if path.is_file() and _visible(path) and path.suffix.lower() in RASTER_SUFFIXES
        }
        if rasters:
            regions.append(RegionData(name=folder.name, folder=folder, rasters=rasters))
    if not regions:
        raise SpecificationError(f"No region folder with a GeoTIFF under DATA_PATH {data_path}")
    return regions


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecificationError(f"{path}: {exc}") from None


def _invalid(path: Path, error: ValidationError) -> SpecificationError:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(top)'}: {item['msg']}"
        for item in error.errors(include_url=False)
    )
    return SpecificationError(f"{path}: {problems}")


def criteria_metadata(data_path: Path) -> dict[str, CriterionMetadata]:
    path = data_path / CRITERIA_FILE
    if not path.is_file():
        return {}
    try:
        return _CRITERIA_METADATA.validate_python(_read_json(path))
    except ValidationError as exc:
        raise _invalid(path, exc) from None


def region_metadata(folder: Path) -> RegionMetadata:
    path = folder / REGION_FILE
    if not path.is_file():
        return RegionMetadata()
    try:
        return RegionMetadata.model_validate(_read_json(path))
    except ValidationError as exc:
        raise _invalid(path, exc) from None


def criterion_spec(name: str, found: ValueRange, metadata: CriterionMetadata) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "display_title": metadata.display_title or display_name(name),
        "payload_prefix": metadata.payload_prefix or payload_prefix(name),
        "min_val": found.min,
        "max_val": found.max,
        "default_min_val": found.min,
        "default_max_val": found.max,
    }
    for field in ("display_subtitle", "units", "min_tooltip", "max_tooltip"):
        value = getattr(metadata, field)
        if value is not None:
            spec[field] = value
    return spec


def region_spec(region: RegionData, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = region_metadata(region.folder)
    spec: dict[str, Any] = {
        "name": region.name,
        "display_name": metadata.display_name or display_name(region.name),
        "criteria": criteria,
    }
    if metadata.description is not None:
        spec["description"] = metadata.description
    return spec
