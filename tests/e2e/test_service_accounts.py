"""Accounts from the environment: ADMIN_USERNAME/ADMIN_PASSWORD instead of a generated
admin, and WORKER_*/MANAGER_* service accounts with the WORKER role, created on the
first start and updated on the next."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, base_env, free_port, login, running_server

pytestmark = pytest.mark.slow

ADMIN = ("Boss@Example.com", "admin-password-1")
WORKER = ("worker@example.com", "worker-password-1")
NEW_WORKER_PASSWORD = "worker-password-2"
MANAGER = ("manager@example.com", "manager-password-1")


@dataclass
class Starts:
    first: Server
    admin_login: httpx.Response
    admin_profile: httpx.Response
    worker_profile: httpx.Response
    manager_profile: httpx.Response
    # The second start, with WORKER_PASSWORD changed.
    old_worker_login: httpx.Response
    new_worker_login: httpx.Response


def _profile(server: Server, email: str, password: str) -> tuple[httpx.Response, httpx.Response]:
    response = login(server.base_url, email, password)
    with server.client() as http:
        token = response.json().get("token", "")
        return response, http.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"})


def _env(data_dir: Path, worker_password: str) -> dict[str, str]:
    return base_env(
        data_dir,
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        WORKER_USERNAME=WORKER[0],
        WORKER_PASSWORD=worker_password,
        MANAGER_USERNAME=MANAGER[0],
        MANAGER_PASSWORD=MANAGER[1],
    )


@pytest.fixture(scope="module")
def starts(tmp_path_factory: pytest.TempPathFactory) -> Starts:
    workdir = tmp_path_factory.mktemp("service-accounts")
    data_dir = workdir / "data"
    with running_server(workdir, _env(data_dir, WORKER[1]), port=free_port(), name="first") as first:
        admin_login, admin_profile = _profile(first, *ADMIN)
        _, worker_profile = _profile(first, *WORKER)
        _, manager_profile = _profile(first, *MANAGER)
    with running_server(
        workdir, _env(data_dir, NEW_WORKER_PASSWORD), port=free_port(), name="second"
    ) as second:
        old_worker_login = login(second.base_url, *WORKER)
        new_worker_login = login(second.base_url, WORKER[0], NEW_WORKER_PASSWORD)
    return Starts(
        first,
        admin_login,
        admin_profile,
        worker_profile,
        manager_profile,
        old_worker_login,
        new_worker_login,
    )


def test_admin_from_the_environment_logs_in(starts: Starts) -> None:
    assert starts.admin_login.status_code == 200, starts.admin_login.text
    user = starts.admin_profile.json()["user"]
    assert user["email"] == ADMIN[0].lower()
    assert user["roles"] == ["ADMIN"]


def test_no_password_is_generated_when_admin_password_is_set(starts: Starts) -> None:
    assert "password" not in starts.first.stdout()
    assert ADMIN[1] not in starts.first.stdout() + starts.first.stderr()


def test_worker_and_manager_accounts_get_the_worker_role(starts: Starts) -> None:
    for profile, email in ((starts.worker_profile, WORKER[0]), (starts.manager_profile, MANAGER[0])):
        assert profile.status_code == 200, profile.text
        assert profile.json()["user"]["email"] == email
        assert profile.json()["user"]["roles"] == ["WORKER"]


def test_a_changed_worker_password_is_applied_on_the_next_start(starts: Starts) -> None:
    assert starts.old_worker_login.status_code == 401
    assert starts.new_worker_login.status_code == 200, starts.new_worker_login.text
