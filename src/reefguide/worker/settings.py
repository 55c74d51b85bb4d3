"""The worker's own settings, read from the environment and `.env`.

Names are the original worker's (`API_ENDPOINT`, `JOB_TYPES`, `WORKER_USERNAME` …),
so a deployment's environment works unchanged. This is not the server's Settings:
a worker runs on any machine and knows nothing of databases or keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def blank_is_none(value: object) -> object:
    """An empty or all-blank variable counts as unset (as a `.env` line `NAME=` means)."""
    return None if isinstance(value, str) and not value.strip() else value


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The API's base URL, with or without the trailing /api.
    api_endpoint: str = Field("http://localhost:5000", min_length=1, validation_alias=_env("API_ENDPOINT"))
    # Empty: every type this worker has a handler for.
    job_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("JOB_TYPES")
    )
    worker_username: str | None = Field(None, validation_alias=_env("WORKER_USERNAME"))
    worker_password: SecretStr | None = Field(None, validation_alias=_env("WORKER_PASSWORD"))
    worker_api_key: SecretStr | None = Field(None, validation_alias=_env("WORKER_API_KEY"))
    poll_interval_ms: int = Field(2000, ge=0, validation_alias=_env("POLL_INTERVAL_MS"))
    # 0: never exit for lack of work.
    idle_timeout_ms: int = Field(300_000, ge=0, validation_alias=_env("IDLE_TIMEOUT_MS"))
    max_concurrent_jobs: int = Field(1, ge=1, le=100, validation_alias=_env("MAX_CONCURRENT_JOBS"))
    # How long one claim waits on the server for a job to arrive (long poll).
    claim_wait_seconds: float = Field(
        20.0, ge=0, le=60, validation_alias=_env("REEFGUIDE_WORKER_CLAIM_WAIT_SECONDS")
    )
    # The data DATA_SPECIFICATION_UPDATE reads (`<DATA_PATH>/<region>/<criterion>.tif`);
    # unset, this worker does not run that type.
    data_path: Path | None = Field(None, validation_alias=_env("DATA_PATH"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL")
    )
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias=_env("LOG_FORMAT"))
    # Set: each job's run is traced, continuing the trace of the request that created
    # it, and spans go out over OTLP (http/protobuf). The SDK reads the other OTEL_* itself.
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )

    @field_validator("job_types", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("api_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "worker_username",
        "worker_password",
        "worker_api_key",
        "data_path",
        "otel_exporter_otlp_endpoint",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_none(value)

    @model_validator(mode="after")
    def _credentials(self) -> WorkerSettings:
        if self.worker_api_key is None and (self.worker_username is None) != (self.worker_password is None):
            missing = "WORKER_PASSWORD" if self.worker_password is None else "WORKER_USERNAME"
            raise ValueError(f"{missing} is required with {_other(missing)}")
        return self

    @property
    def api_url(self) -> str:
        """The base of every route: API_ENDPOINT ending in exactly one `/api`."""
        return api_url(self.api_endpoint)

    @property
    def has_credentials(self) -> bool:
        return self.worker_api_key is not None or self.worker_username is not None


def _other(name: str) -> str:
    return "WORKER_USERNAME" if name == "WORKER_PASSWORD" else "WORKER_PASSWORD"


def api_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith("/api") else f"{base}/api"


ENV_NAMES: dict[str, str] = {
    name: str(field.validation_alias.choices[0])
    for name, field in WorkerSettings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
}


class WorkerSettingsError(Exception):
    """An invalid setting; the message is one line naming the variable, never its value."""


def load_worker_settings(**overrides: object) -> WorkerSettings:
    try:
        return WorkerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        reason = " ".join(first["msg"].split()).removeprefix("Value error, ")
        if loc in ENV_NAMES:
            raise WorkerSettingsError(f"Invalid setting {ENV_NAMES[loc]}: {reason}") from None
        if loc.upper() in ENV_NAMES.values():
            raise WorkerSettingsError(f"Invalid setting {loc.upper()}: {reason}") from None
        raise WorkerSettingsError(f"Invalid worker settings: {reason}") from None
    except SourceError as exc:
        raise WorkerSettingsError(f"Invalid worker settings: {' '.join(str(exc).split())}") from None
