"""The configured compute backend (CLUSTER_BACKEND), and the environment of the workers
a process starts on its own machine. The rest of the code names no backend class."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from reefguide.cluster.base import ComputeBackend
from reefguide.settings import ENV_NAMES, Settings
from reefguide.worker.settings import ENV_NAMES as WORKER_ENV_NAMES

CREDENTIAL_NAMES = ("WORKER_API_KEY", "WORKER_USERNAME", "WORKER_PASSWORD")
NO_CREDENTIALS = (
    "Local workers have no credentials: set WORKER_API_KEY, or WORKER_USERNAME and WORKER_PASSWORD"
)
# Addresses a server listens on that a client cannot connect to as such.
ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 (compared with, never bound)


def build_backend(
    settings: Settings,
    *,
    worker_env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> ComputeBackend:
    """`worker_env`: the whole environment of local workers (default:
    `worker_environment(settings)`); ECS workers get theirs from the task definition.
    `command`: what a local worker runs (default: `reefguide worker`)."""
    if settings.cluster_backend == "ecs":
        # Imported here: boto3 takes a while to load, and the local shape never needs it.
        from reefguide.cluster.ecs import EcsBackend

        return EcsBackend(
            cluster=settings.ecs_cluster_name,
            service=settings.ecs_service_name,
            region=settings.s3_region,
            vpc_id=settings.vpc_id,
        )
    from reefguide.cluster.local import LocalBackend

    env = dict(worker_env) if worker_env is not None else worker_environment(settings)
    return LocalBackend(
        env=env, command=command, unavailable=None if has_credentials(env) else NO_CREDENTIALS
    )


def worker_environment(
    settings: Settings,
    *,
    api_endpoint: str | None = None,
    credentials: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of workers started on this machine: this process's environment
    (`base`) without the server's own settings (its keys, database URL, passwords),
    then API_ENDPOINT (default: this server's own address), the log settings, and a
    credential: `credentials` (e.g. {"WORKER_API_KEY": …}), else the settings' WORKER_API_KEY,
    else WORKER_USERNAME and WORKER_PASSWORD."""
    worker_names = {name.upper() for name in WORKER_ENV_NAMES.values()}
    server_only = {name.upper() for name in ENV_NAMES.values()} - worker_names
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if name.upper() not in server_only}
    env["API_ENDPOINT"] = api_endpoint or own_api_endpoint(settings)
    env["LOG_LEVEL"] = settings.log_level
    env["LOG_FORMAT"] = settings.log_format
    chosen = dict(credentials) if credentials is not None else settings_credentials(settings)
    if chosen:
        for name in CREDENTIAL_NAMES:
            env.pop(name, None)
        env.update(chosen)
    return env


def settings_credentials(settings: Settings) -> dict[str, str]:
    if settings.worker_api_key:
        return {"WORKER_API_KEY": settings.worker_api_key}
    if settings.worker_username and settings.worker_password:
        return {"WORKER_USERNAME": settings.worker_username, "WORKER_PASSWORD": settings.worker_password}
    return {}


def has_credentials(env: Mapping[str, str]) -> bool:
    def present(name: str) -> bool:
        return bool(env.get(name, "").strip())

    return present("WORKER_API_KEY") or (present("WORKER_USERNAME") and present("WORKER_PASSWORD"))


def own_api_endpoint(settings: Settings) -> str:
    """This server's address as a process on the same machine reaches it."""
    host = "127.0.0.1" if settings.host in ANY_ADDRESS else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"
