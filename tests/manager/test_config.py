"""Pools from the original's per-type variables or from a TOML file, and the manager's
own settings; every invalid value stops the start with one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reefguide.cluster.base import Pool
from reefguide.manager.config import ManagerConfigError, environment, load_manager_config
from reefguide.worker import ApiKey, Login

REEFGUIDE_TYPES = ("TEST", "SUITABILITY_ASSESSMENT", "REGIONAL_ASSESSMENT", "DATA_SPECIFICATION_UPDATE")

ARN = "arn:aws:ecs:ap-southeast-2:123456789012:task-definition/reefguide-worker:3"
EXAMPLE = """
[pools.reefguide-worker]
job_types = ["TEST", "SUITABILITY_ASSESSMENT", "REGIONAL_ASSESSMENT", "DATA_SPECIFICATION_UPDATE"]
max_capacity = 8
cooldown_seconds = 30
task_definition = "arn:aws:ecs:ap-southeast-2:123456789012:task-definition/reefguide-worker:3"
cluster = "reefguide"
security_group = "sg-0123"
subnets = ["subnet-a", "subnet-b"]

[pools.adria]
job_types = ["ADRIA_MODEL_RUN"]
task_definition = "adria-worker"
"""


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGER_API_KEY", "rg_manager")


def by_name(pools: tuple[Pool, ...]) -> dict[str, Pool]:
    return {pool.name: pool for pool in pools}


def config_error(**kwargs: object) -> str:
    with pytest.raises(ManagerConfigError) as raised:
        load_manager_config(**kwargs)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "\n" not in message
    return message


# From the environment.


@pytest.mark.usefixtures("api_key")
def test_with_no_settings_the_reefguide_types_share_a_default_pool_and_adria_has_its_own() -> None:
    config = load_manager_config()

    pools = by_name(config.pools)
    assert set(pools) == {"default", "adria_model_run"}
    assert pools["default"] == Pool(name="default", job_types=REEFGUIDE_TYPES)
    assert pools["adria_model_run"].job_types == ("ADRIA_MODEL_RUN",)
    assert pools["adria_model_run"].sensitivity == 2.1
    assert (pools["default"].min_capacity, pools["default"].max_capacity) == (0, 5)
    assert (pools["default"].factor, pools["default"].sensitivity) == (3.3, 2.6)
    assert pools["default"].cooldown_seconds == 60.0
    assert config.poll_interval_seconds == 3.0
    assert (config.health_host, config.health_port) == ("127.0.0.1", 3000)
    assert config.backend == "local"
    assert config.api_url == "http://localhost:5000/api"
    assert config.credentials == ApiKey("rg_manager")


@pytest.mark.usefixtures("api_key")
def test_types_sharing_a_task_definition_share_one_pool_named_after_its_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in REEFGUIDE_TYPES:
        monkeypatch.setenv(f"{name}_TASK_DEF", ARN)
        monkeypatch.setenv(f"{name}_CLUSTER", "reefguide")
        monkeypatch.setenv(f"{name}_SECURITY_GROUP", "sg-0123")
        monkeypatch.setenv(f"{name}_MAX_CAPACITY", "8")
    monkeypatch.setenv("ADRIA_MODEL_RUN_TASK_DEF", "adria-worker:1")
    monkeypatch.setenv("ADRIA_MODEL_RUN_COOLDOWN", "120.5")
    monkeypatch.setenv("ADRIA_MODEL_RUN_FACTOR", "1")
    monkeypatch.setenv("ADRIA_MODEL_RUN_SUBNETS", "subnet-a, subnet-b")
    monkeypatch.setenv("CLUSTER_BACKEND", "ecs")

    pools = by_name(load_manager_config().pools)

    assert set(pools) == {"reefguide-worker:3", "adria-worker:1"}
    shared = pools["reefguide-worker:3"]
    assert shared.job_types == REEFGUIDE_TYPES
    assert (shared.task_definition, shared.cluster, shared.security_group) == (
        ARN,
        "reefguide",
        "sg-0123",
    )
    assert shared.max_capacity == 8
    adria = pools["adria-worker:1"]
    assert (adria.cooldown_seconds, adria.factor, adria.sensitivity) == (120.5, 1.0, 2.1)
    assert adria.subnets == ("subnet-a", "subnet-b")


@pytest.mark.usefixtures("api_key")
def test_a_type_with_settings_of_its_own_gets_a_pool_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MAX_CAPACITY", "1")

    pools = by_name(load_manager_config().pools)

    assert pools["test"].job_types == ("TEST",)
    assert pools["test"].max_capacity == 1
    assert pools["default"].job_types == REEFGUIDE_TYPES[1:]


@pytest.mark.usefixtures("api_key")
def test_types_sharing_a_task_definition_must_not_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TASK_DEF", "worker")
    monkeypatch.setenv("REGIONAL_ASSESSMENT_TASK_DEF", "worker")
    monkeypatch.setenv("REGIONAL_ASSESSMENT_MAX_CAPACITY", "9")

    message = config_error()

    assert message.startswith(
        "Invalid setting REGIONAL_ASSESSMENT_MAX_CAPACITY: differs from TEST_MAX_CAPACITY"
    )


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TEST_FACTOR", "0.5", "Invalid setting TEST_FACTOR: Input should be greater than or equal to 1"),
        ("TEST_MAX_CAPACITY", "many", "Invalid setting TEST_MAX_CAPACITY: Input should be a valid integer"),
        ("TEST_MAX_CAPACITY", "2.5", "Invalid setting TEST_MAX_CAPACITY: Input should be a valid integer"),
        (
            "TEST_MIN_CAPACITY",
            "-1",
            "Invalid setting TEST_MIN_CAPACITY: Input should be greater than or equal",
        ),
        (
            "TEST_MIN_CAPACITY",
            "6",
            "Invalid setting TEST_MIN_CAPACITY: must not exceed the maximum capacity (5)",
        ),
        ("TEST_COOLDOWN", "-5", "Invalid setting TEST_COOLDOWN: Input should be greater than or equal to 0"),
        ("TEST_SENSITIVITY", "nan", "Invalid setting TEST_SENSITIVITY: Input should be a finite number"),
        (
            "POLL_INTERVAL_MS",
            "499",
            "Invalid setting POLL_INTERVAL_MS: Input should be greater than or equal to 500",
        ),
        ("PORT", "http", "Invalid setting REEFGUIDE_MANAGER_PORT or PORT: Input should be a valid integer"),
        (
            "API_ENDPOINT",
            "localhost:5000",
            "Invalid setting API_ENDPOINT: must start with http:// or https://",
        ),
        (
            "CLUSTER_BACKEND",
            "kubernetes",
            "Invalid setting CLUSTER_BACKEND: Input should be 'local' or 'ecs'",
        ),
    ],
)
def test_an_invalid_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    message = config_error()
    assert message.startswith(expected)
    assert value not in message.removeprefix(expected)


@pytest.mark.usefixtures("api_key")
def test_a_min_above_the_max_is_refused_but_zero_to_zero_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADRIA_MODEL_RUN_MAX_CAPACITY", "0")
    monkeypatch.setenv("ADRIA_MODEL_RUN_MIN_CAPACITY", "0")
    assert load_manager_config()  # 0..0 is a pool that never launches, and valid
    monkeypatch.setenv("TEST_MIN_CAPACITY", "")  # blank is unset
    monkeypatch.setenv("REGIONAL_ASSESSMENT_MIN_CAPACITY", "2")
    monkeypatch.setenv("REGIONAL_ASSESSMENT_MAX_CAPACITY", "1")
    message = config_error()
    assert (
        message
        == "Invalid setting REGIONAL_ASSESSMENT_MIN_CAPACITY: must not exceed the maximum capacity (1)"
    )


@pytest.mark.usefixtures("api_key")
def test_the_ecs_backend_needs_a_task_definition_for_every_type(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REEFGUIDE_TYPES:
        monkeypatch.setenv(f"{name}_TASK_DEF", "reefguide-worker")
    message = config_error(backend="ecs")
    assert message.startswith("Invalid setting ADRIA_MODEL_RUN_TASK_DEF: required with the ecs backend")


@pytest.mark.usefixtures("api_key")
def test_the_backend_option_wins_over_cluster_backend_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUSTER_BACKEND", "ecs")
    assert load_manager_config(backend="local").backend == "local"
    assert config_error(backend="k8s") == "Invalid option --backend: must be local or ecs"


def test_a_login_comes_from_manager_username_or_the_originals_api_username(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_USERNAME", "capacity@example.com")
    monkeypatch.setenv("API_PASSWORD", "secret-1")
    assert load_manager_config().credentials == Login("capacity@example.com", "secret-1")

    monkeypatch.setenv("MANAGER_USERNAME", "manager@example.com")
    monkeypatch.setenv("MANAGER_PASSWORD", "secret-2")
    assert load_manager_config().credentials == Login("manager@example.com", "secret-2")

    monkeypatch.setenv("MANAGER_API_KEY", "rg_key")
    assert load_manager_config().credentials == ApiKey("rg_key")


def test_without_credentials_the_manager_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_error().startswith("The manager needs credentials: MANAGER_USERNAME and MANAGER_PASSWORD")
    monkeypatch.setenv("MANAGER_USERNAME", "manager@example.com")
    assert config_error() == "Invalid setting MANAGER_PASSWORD: required with MANAGER_USERNAME"


@pytest.mark.usefixtures("api_key")
def test_settings_and_pools_are_read_from_dot_env_under_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("POLL_INTERVAL_MS=1000\nTEST_MAX_CAPACITY=2\nTEST_FACTOR=2\n")
    monkeypatch.setenv("TEST_FACTOR", "4")

    config = load_manager_config()

    assert config.poll_interval_seconds == 1.0
    test_pool = by_name(config.pools)["test"]
    assert (test_pool.max_capacity, test_pool.factor) == (2, 4.0)
    assert environment()["TEST_FACTOR"] == "4"


# From a TOML file.


@pytest.mark.usefixtures("api_key")
def test_pools_come_from_the_toml_file_when_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manager.toml"
    path.write_text(EXAMPLE)
    monkeypatch.setenv("TEST_MAX_CAPACITY", "1")  # the file, not the environment, says what pools are

    config = load_manager_config(config_path=path, backend="ecs")

    assert config.pools == (
        Pool(
            name="reefguide-worker",
            job_types=REEFGUIDE_TYPES,
            max_capacity=8,
            cooldown_seconds=30.0,
            task_definition="arn:aws:ecs:ap-southeast-2:123456789012:task-definition/reefguide-worker:3",
            cluster="reefguide",
            security_group="sg-0123",
            subnets=("subnet-a", "subnet-b"),
        ),
        Pool(name="adria", job_types=("ADRIA_MODEL_RUN",), sensitivity=2.1, task_definition="adria-worker"),
    )


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[pools.a]\njob_types = ["TEST"]\nmax_capcity = 3\n',
            "pools.a.max_capcity: Extra inputs are not permitted",
        ),
        (
            '[pools.a]\njob_types = ["TEST"]\nfactor = 0.5\n',
            "pools.a.factor: Input should be greater than or equal to 1",
        ),
        ('[pools.a]\njob_types = ["TEST"]\nmax_capacity = true\n', "pools.a.max_capacity: must be a number"),
        (
            '[pools.a]\njob_types = ["TEST"]\nmin_capacity = 9\n',
            "pools.a.min_capacity: must not exceed the maximum",
        ),
        ('[pools.a]\njob_types = ["NOPE"]\n', "pools.a.job_types: unknown job type NOPE"),
        ("[pools.a]\njob_types = []\n", "pools.a.job_types: must be a non-empty list of job type names"),
        ("[pools.a]\nmax_capacity = 1\n", "pools.a.job_types: must be a non-empty list of job type names"),
        (
            '[pools.a]\njob_types = ["TEST"]\n[pools.b]\njob_types = ["TEST"]\n',
            "pools.b.job_types: TEST is already in pool a",
        ),
        (
            "poll_interval_ms = 100\n[pools.a]\njob_types = ['TEST']\n",
            "poll_interval_ms: Extra inputs are not permitted",
        ),
        ("", "pools: Field required"),
        ("[pools]\n", "pools: Dictionary should have at least 1 item"),
        ("[pools.a\n", "Expected ']'"),
    ],
)
def test_an_invalid_config_file_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "manager.toml"
    path.write_text(text)
    message = config_error(config_path=path)
    assert message.startswith(f"Invalid config {path}: ")
    assert expected in message


@pytest.mark.usefixtures("api_key")
def test_the_ecs_backend_needs_a_task_definition_in_every_pool_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "manager.toml"
    path.write_text('[pools.a]\njob_types = ["TEST"]\n')
    assert config_error(config_path=path, backend="ecs") == (
        f"Invalid config {path}: pools.a.task_definition: required with the ecs backend"
    )


@pytest.mark.usefixtures("api_key")
def test_a_missing_config_file_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert config_error(config_path=path) == f"Cannot read the config {path}: No such file or directory"
