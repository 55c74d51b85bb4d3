"""`reefguide worker` processes against a real `reefguide serve`: jobs complete,
SIGTERM finishes or releases, SIGKILL loses nothing, idle workers exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.processes import Server, base_env, run_cli
from tests.worker.conftest import (
    LEASE_SECONDS,
    WORKER,
    Api,
    in_progress_with_progress,
    is_running,
    worker_env,
    worker_process,
)

pytestmark = pytest.mark.slow


def test_a_test_job_is_completed_with_its_progress_visible_meanwhile(
    api: Api, server: Server, tmp_path: Path
) -> None:
    job_id = api.submit(duration=2)
    with worker_process(tmp_path, worker_env(server, IDLE_TIMEOUT_MS="500")) as worker:
        running = api.wait_for(job_id, in_progress_with_progress)
        done = api.wait_for_status(job_id, "SUCCEEDED")
        assert worker.wait() == 0  # idle once the job is done
    progress = running["assignments"][-1]
    assert 0 < progress["progress"] < 1
    assert progress["message"] in {"1/2 s", "2/2 s"}
    assert done["assignments"][-1]["outcome"] == "SUCCEEDED"
    started = [line for line in worker.logs() if line["event"] == "worker started"]
    assert len(started) == 1
    assert started[0]["api"] == f"{server.base_url}/api"
    assert started[0]["job_types"] == ["TEST"]
    assert started[0]["max_concurrent_jobs"] == 1
    assert WORKER[1] not in worker.stderr_path.read_text()


def test_sigterm_during_a_short_job_lets_it_finish_and_exits_0(
    api: Api, server: Server, tmp_path: Path
) -> None:
    job_id = api.submit(duration=1.5)
    with worker_process(tmp_path, worker_env(server)) as worker:
        api.wait_for(job_id, is_running)
        worker.terminate()
        assert worker.wait() == 0
    assert api.job(job_id)["status"] == "SUCCEEDED"
    assert "stopping: no more claims" in worker.events()


def test_sigterm_with_a_long_job_and_a_short_grace_releases_it_and_exits_0(
    api: Api, server: Server, tmp_path: Path
) -> None:
    job_id = api.submit(duration=60)
    with worker_process(tmp_path, worker_env(server), ["--grace-seconds", "0.5"]) as worker:
        api.wait_for(job_id, is_running)
        worker.terminate()
        assert worker.wait(timeout=10) == 0
    job = api.job(job_id)
    assert job["status"] == "PENDING"
    assert job["assignments"][-1]["outcome"] == "RELEASED"
    assert "job released: it will run again" in worker.events()


def test_a_job_whose_worker_is_killed_comes_back_and_another_worker_completes_it(
    api: Api, server: Server, tmp_path: Path
) -> None:
    job_id = api.submit(duration=1)
    with worker_process(tmp_path, worker_env(server), name="killed") as first:
        api.wait_for(job_id, is_running)
        first.kill()
    api.wait_for_status(job_id, "PENDING", timeout=LEASE_SECONDS + 5)
    with worker_process(tmp_path, worker_env(server, IDLE_TIMEOUT_MS="500"), name="second") as second:
        job = api.wait_for_status(job_id, "SUCCEEDED")
        assert second.wait() == 0
    assert [(a["attempt"], a["outcome"]) for a in job["assignments"]] == [(1, "EXPIRED"), (2, "SUCCEEDED")]


def test_an_idle_worker_exits_0_after_the_idle_timeout(server: Server, tmp_path: Path) -> None:
    with worker_process(tmp_path, worker_env(server, IDLE_TIMEOUT_MS="300")) as worker:
        assert worker.wait(timeout=10) == 0
    assert worker.events()[-2:] == ["idle: exiting", "worker stopped"]


def test_a_worker_with_an_api_key_completes_a_job(
    api: Api, server: Server, server_data_dir: Path, tmp_path: Path
) -> None:
    created = run_cli(
        ["users", "create-api-key", WORKER[0], "--name", "e2e"], env=base_env(server_data_dir), cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    env = worker_env(server, IDLE_TIMEOUT_MS="500", WORKER_API_KEY=key)
    del env["WORKER_USERNAME"], env["WORKER_PASSWORD"]
    job_id = api.submit()
    with worker_process(tmp_path, env) as worker:
        api.wait_for_status(job_id, "SUCCEEDED")
        assert worker.wait() == 0
    assert "logged in" not in worker.events()


def test_a_worker_without_credentials_exits_2_naming_them(tmp_path: Path) -> None:
    done = run_cli(["worker"], env=base_env(None, API_ENDPOINT="http://127.0.0.1:9"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "The worker needs credentials: WORKER_USERNAME and WORKER_PASSWORD, or WORKER_API_KEY"
    )


def test_wrong_credentials_exit_1(server: Server, tmp_path: Path) -> None:
    env = worker_env(server, WORKER_PASSWORD="not-the-password")
    with worker_process(tmp_path, env) as worker:
        assert worker.wait() == 1
    assert "the API refused this worker" in worker.events()


def test_a_type_without_a_handler_exits_2(server: Server, tmp_path: Path) -> None:
    done = run_cli(["worker", "--types", "TEST,ADRIA_MODEL_RUN"], env=worker_env(server), cwd=tmp_path)
    assert done.returncode == 2
    assert "No handler for job type ADRIA_MODEL_RUN" in done.stderr
