"""`reefguide keys generate`, `reefguide openapi`, and --help on every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reefguide.auth.keys import load_or_create_key_pair, thumbprint
from reefguide.settings import Settings
from tests.cli.conftest import Cli
from tests.e2e.processes import parse_env_lines


def test_keys_generate_prints_env_lines_of_a_matching_rsa_2048_pair(cli: Cli) -> None:
    values = parse_env_lines(cli.ok("keys", "generate").stdout)
    assert sorted(values) == ["JWT_KEY_ID", "JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"]
    assert "\n" not in values["JWT_PRIVATE_KEY"]
    private_key = serialization.load_pem_private_key(
        values["JWT_PRIVATE_KEY"].replace("\\n", "\n").encode(), password=None
    )
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    assert values["JWT_KEY_ID"] == thumbprint(private_key.public_key())
    assert not cli.data_dir.exists()


def test_keys_generate_lines_work_as_a_dot_env_file(cli: Cli, tmp_path: Path) -> None:
    output = cli.ok("keys", "generate").stdout
    (tmp_path / ".env").write_text(output)
    settings = Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]
    assert load_or_create_key_pair(settings).key_id == parse_env_lines(output)["JWT_KEY_ID"]


def test_each_generated_pair_is_new(cli: Cli) -> None:
    first = parse_env_lines(cli.ok("keys", "generate").stdout)
    second = parse_env_lines(cli.ok("keys", "generate").stdout)
    assert first["JWT_KEY_ID"] != second["JWT_KEY_ID"]


def test_openapi_prints_the_document(cli: Cli) -> None:
    document = json.loads(cli.ok("openapi").stdout)
    assert document["openapi"].startswith("3.")
    assert "post" in document["paths"]["/api/auth/login"]
    assert not cli.data_dir.exists()


def test_openapi_writes_a_file(cli: Cli, tmp_path: Path) -> None:
    cli.ok("openapi", "--output", str(tmp_path / "openapi.json"))
    assert "/api/auth/login" in json.loads((tmp_path / "openapi.json").read_text())["paths"]


COMMANDS = [
    [],
    ["serve"],
    ["db"],
    ["db", "upgrade"],
    ["db", "reset"],
    ["db", "check"],
    ["keys"],
    ["keys", "generate"],
    ["users"],
    ["users", "create"],
    ["users", "set-password"],
    ["users", "create-api-key"],
    ["openapi"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "reefguide")
def test_help(cli: Cli, command: list[str]) -> None:
    result = cli.ok(*command, "--help")
    assert "Usage:" in result.stdout
    assert not cli.data_dir.exists()
