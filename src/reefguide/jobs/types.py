"""Job types, declared once: the API validates with them and the worker SDK runs them.

A worker on any machine imports this module, so it depends on pydantic and
structlog only: never on the database, the settings, FastAPI or a service.
Packages add types through the ``reefguide.job_types`` entry-point group.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum, nonmember
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Annotated, Any, Literal

import structlog
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    RootModel,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "reefguide.job_types"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    # A job in one of these never changes again (plain strings: members compare equal to them).
    TERMINAL = nonmember(frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}))

    @property
    def is_terminal(self) -> bool:
        return self in JobStatus.TERMINAL


# --- Payload building blocks -------------------------------------------------------------

# JavaScript, where the original and its clients live, has one number type. A number
# that is integral comes back out as a JSON integer (`100`, not `100.0`): the Julia
# worker reads `x_dist` and `threshold` as Int64, and the original stored what the
# client sent. Past 2**53 a float no longer says which integer it means, so it stays.
_MAX_SAFE_INTEGER = 2**53


def _integral_as_int(value: float) -> float:
    return int(value) if value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER else value


def _as_is(value: float) -> int | float:
    return value


def _integral_float_as_int(value: object) -> object:
    # `1.0` is the integer 1 in JSON's eyes (and zod's `.int()` accepts it); `True` is not.
    if isinstance(value, float) and value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
        return int(value)
    return value


# A JSON number: an int or a finite float (never a bool or a numeric string).
Number = Annotated[float, AfterValidator(_integral_as_int), PlainSerializer(_as_is)]
# A JSON integer: `1` or `1.0`, not `1.5`, `"1"` or `true`; one JavaScript holds exactly.
Integer = Annotated[
    int,
    BeforeValidator(_integral_float_as_int),
    Field(ge=-(_MAX_SAFE_INTEGER - 1), le=_MAX_SAFE_INTEGER - 1),
]

# Deeper than this, a payload is refused before it is validated: a worker's
# schema never needs it, and what takes any field (DATA_SPECIFICATION_UPDATE)
# must not reach the serialiser's or the hash's recursion limits.
MAX_PAYLOAD_DEPTH = 32


def _depth_within_limit(value: object, depth: int = 1) -> None:
    if isinstance(value, Mapping):
        children: Iterable[object] = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"Payload is nested more than {MAX_PAYLOAD_DEPTH} levels deep")
    for child in children:
        _depth_within_limit(child, depth + 1)


def _shallow(value: object) -> object:
    _depth_within_limit(value)
    return value


_SHALLOW: TypeAdapter[object] = TypeAdapter(Annotated[object, AfterValidator(_shallow)])


class Payload(BaseModel):
    """Base of job inputs and results.

    Types are strict, as zod's are: a string is not a number, `1` is not `true`.
    When dumped, an optional field whose default is None is left out when it is None,
    as an absent field is left out of JSON, so `{"depth_min": null}`, `{}` and the
    stored payload all mean the same thing; any other default is written out, so
    the stored and hashed payload says everything the worker will run with.
    """

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        for name, field in type(self).model_fields.items():
            key = (field.serialization_alias or field.alias or name) if info.by_alias else name
            if field.default is None and key in data and data[key] is None:
                del data[key]
        return data


class InputPayload(Payload):
    """An input: unknown fields are refused (a typo must not become a new cache key)."""

    model_config = ConfigDict(extra="forbid")


class ResultPayload(Payload):
    """A result: the named fields are required, extra ones are kept.

    The original refused extra fields; a result arrives after the work is done (four
    hours of it for an ADRIA run), and newer workers add fields (ReefGuideWorker.jl
    sends `score_cog_path` beside `cog_path`), so refusing one would throw work away.
    """

    model_config = ConfigDict(extra="allow")


# --- The built-in types' payloads (the original's `packages/types/src/jobs.ts`) ----------


class SharedCriteria(InputPayload):
    """What both assessments take: a region, a reef type and optional criteria ranges."""

    region: str
    reef_type: str
    depth_min: Number | None = None
    depth_max: Number | None = None
    low_tide_min: Number | None = None
    low_tide_max: Number | None = None
    high_tide_min: Number | None = None
    high_tide_max: Number | None = None
    slope_min: Number | None = None
    slope_max: Number | None = None
    rugosity_min: Number | None = None
    rugosity_max: Number | None = None
    turbidity_min: Number | None = None
    turbidity_max: Number | None = None
    waves_period_min: Number | None = None
    waves_period_max: Number | None = None
    waves_height_min: Number | None = None
    waves_height_max: Number | None = None


class TestInput(InputPayload):
    __test__ = False  # not a pytest test class, whatever its name

    # Only there to vary the hash.
    id: Integer
    # How long the built-in worker sleeps.
    duration_seconds: Number = Field(default=0, ge=0, alias="durationSeconds")


class TestResult(ResultPayload):
    """`{}` in the original; a test worker may add whatever it likes."""

    __test__ = False


class SuitabilityAssessmentInput(SharedCriteria):
    x_dist: Number = Field(description="Length (m) of the target polygon")
    y_dist: Number = Field(description="Width (m) of the target polygon")
    threshold: Number | None = None


class SuitabilityAssessmentResult(ResultPayload):
    geojson_path: str


class RegionalAssessmentInput(SharedCriteria):
    # Changes nothing but the hash: a client's way to get a fresh raster.
    cog_color: Literal["greyscale"] | None = Field(default=None, alias="cogColor")


class RegionalAssessmentResult(ResultPayload):
    cog_path: str


class DataSpecificationUpdateInput(InputPayload):
    """The one input that takes any extra field, as the original's did."""

    model_config = ConfigDict(extra="allow")

    cache_buster: Number | None = None


