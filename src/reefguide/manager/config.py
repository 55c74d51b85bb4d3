"""The capacity manager's configuration: its own settings from the environment, and its
pools from a TOML file or from the original's per-type variables.

Names are the original capacity manager's (`API_ENDPOINT`, `POLL_INTERVAL_MS`,
`API_USERNAME`, `<TYPE>_MAX_CAPACITY` …), so a deployment's environment works
unchanged. Like the worker, the manager knows nothing of the server's settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from reefguide.cluster.base import Pool
from reefguide.jobs.types import job_types
from reefguide.worker.auth import ApiKey, Credentials, Login
from reefguide.worker.settings import api_url, blank_is_none

Backend = Literal["local", "ecs"]


class ManagerConfigError(Exception):
    """A setting the manager cannot start with; one line naming the variable or key,
    never its value."""


# --- Pools ---------------------------------------------------------------------------------


def _no_bool(value: object) -> object:
    # `true` is not a capacity, whatever pydantic's lax mode thinks.
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0)]
Number = Annotated[float, BeforeValidator(_no_bool)]
Name = Annotated[str | None, BeforeValidator(blank_is_none)]


class PoolSettings(BaseModel):
    """How one pool scales, and (ECS) what it launches. Defaults are the original
    infrastructure's for its reefguide worker."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    min_capacity: Count = 0
    max_capacity: Count = 5
    cooldown_seconds: Annotated[Number, Field(ge=0)] = 60.0
    sensitivity: Annotated[Number, Field(ge=0)] = 2.6
    factor: Annotated[Number, Field(ge=1)] = 3.3
    task_definition: Name = None
    cluster: Name = None
    security_group: Name = None
    subnets: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = ()

    def pool(self, name: str, types: Sequence[str]) -> Pool:
        return Pool(name=name, job_types=tuple(types), **self.model_dump())


# Where a job type's defaults differ: the original ran ADRIA on its own worker, scaled
# more gently (sensitivity 2.1).
TYPE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {"ADRIA_MODEL_RUN": {"sensitivity": 2.1}}
DEFAULT_POOL = "default"

# `<TYPE>_<SUFFIX>` -> the PoolSettings field it sets.
ENV_SUFFIXES: Mapping[str, str] = {
    "MIN_CAPACITY": "min_capacity",
    "MAX_CAPACITY": "max_capacity",
    "COOLDOWN": "cooldown_seconds",
    "SENSITIVITY": "sensitivity",
    "FACTOR": "factor",
    "TASK_DEF": "task_definition",
    "CLUSTER": "cluster",
    "SECURITY_GROUP": "security_group",
    "SUBNETS": "subnets",
}
_FIELD_SUFFIX = {field: suffix for suffix, field in ENV_SUFFIXES.items()}


def _reason(error: Mapping[str, Any]) -> str:
    return " ".join(str(error["msg"]).split()).removeprefix("Value error, ")


