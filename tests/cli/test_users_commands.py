"""`reefguide users create | set-password | create-api-key`."""

from __future__ import annotations

from reefguide.auth.keys import KeyPair
from tests.cli.conftest import Cli, call_api, login

PASSWORD = "first-password"


def _profile(cli: Cli, key_pair: KeyPair, token: str) -> dict[str, object]:
    response = call_api(
        cli, key_pair, "GET", "/api/auth/profile", headers=[("Authorization", f"Bearer {token}")]
    )
    assert response.status_code == 200, response.text
    user: dict[str, object] = response.json()["user"]
    return user


def test_created_user_can_log_in(cli: Cli, key_pair: KeyPair) -> None:
    cli.ok("db", "upgrade")
    result = cli.ok("users", "create", "Ann@Example.com", "--password", PASSWORD)
    assert "ann@example.com" in result.stdout
    response = login(cli, key_pair, "ann@example.com", PASSWORD)
    assert response.status_code == 200, response.text
    assert _profile(cli, key_pair, response.json()["token"])["roles"] == ["ANALYST"]


def test_created_user_gets_the_given_role(cli: Cli, key_pair: KeyPair) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "robot@example.com", "--role", "WORKER", "--password", PASSWORD)
    response = login(cli, key_pair, "robot@example.com", PASSWORD)
    assert _profile(cli, key_pair, response.json()["token"])["roles"] == ["WORKER"]


def test_password_can_come_from_stdin(cli: Cli, key_pair: KeyPair) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "piped@example.com", input=f"{PASSWORD}\n")
    assert login(cli, key_pair, "piped@example.com", PASSWORD).status_code == 200


def test_creating_an_existing_user_fails_with_a_message(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "ann@example.com", "--password", PASSWORD)
    result = cli("users", "create", "ANN@example.com", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_an_unknown_role_is_refused(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    result = cli("users", "create", "ann@example.com", "--role", "OWNER", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "WORKER" in result.stderr  # lists the roles to choose from


def test_a_short_password_is_refused(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    result = cli("users", "create", "ann@example.com", "--password", "short")
    assert result.exit_code == 1
    assert "Invalid password" in result.stderr


def test_users_commands_on_an_unmigrated_database_say_what_to_run(cli: Cli) -> None:
    result = cli("users", "create", "ann@example.com", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "reefguide db upgrade" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_set_password_replaces_the_old_one(cli: Cli, key_pair: KeyPair) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "ann@example.com", "--password", PASSWORD)
    cli.ok("users", "set-password", "ann@example.com", input="second-password\n")
    assert login(cli, key_pair, "ann@example.com", PASSWORD).status_code == 401
    assert login(cli, key_pair, "ann@example.com", "second-password").status_code == 200


def test_set_password_of_an_unknown_user_fails(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    result = cli("users", "set-password", "nobody@example.com", "--password", "second-password")
    assert result.exit_code == 1
    assert "nobody@example.com" in result.stderr


def test_created_api_key_authenticates_as_the_user(cli: Cli, key_pair: KeyPair) -> None:
    cli.ok("db", "upgrade")
    cli.ok("users", "create", "robot@example.com", "--role", "WORKER", "--password", PASSWORD)
    key = cli.ok("users", "create-api-key", "robot@example.com", "--name", "worker-1").stdout.strip()
    response = call_api(cli, key_pair, "GET", "/api/auth/profile", headers=[("x-api-key", key)])
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "robot@example.com"
    assert response.json()["user"]["roles"] == ["WORKER"]