class DataSpecificationUpdateResult(ResultPayload):
    pass


def _power_of_two(value: int) -> int:
    if value & (value - 1):
        raise ValueError("must be a power of 2")
    return value


class ModelParam(InputPayload):
    param_name: str
    third_param_flag: bool
    lower: Number
    upper: Number
    optional_third: Number | None = None


class AdriaModelRunInput(InputPayload):
    data_package: Literal["MOORE", "GBR"]
    num_scenarios: Annotated[Integer, Field(gt=0), AfterValidator(_power_of_two)]
    model_params: list[ModelParam]
    rcp_scenario: Literal["26", "45", "60", "85"] = "45"


class ChartMetadata(ResultPayload):
    metric_name: str
    filename: str
    y_label: str
    description: str
    generation_time_seconds: Number


class AdriaModelRunResult(ResultPayload):
    spatial_metrics_path: str
    reef_boundaries_path: str
    output_result_set_path: str
    available_charts: dict[str, str]
    chart_metadata: dict[str, ChartMetadata]


# --- Declarations ----------------------------------------------------------------------------

# Upper-case identifiers: names appear in storage paths (lower-cased) and in the capacity
# manager's per-type variables (`<TYPE>_MIN_CAPACITY`), and the jobs.type column holds 64.
_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ANY_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


@dataclass(frozen=True)
class JobType:
    """One kind of job: what it takes, what it returns, how long and how often it may run."""

    name: str
    # Validates `inputPayload`; its defaults are applied before the payload is stored and hashed.
    input: type[BaseModel]
    # Validates `resultPayload` when one is sent; None accepts any JSON object.
    result: type[BaseModel] | None
    # How long one attempt may run (the original's assignment expiry).
    max_run_seconds: int
    max_attempts: int = 3
    # Higher is claimed first.
    priority: int = 0

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"Job type name {self.name!r} is not an upper-case identifier (1-64 characters)")
        for role, model in (("input", self.input), ("result", self.result or ResultPayload)):
            if not (isinstance(model, type) and issubclass(model, BaseModel)) or issubclass(model, RootModel):
                raise ValueError(f"Job type {self.name}: {role} must be a pydantic model of a JSON object")
        if self.max_run_seconds < 1:
            raise ValueError(f"Job type {self.name}: max_run_seconds must be at least 1")
        if self.max_attempts < 1:
            raise ValueError(f"Job type {self.name}: max_attempts must be at least 1")

    def parse_input(self, payload: object) -> dict[str, Any]:
        """The payload validated, with defaults applied, ready to store and hash.

        Raises pydantic's ValidationError; each error's `loc` names the field.
        """
        _SHALLOW.validate_python(payload)
        return self.input.model_validate(payload).model_dump(mode="json", by_alias=True)

    def parse_result(self, payload: object) -> dict[str, Any] | None:
        """The result validated and ready to store; None when the worker sent none."""
        if payload is None:
            return None
        _SHALLOW.validate_python(payload)
        if self.result is None:
            anything: dict[str, Any] = _ANY_OBJECT.validate_python(payload)
            return dict(_ANY_OBJECT.dump_python(anything, mode="json"))
        return self.result.model_validate(payload).model_dump(mode="json", by_alias=True)