def _settings_of(job_type: str, given: Mapping[str, object], name_of: Mapping[str, str]) -> PoolSettings:
    """`given` on top of the type's defaults; `name_of` starts an error's line for each field
    ("Invalid setting TEST_FACTOR")."""
    try:
        settings = PoolSettings.model_validate({**TYPE_DEFAULTS.get(job_type, {}), **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise ManagerConfigError(f"{name_of.get(field, field)}: {_reason(first)}") from None
    if settings.min_capacity > settings.max_capacity:
        # Every default minimum is 0, so the minimum was given.
        reason = f"must not exceed the maximum capacity ({settings.max_capacity})"
        raise ManagerConfigError(f"{name_of['min_capacity']}: {reason}")
    return settings


def pools_from_env(
    environ: Mapping[str, str | None],
    types: Sequence[str],
    *,
    require_task_definition: bool = False,
) -> list[Pool]:
    """One pool per task definition (the original's grouping), named after it (an
    ARN's `family:revision`). Types with no task definition share a pool when their
    settings are equal: `default` for the defaults, else named after its first type
    in lower case. A pool's settings are its first type's."""
    settings: dict[str, PoolSettings] = {}
    explicit: dict[str, set[str]] = {}
    for job_type in types:
        variables = {field: f"{job_type}_{suffix}" for field, suffix in _FIELD_SUFFIX.items()}
        given = {
            field: value
            for field, variable in variables.items()
            if (value := environ.get(variable)) is not None and value.strip()
        }
        name_of = {field: f"Invalid setting {variable}" for field, variable in variables.items()}
        settings[job_type] = _settings_of(job_type, given, name_of)
        explicit[job_type] = set(given)
        if require_task_definition and settings[job_type].task_definition is None:
            raise ManagerConfigError(
                f"Invalid setting {job_type}_TASK_DEF: required with the ecs backend "
                "(or list the pools to manage in --config)"
            )

    groups: dict[object, list[str]] = {}
    for job_type in types:
        own = settings[job_type]
        groups.setdefault(own.task_definition or own, []).append(job_type)

    pools = []
    for key, members in groups.items():
        first = members[0]
        shared = settings[first]
        for other in members[1:]:
            for field in sorted(explicit[other]):
                if getattr(settings[other], field) != getattr(shared, field):
                    suffix = _FIELD_SUFFIX[field]
                    raise ManagerConfigError(
                        f"Invalid setting {other}_{suffix}: differs from {first}_{suffix}, "
                        f"and both types share the task definition {key} (one pool)"
                    )
        if shared.task_definition is not None:
            # An ARN's family:revision: the part that says which worker it is.
            name = shared.task_definition.rsplit("task-definition/", 1)[-1]
        elif shared == PoolSettings():
            name = DEFAULT_POOL
        else:
            name = first.lower()
        pools.append(shared.pool(name, members))
    return pools


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: Annotated[dict[str, dict[str, Any]], Field(min_length=1)]


def pools_from_toml(path: Path, types: Sequence[str], *, require_task_definition: bool = False) -> list[Pool]:
    """Pools as `[pools.<name>]` tables: `job_types` and any PoolSettings field.
    A pool's defaults are those of its first job type."""
    where = f"Invalid config {path}"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManagerConfigError(f"Cannot read the config {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManagerConfigError(f"{where}: {' '.join(str(exc).split())}") from None
    try:
        tables = _ConfigFile.model_validate(document).pools
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "pools"
        raise ManagerConfigError(f"{where}: {key}: {_reason(first)}") from None

    pools = []
    owner: dict[str, str] = {}
    for name, table in tables.items():
        key = f"pools.{name}"
        listed = table.get("job_types")
        if not isinstance(listed, list) or not listed or not all(isinstance(item, str) for item in listed):
            raise ManagerConfigError(f"{where}: {key}.job_types: must be a non-empty list of job type names")
        for job_type in listed:
            if job_type not in types:
                raise ManagerConfigError(
                    f"{where}: {key}.job_types: unknown job type {job_type} (known: {', '.join(types)})"
                )
            if job_type in owner:
                raise ManagerConfigError(
                    f"{where}: {key}.job_types: {job_type} is already in pool {owner[job_type]}"
                )
            owner[job_type] = name
        given = {field: value for field, value in table.items() if field != "job_types"}
        name_of = {field: f"{where}: {key}.{field}" for field in (*PoolSettings.model_fields, *given)}
        settings = _settings_of(listed[0], given, name_of)
        if require_task_definition and settings.task_definition is None:
            raise ManagerConfigError(f"{where}: {key}.task_definition: required with the ecs backend")
        pools.append(settings.pool(name, listed))
    return pools


# --- The manager's own settings --------------------------------------------------------------


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ManagerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The API's base URL, with or without the trailing /api.
    api_endpoint: str = Field("http://localhost:5000", min_length=1, validation_alias=_env("API_ENDPOINT"))
    manager_username: str | None = Field(None, validation_alias=_env("MANAGER_USERNAME"))
    manager_password: SecretStr | None = Field(None, validation_alias=_env("MANAGER_PASSWORD"))
    # The original capacity manager's names for the same login.
    api_username: str | None = Field(None, validation_alias=_env("API_USERNAME"))
    api_password: SecretStr | None = Field(None, validation_alias=_env("API_PASSWORD"))
    manager_api_key: SecretStr | None = Field(None, validation_alias=_env("MANAGER_API_KEY"))
    poll_interval_ms: int = Field(3000, ge=500, validation_alias=_env("POLL_INTERVAL_MS"))
    # The health check's address. REEFGUIDE_MANAGER_PORT first, so that a .env shared
    # with `serve` (whose PORT is the API's) can give the manager a port of its own.
    health_host: str = Field("127.0.0.1", min_length=1, validation_alias=_env("REEFGUIDE_MANAGER_HOST"))
    health_port: int = Field(3000, ge=1, le=65535, validation_alias=_env("REEFGUIDE_MANAGER_PORT", "PORT"))
    cluster_backend: Backend = Field("local", validation_alias=_env("CLUSTER_BACKEND"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL")
    )
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias=_env("LOG_FORMAT"))
    # Set: each poll is traced and spans go out over OTLP (http/protobuf).
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )

    @field_validator("api_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level", "cluster_backend", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator(
        "manager_username",
        "manager_password",
        "api_username",
        "api_password",
        "manager_api_key",
        "otel_exporter_otlp_endpoint",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_none(value)


ENV_NAMES: dict[str, str] = {
    name: " or ".join(str(choice) for choice in field.validation_alias.choices)
    for name, field in ManagerSettings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
}


def load_manager_settings(**overrides: object) -> ManagerSettings:
    try:
        return ManagerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        name = ENV_NAMES.get(loc) or next((env for env in ENV_NAMES.values() if loc in env.split(" or ")), "")
        raise ManagerConfigError(f"Invalid setting {name or loc}: {_reason(first)}") from None
    except SourceError as exc:
        raise ManagerConfigError(f"Invalid manager settings: {' '.join(str(exc).split())}") from None


def credentials(settings: ManagerSettings) -> Credentials:
    """MANAGER_API_KEY, else MANAGER_USERNAME/MANAGER_PASSWORD, else the original's
    API_USERNAME/API_PASSWORD."""
    if settings.manager_api_key is not None:
        return ApiKey(settings.manager_api_key.get_secret_value())
    for user_var, password_var in (
        ("MANAGER_USERNAME", "MANAGER_PASSWORD"),
        ("API_USERNAME", "API_PASSWORD"),
    ):
        user = getattr(settings, user_var.lower())
        password = getattr(settings, password_var.lower())
        if (user is None) != (password is None):
            missing, other = (password_var, user_var) if password is None else (user_var, password_var)
            raise ManagerConfigError(f"Invalid setting {missing}: required with {other}")
        if user is not None:
            return Login(user, password.get_secret_value())
    raise ManagerConfigError(
        "The manager needs credentials: MANAGER_USERNAME and MANAGER_PASSWORD "
        "(or API_USERNAME and API_PASSWORD), or MANAGER_API_KEY"
    )


@dataclass(frozen=True)
class ManagerConfig:
    api_url: str
    credentials: Credentials
    pools: tuple[Pool, ...]
    backend: Backend
    poll_interval_seconds: float
    health_host: str
    health_port: int
    log_level: str
    log_format: str
    otel_endpoint: str | None = None


def environment(dotenv: Path | None = Path(".env")) -> dict[str, str | None]:
    """The process environment over `.env`, as pydantic-settings reads them."""
    values: dict[str, str | None] = dict(dotenv_values(dotenv)) if dotenv and dotenv.is_file() else {}
    values.update(os.environ)
    return values


# What workers this manager starts on its own machine share of its environment: not
# its credential, its health address or its poll interval (a worker's POLL_INTERVAL_MS
# means something else).
MANAGER_ONLY = frozenset(
    {
        "MANAGER_USERNAME",
        "MANAGER_PASSWORD",
        "MANAGER_API_KEY",
        "API_USERNAME",
        "API_PASSWORD",
        "POLL_INTERVAL_MS",
        "REEFGUIDE_MANAGER_HOST",
        "REEFGUIDE_MANAGER_PORT",
        "PORT",
    }
)


def worker_base_environment(environ: Mapping[str, str | None]) -> dict[str, str]:
    """`environ` without what is the manager's alone (a base for local workers' environment)."""
    return {
        name: value
        for name, value in environ.items()
        if value is not None and name.upper() not in MANAGER_ONLY
    }


def load_manager_config(
    *,
    config_path: Path | None = None,
    backend: str | None = None,
    environ: Mapping[str, str | None] | None = None,
    types: Iterable[str] | None = None,
) -> ManagerConfig:
    """Everything the manager needs to start, checked; raises ManagerConfigError."""
    overrides: dict[str, object] = {} if backend is None else {"cluster_backend": backend}
    try:
        settings = load_manager_settings(**overrides)
    except ManagerConfigError as exc:
        if backend is not None and "CLUSTER_BACKEND" in str(exc):
            raise ManagerConfigError("Invalid option --backend: must be local or ecs") from None
        raise
    login = credentials(settings)
    names = list(types if types is not None else job_types())
    ecs = settings.cluster_backend == "ecs"
    if config_path is not None:
        pools = pools_from_toml(config_path, names, require_task_definition=ecs)
    else:
        env = environ if environ is not None else environment()
        pools = pools_from_env(env, names, require_task_definition=ecs)
    return ManagerConfig(
        api_url=api_url(settings.api_endpoint),
        credentials=login,
        pools=tuple(pools),
        backend=settings.cluster_backend,
        poll_interval_seconds=settings.poll_interval_ms / 1000,
        health_host=settings.health_host,
        health_port=settings.health_port,
        log_level=settings.log_level,
        log_format=settings.log_format,
        otel_endpoint=settings.otel_exporter_otlp_endpoint,
    )
