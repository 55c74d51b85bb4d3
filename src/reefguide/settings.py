"""The service's settings: one class, read from the environment and `.env`.

Names follow the original ReefGuide Web API where it has one, so an existing
deployment's environment works unchanged; settings of our own use the
`REEFGUIDE_` prefix unless an issue fixed their name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # Where the single-machine shape keeps its database, keys and files.
    data_dir: Path = Field(Path(".reefguide"), validation_alias=_env("REEFGUIDE_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    direct_url: str | None = Field(None, validation_alias=_env("DIRECT_URL"))
    db_connect_attempts: int = Field(10, ge=1, validation_alias=_env("REEFGUIDE_DB_CONNECT_ATTEMPTS"))
    db_connect_interval_seconds: float = Field(
        3.0, ge=0, validation_alias=_env("REEFGUIDE_DB_CONNECT_INTERVAL_SECONDS")
    )
    db_pool_size: int = Field(10, ge=1, validation_alias=_env("REEFGUIDE_DB_POOL_SIZE"))

    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(5000, ge=1, le=65535, validation_alias=_env("PORT"))

    # Tokens.
    jwt_private_key: str | None = Field(None, validation_alias=_env("JWT_PRIVATE_KEY"))
    jwt_public_key: str | None = Field(None, validation_alias=_env("JWT_PUBLIC_KEY"))
    jwt_key_id: str | None = Field(None, validation_alias=_env("JWT_KEY_ID"))
    api_domain: str = Field("http://localhost:5000", validation_alias=_env("API_DOMAIN"))
    access_token_expiry_minutes: int = Field(60, ge=1, validation_alias=_env("ACCESS_TOKEN_EXPIRY_MINUTES"))
    refresh_token_expiry_minutes: int = Field(
        2880, ge=1, validation_alias=_env("REFRESH_TOKEN_EXPIRY_MINUTES")
    )

    # Accounts.
    registration_mode: Literal["open", "approval"] = Field("open", validation_alias=_env("REGISTRATION_MODE"))
    admin_username: str | None = Field(None, validation_alias=_env("ADMIN_USERNAME"))
    admin_password: str | None = Field(None, validation_alias=_env("ADMIN_PASSWORD"))
    worker_username: str | None = Field(None, validation_alias=_env("WORKER_USERNAME"))
    worker_password: str | None = Field(None, validation_alias=_env("WORKER_PASSWORD"))
    manager_username: str | None = Field(None, validation_alias=_env("MANAGER_USERNAME"))
    manager_password: str | None = Field(None, validation_alias=_env("MANAGER_PASSWORD"))
    # Argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: int = Field(3, ge=1, validation_alias=_env("REEFGUIDE_ARGON2_TIME_COST"))
    argon2_memory_kib: int = Field(65536, ge=8, validation_alias=_env("REEFGUIDE_ARGON2_MEMORY_KIB"))

    # Mail (password reset). Without SMTP_HOST, messages are written to the log.
    smtp_host: str | None = Field(None, validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(587, ge=1, le=65535, validation_alias=_env("SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: str | None = Field(None, validation_alias=_env("SMTP_PASSWORD"))
    smtp_from: str = Field("ReefGuide <no-reply@example.com>", validation_alias=_env("SMTP_FROM"))
    smtp_starttls: bool = Field(True, validation_alias=_env("SMTP_STARTTLS"))

    # HTTP.
    test_mode: bool = Field(False, validation_alias=_env("TEST_MODE"))
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("CORS_ORIGINS")
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1, validation_alias=_env("MAX_BODY_BYTES"))
    max_polygon_vertices: int = Field(100_000, ge=4, validation_alias=_env("MAX_POLYGON_VERTICES"))

    # Logs.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL")
    )
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias=_env("LOG_FORMAT"))

    # Observability: GET /metrics asks for this bearer token when set. Traces go out over
    # OTLP (http/protobuf) only when OTEL_EXPORTER_OTLP_ENDPOINT is set; the OpenTelemetry
    # SDK reads the other OTEL_* variables itself.
    metrics_token: str | None = Field(None, validation_alias=_env("METRICS_TOKEN"))
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )

    # Jobs: leases, age limit, caching.
    job_lease_seconds: int = Field(30, ge=1, validation_alias=_env("JOB_LEASE_SECONDS"))
    job_expiry_minutes: int = Field(120, ge=0, validation_alias=_env("JOB_EXPIRY_MINUTES"))
    disable_cache: bool = Field(False, validation_alias=_env("DISABLE_CACHE"))
    disable_specific_caches: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("DISABLE_SPECIFIC_CACHES")
    )
    sweep_interval_seconds: float = Field(
        5.0, gt=0, validation_alias=_env("REEFGUIDE_SWEEP_INTERVAL_SECONDS")
    )
    # A DATA_SPECIFICATION_UPDATE job this often (periods from midnight UTC); 0: never.
    data_spec_update_interval_hours: float = Field(
        24.0, ge=0, validation_alias=_env("REEFGUIDE_DATA_SPEC_UPDATE_INTERVAL_HOURS")
    )

    # Result files: the data directory unless S3_BUCKET_NAME is set.
    storage: Literal["auto", "local", "s3"] = Field("auto", validation_alias=_env("REEFGUIDE_STORAGE"))
    s3_bucket_name: str | None = Field(None, validation_alias=_env("S3_BUCKET_NAME"), validate_default=True)
    s3_endpoint: str | None = Field(None, validation_alias=_env("S3_ENDPOINT"))
    s3_region: str | None = Field(None, validation_alias=_env("AWS_REGION"))
    s3_url_expiry_seconds: int = Field(
        3600, ge=1, le=7 * 24 * 3600, validation_alias=_env("S3_URL_EXPIRY_SECONDS")
    )
    s3_max_files: int = Field(25, ge=1, validation_alias=_env("S3_MAX_FILES"))
    # Uploads to local storage (PUT /api/storage/…) may be this large; MAX_BODY_BYTES is for the rest.
    max_upload_bytes: int = Field(5 * 1024**3, ge=1, validation_alias=_env("REEFGUIDE_MAX_UPLOAD_BYTES"))

    # Where workers run (cluster/): processes on this machine, or ECS tasks. The admin
    # cluster routes steer the ECS service ECS_SERVICE_NAME in ECS_CLUSTER_NAME.
    cluster_backend: Literal["local", "ecs"] = Field("local", validation_alias=_env("CLUSTER_BACKEND"))
    ecs_cluster_name: str | None = Field(
        None, validation_alias=_env("ECS_CLUSTER_NAME"), validate_default=True
    )
    ecs_service_name: str | None = Field(
        None, validation_alias=_env("ECS_SERVICE_NAME"), validate_default=True
    )
    # Workers' subnets, when a pool names none: the VPC's that give a public IP at launch.
    vpc_id: str | None = Field(None, validation_alias=_env("VPC_ID"))
    # The credential local workers started by this process use (else WORKER_USERNAME/PASSWORD).
    worker_api_key: str | None = Field(None, validation_alias=_env("WORKER_API_KEY"))
    # `serve` runs the capacity manager and local workers itself (cluster/embedded.py),
    # at most this many at once; `--no-embedded-workers` (or false here) turns it off.
    embedded_workers: bool = Field(True, validation_alias=_env("REEFGUIDE_EMBEDDED_WORKERS"))
    embedded_max_workers: int = Field(2, ge=0, le=64, validation_alias=_env("REEFGUIDE_EMBEDDED_MAX_WORKERS"))

    # Live updates (realtime/): with REDIS_URL, Socket.IO events travel between API
    # processes over this Redis pub/sub channel; unset, they stay in the process.
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    redis_channel: str = Field(
        "reefguide-socketio", min_length=1, validation_alias=_env("REEFGUIDE_REDIS_CHANNEL")
    )

    @field_validator("cors_origins", "disable_specific_caches", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("s3_bucket_name")
    @classmethod
    def _bucket_for_s3(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and info.data.get("storage") == "s3":
            raise ValueError("required when REEFGUIDE_STORAGE is s3")
        return value or None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("metrics_token", "otel_exporter_otlp_endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme.split("+")[0] not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme.split("+")[0]
        if scheme not in {"postgresql", "postgres", "sqlite"}:
            raise ValueError("must start with postgresql:// or sqlite://")
        return value

    @property
    def public_url(self) -> str | None:
        """API_DOMAIN when it was set: where clients reach the API. Unset, links the API
        hands out (local storage) are built from the address each request came to."""
        return self.api_domain.rstrip("/") if "api_domain" in self.model_fields_set else None

    @property
    def storage_backend(self) -> Literal["local", "s3"]:
        if self.storage == "auto":
            return "s3" if self.s3_bucket_name else "local"
        return self.storage

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reefguide.db').resolve()}"


# Field name -> the environment variable a user would set, for error messages.
ENV_NAMES: dict[str, str] = {
    name: str(field.validation_alias.choices[0])
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
}


class SettingsError(Exception):
    """An invalid setting; the message is one line naming the variable."""

    def __init__(self, name: str, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"Invalid setting {name}: {reason}")
        self.name = name
        self.reason = reason
        self.field = field


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else "?"
        field = loc if loc in ENV_NAMES else next((f for f, env in ENV_NAMES.items() if env == loc), None)
        name = ENV_NAMES.get(field or "", loc.upper())
        # Never the value itself: it may be a secret.
        reason = _one_line(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(name, reason, field=field) from None
    except SourceError as exc:
        # A value pydantic-settings could not even decode (e.g. bad JSON for a list).
        message = str(exc)
        field = next((f for f in ENV_NAMES if f'"{f}"' in message), None)
        name = ENV_NAMES[field] if field else "in the environment or .env"
        raise SettingsError(name, _one_line(message), field=field) from None
