"""Choosing the backend from the settings, and the environment local workers get."""

from __future__ import annotations

import pytest

from reefguide.cluster.base import BackendUnavailable
from reefguide.cluster.build import build_backend, own_api_endpoint, worker_environment
from reefguide.cluster.ecs import EcsBackend
from reefguide.cluster.local import LocalBackend
from reefguide.settings import Settings, SettingsError, load_settings
from tests.cluster.conftest import POOL, REGION, EcsWorld

SERVER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/reefguide",
    "DATA_PATH": "/data",
    "JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
    "DATABASE_URL": "postgresql://reefguide:secret@db/reefguide",
    "ADMIN_PASSWORD": "admin-secret",
    "SMTP_PASSWORD": "smtp-secret",
    "REEFGUIDE_DATA_DIR": "/srv/reefguide",
    "POLL_INTERVAL_MS": "500",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_local_workers_get_the_machines_environment_without_the_servers_secrets() -> None:
    env = worker_environment(
        settings(port=5123, log_format="json", worker_username="w@example.com", worker_password="pw"),
        base=SERVER_ENV,
    )
    for name in ("JWT_PRIVATE_KEY", "DATABASE_URL", "ADMIN_PASSWORD", "SMTP_PASSWORD", "REEFGUIDE_DATA_DIR"):
        assert name not in env
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["DATA_PATH"] == "/data"  # for the handlers
    assert env["POLL_INTERVAL_MS"] == "500"  # a worker setting
    assert env["API_ENDPOINT"] == "http://127.0.0.1:5123"
    assert env["LOG_FORMAT"] == "json"
    assert (env["WORKER_USERNAME"], env["WORKER_PASSWORD"]) == ("w@example.com", "pw")


def test_a_worker_api_key_wins_over_a_login() -> None:
    env = worker_environment(
        settings(worker_api_key="key-1", worker_username="w@example.com", worker_password="pw"), base={}
    )
    assert env["WORKER_API_KEY"] == "key-1"
    assert "WORKER_PASSWORD" not in env


def test_credentials_given_replace_every_other() -> None:
    env = worker_environment(
        settings(worker_username="w@example.com", worker_password="pw"),
        credentials={"WORKER_API_KEY": "made-for-me"},
        api_endpoint="http://127.0.0.1:9999",
        base={"WORKER_PASSWORD": "from-the-machine"},
    )
    assert env["WORKER_API_KEY"] == "made-for-me"
    assert "WORKER_USERNAME" not in env
    assert "WORKER_PASSWORD" not in env
    assert env["API_ENDPOINT"] == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("host", "endpoint"),
    [
        ("127.0.0.1", "http://127.0.0.1:5000"),
        ("0.0.0.0", "http://127.0.0.1:5000"),  # noqa: S104
        ("::", "http://127.0.0.1:5000"),
        ("::1", "http://[::1]:5000"),
        ("reefguide.internal", "http://reefguide.internal:5000"),
    ],
)
def test_the_servers_own_address(host: str, endpoint: str) -> None:
    assert own_api_endpoint(settings(host=host)) == endpoint


async def test_local_is_the_default_and_without_credentials_starts_nothing() -> None:
    backend = build_backend(settings(), worker_env={"API_ENDPOINT": "http://127.0.0.1:9"})
    assert isinstance(backend, LocalBackend)
    assert backend.name == "local"
    with pytest.raises(Exception, match="no credentials"):
        await backend.launch(POOL)
    await backend.close()


async def test_ecs_is_chosen_by_cluster_backend(ecs_world: EcsWorld) -> None:
    backend = build_backend(
        settings(
            cluster_backend="ecs",
            ecs_cluster_name=ecs_world.cluster,
            ecs_service_name=ecs_world.service,
            s3_region=REGION,
        )
    )
    assert isinstance(backend, EcsBackend)
    assert (await backend.status())["desiredCount"] == 1
    await backend.close()


@pytest.mark.parametrize("missing", ["ECS_CLUSTER_NAME", "ECS_SERVICE_NAME"])
async def test_ecs_without_its_cluster_or_service_starts_and_its_admin_routes_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """The original's manager environment names a cluster per job type and no service:
    it must start. Only the admin cluster routes need the service (503 naming it)."""
    monkeypatch.setenv("CLUSTER_BACKEND", "ecs")
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("ECS_CLUSTER_NAME", "ECS_SERVICE_NAME"):
        if name == missing:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, "reefguide")
    backend = build_backend(load_settings(_env_file=None))
    try:
        with pytest.raises(BackendUnavailable, match=f"^{missing} is not set$"):
            await backend.status()
        with pytest.raises(BackendUnavailable, match=f"^{missing} is not set$"):
            await backend.scale(1)
    finally:
        await backend.close()


def test_an_unknown_cluster_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUSTER_BACKEND", "kubernetes-someday")
    with pytest.raises(SettingsError, match=r"^Invalid setting CLUSTER_BACKEND: "):
        load_settings(_env_file=None)