_MINUTE = 60

BUILTIN_JOB_TYPES: tuple[JobType, ...] = (
    JobType("TEST", TestInput, TestResult, max_run_seconds=60 * _MINUTE),
    JobType(
        "SUITABILITY_ASSESSMENT",
        SuitabilityAssessmentInput,
        SuitabilityAssessmentResult,
        max_run_seconds=60 * _MINUTE,
    ),
    JobType(
        "REGIONAL_ASSESSMENT", RegionalAssessmentInput, RegionalAssessmentResult, max_run_seconds=60 * _MINUTE
    ),
    JobType(
        "DATA_SPECIFICATION_UPDATE",
        DataSpecificationUpdateInput,
        DataSpecificationUpdateResult,
        max_run_seconds=60 * _MINUTE,
    ),
    JobType("ADRIA_MODEL_RUN", AdriaModelRunInput, AdriaModelRunResult, max_run_seconds=240 * _MINUTE),
)


def _declared_by(entry_point: EntryPoint) -> list[JobType]:
    """The job types one entry point declares; raises if it declares anything else."""
    loaded = entry_point.load()
    if isinstance(loaded, JobType):
        return [loaded]
    if isinstance(loaded, Iterable) and not isinstance(loaded, (str, bytes, Mapping)):
        declared = list(loaded)
        if all(isinstance(job_type, JobType) for job_type in declared):
            return declared
    raise TypeError(f"expected a JobType or an iterable of JobTypes, got {type(loaded).__name__}")


def _plugin_job_types(builtins: Mapping[str, JobType]) -> dict[str, JobType]:
    """Types from installed packages. A broken plugin is logged and skipped; a plugin never
    replaces a built-in; a name two plugins declare differently is used by neither, since
    which one would win depends on nothing an operator chose."""
    claims: dict[str, list[tuple[str, JobType]]] = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value)):
        source = f"{entry_point.name} = {entry_point.value}"
        try:
            declared = _declared_by(entry_point)
        except Exception as exc:
            log.error("job type plugin skipped: it failed to load", entry_point=source, exc_info=exc)
            continue
        for job_type in declared:
            if job_type.name in builtins:
                log.error(
                    "job type plugin skipped: it may not replace a built-in type",
                    entry_point=source,
                    job_type=job_type.name,
                )
                continue
            claims.setdefault(job_type.name, []).append((source, job_type))

    plugins: dict[str, JobType] = {}
    for name, claimed in claims.items():
        if len({job_type for _, job_type in claimed}) > 1:
            log.error(
                "job type plugin skipped: several plugins declare it",
                job_type=name,
                entry_points=[source for source, _ in claimed],
            )
            continue
        plugins[name] = claimed[0][1]
    return plugins


@functools.cache
def job_types() -> Mapping[str, JobType]:
    """Every job type this process knows: the built-ins, then those of installed plugins."""
    builtins = {job_type.name: job_type for job_type in BUILTIN_JOB_TYPES}
    return MappingProxyType(builtins | _plugin_job_types(builtins))


def get_job_type(name: str) -> JobType | None:
    return job_types().get(name)
