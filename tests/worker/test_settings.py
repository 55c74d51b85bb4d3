"""The worker's environment: the original worker's variable names."""

from __future__ import annotations

from pathlib import Path

import pytest

from reefguide.worker.settings import WorkerSettingsError, api_url, load_worker_settings

WORKER_VARIABLES = (
    "API_ENDPOINT",
    "JOB_TYPES",
    "WORKER_USERNAME",
    "WORKER_PASSWORD",
    "WORKER_API_KEY",
    "POLL_INTERVAL_MS",
    "IDLE_TIMEOUT_MS",
    "MAX_CONCURRENT_JOBS",
    "REEFGUIDE_WORKER_CLAIM_WAIT_SECONDS",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env


@pytest.mark.parametrize(
    "endpoint",
    ["http://api.test", "http://api.test/", "http://api.test/api", "http://api.test/api/"],
)
def test_the_endpoint_may_end_with_or_without_api(endpoint: str) -> None:
    assert api_url(endpoint) == "http://api.test/api"


def test_the_original_workers_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "API_ENDPOINT": "https://reefguide.example.org/api",
        "JOB_TYPES": "TEST, REGIONAL_ASSESSMENT,",
        "WORKER_USERNAME": "worker@example.com",
        "WORKER_PASSWORD": "worker-password-1",
        "POLL_INTERVAL_MS": "500",
        "IDLE_TIMEOUT_MS": "0",
        "MAX_CONCURRENT_JOBS": "4",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_worker_settings()
    assert settings.api_url == "https://reefguide.example.org/api"
    assert settings.job_types == ["TEST", "REGIONAL_ASSESSMENT"]
    assert settings.worker_username == "worker@example.com"
    assert settings.worker_password is not None
    assert settings.worker_password.get_secret_value() == "worker-password-1"
    assert (settings.poll_interval_ms, settings.idle_timeout_ms, settings.max_concurrent_jobs) == (500, 0, 4)


def test_defaults() -> None:
    settings = load_worker_settings()
    assert settings.api_url == "http://localhost:5000/api"
    assert settings.job_types == []
    assert (settings.poll_interval_ms, settings.idle_timeout_ms, settings.max_concurrent_jobs) == (
        2000,
        300_000,
        1,
    )
    assert not settings.has_credentials


def test_a_username_without_a_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_USERNAME", "worker@example.com")
    with pytest.raises(WorkerSettingsError, match="WORKER_PASSWORD is required with WORKER_USERNAME"):
        load_worker_settings()


def test_a_bad_value_is_named_by_its_variable_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_JOBS", "lots")
    with pytest.raises(WorkerSettingsError) as raised:
        load_worker_settings()
    assert str(raised.value).startswith("Invalid setting MAX_CONCURRENT_JOBS: ")
    assert "lots" not in str(raised.value)


def test_an_endpoint_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_ENDPOINT", "localhost:5000")
    with pytest.raises(WorkerSettingsError, match="Invalid setting API_ENDPOINT: must start with http"):
        load_worker_settings()
