"""`reefguide keys generate` prints JWT_* lines; a server started with them signs
with that key and publishes its key id."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.processes import base_env, free_port, parse_env_lines, run_cli, running_server

pytestmark = pytest.mark.slow


def test_a_server_started_with_generated_keys_publishes_their_key_id(tmp_path: Path) -> None:
    generated = run_cli(["keys", "generate"], env=base_env(tmp_path / "data"), cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    values = parse_env_lines(generated.stdout)
    assert sorted(values) == ["JWT_KEY_ID", "JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"]
    private_key = serialization.load_pem_private_key(
        values["JWT_PRIVATE_KEY"].replace("\\n", "\n").encode(), password=None
    )
    public_key = serialization.load_pem_public_key(values["JWT_PUBLIC_KEY"].replace("\\n", "\n").encode())
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.public_numbers() == private_key.public_key().public_numbers()

    env = base_env(tmp_path / "data", **values)
    with running_server(tmp_path, env, port=free_port()) as server, server.client() as http:
        jwks = http.get("/api/.well-known/jwks.json").json()
    assert [key["kid"] for key in jwks["keys"]] == [values["JWT_KEY_ID"]]
    # The key came from the environment: none was written to the data directory.
    assert not (tmp_path / "data" / "keys").exists()
