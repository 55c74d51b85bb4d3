"""Settings: the defaults of a start with no configuration, and an invalid value
stopping the start with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from reefguide.settings import Settings, SettingsError, load_settings
from tests.cli.conftest import Cli
from tests.e2e.processes import base_env, run_cli


def test_defaults_without_configuration(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REEFGUIDE_DATA_DIR")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == Path(".reefguide")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / '.reefguide' / 'reefguide.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 5000)


def test_the_public_url_is_api_domain_when_set(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().public_url is None
    monkeypatch.setenv("API_DOMAIN", "https://reefguide.example.org/")
    assert load_settings().public_url == "https://reefguide.example.org"


def test_database_connection_is_retried_10_times_3_seconds_apart_by_default(cli: Cli) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db_connect_attempts == 10
    assert settings.db_connect_interval_seconds == 3.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("ACCESS_TOKEN_EXPIRY_MINUTES", "-1"),
        ("DATABASE_URL", "mysql://db/reefguide"),
        ("LOG_LEVEL", "LOUD"),
        ("REEFGUIDE_DB_CONNECT_ATTEMPTS", "0"),
        ("JOB_LEASE_SECONDS", "0"),
        ("REEFGUIDE_STORAGE", "ftp"),
        ("REDIS_URL", "http://cache:6379"),
    ],
)
def test_an_invalid_setting_is_one_line_naming_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"Invalid setting {variable}: ")
    assert "\n" not in message


def test_s3_storage_without_a_bucket_names_the_bucket_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEFGUIDE_STORAGE", "s3")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == "Invalid setting S3_BUCKET_NAME: required when REEFGUIDE_STORAGE is s3"


def test_an_invalid_value_is_not_echoed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEFGUIDE_ARGON2_TIME_COST", "s3cret-looking-value")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "s3cret-looking-value" not in str(raised.value)


@pytest.mark.parametrize(("variable", "value"), [("PORT", "abc"), ("ACCESS_TOKEN_EXPIRY_MINUTES", "-1")])
def test_serve_with_an_invalid_setting_exits_2_with_one_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(["serve"], env=base_env(data_dir, **{variable: value}), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Invalid setting {variable}: ")
    assert result.stdout == ""
    assert not data_dir.exists()  # stopped before touching anything


def test_an_invalid_option_is_named_as_the_option(cli: Cli) -> None:
    result = cli("serve", "--port", "0")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Invalid option --port: Input should be greater than or equal to 1"
    ]
    assert not cli.data_dir.exists()


def test_an_invalid_jwt_private_key_stops_the_start_with_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_PRIVATE_KEY", "not a key")
    monkeypatch.setenv("PORT", "1")  # never reached
    result = cli("serve")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Invalid setting JWT_PRIVATE_KEY: ")
    assert not cli.data_dir.exists()  # stopped before touching anything
