"""The local backend: workers as child processes, launched per pool (they go when
idle) or kept running as an always-on service that scale and redeploy steer."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable

import pytest

from reefguide.cluster.base import BackendError, BackendUnavailable, ClusterStatus, Pool
from reefguide.cluster.local import DEFAULT_IDLE_TIMEOUT_MS, LocalBackend
from tests.cluster.conftest import POOL, FakeWorkers, eventually, exists, is_alive

MakeLocal = Callable[..., LocalBackend]


def service_pids(status: ClusterStatus) -> int:
    return status["runningCount"] + status["pendingCount"]


def messages(status: ClusterStatus) -> list[str]:
    return [event["message"] for event in status["events"]]


async def test_launched_workers_get_the_pools_job_types_and_an_idle_timeout(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local()
    ids = await backend.launch(POOL, 2)
    assert len(ids) == 2
    for pid in ids:
        env = await fake_workers.wait_env(pid)
        assert env["JOB_TYPES"] == "TEST,REGIONAL_ASSESSMENT"
        assert env["IDLE_TIMEOUT_MS"] == DEFAULT_IDLE_TIMEOUT_MS
        assert env["API_ENDPOINT"] == "http://127.0.0.1:9"
        assert env["WORKER_API_KEY"] == "test-key"
    running = await backend.running(POOL)
    assert sorted(worker.id for worker in running) == sorted(ids)
    assert {worker.pool for worker in running} == {"reefguide"}
    assert await backend.running(Pool(name="other", job_types=("TEST",))) == []


async def test_a_launched_worker_never_runs_without_an_idle_timeout(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local({"IDLE_TIMEOUT_MS": "0"})
    [pid] = await backend.launch(POOL)
    assert (await fake_workers.wait_env(pid))["IDLE_TIMEOUT_MS"] == DEFAULT_IDLE_TIMEOUT_MS


async def test_a_launched_worker_is_pending_until_it_has_been_up_a_moment(make_local: MakeLocal) -> None:
    backend = make_local(ready_seconds=1.0)
    await backend.launch(POOL)
    assert [worker.status for worker in await backend.running(POOL)] == ["PENDING"]

    async def running() -> bool:
        return [worker.status for worker in await backend.running(POOL)] == ["RUNNING"]

    await eventually(running)


async def test_workers_that_end_are_forgotten_and_leave_no_zombie(make_local: MakeLocal) -> None:
    backend = make_local({"FAKE_WORKER": "exit"})
    ids = await backend.launch(POOL, 2)

    async def none_left() -> bool:
        return await backend.running(POOL) == []

    await eventually(none_left)
    for pid in ids:
        assert not exists(int(pid))
    assert f"worker pid {ids[0]} of pool reefguide exited with code 0" in messages(await backend.status())


async def test_scale_keeps_always_on_workers_that_never_idle_out(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local(service_job_types=("TEST",))
    await backend.scale(2)
    status = await backend.status()
    assert status["desiredCount"] == 2
    assert service_pids(status) == 2
    assert status["serviceStatus"] == "ACTIVE"
    [primary] = status["deployments"]
    assert primary["status"] == "PRIMARY"
    assert primary["desiredCount"] == 2
    started = [m for m in messages(status) if m.startswith("started worker pid ")]
    assert len(started) == 2
    pid = started[0].removeprefix("started worker pid ")
    env = await fake_workers.wait_env(pid)
    assert env["IDLE_TIMEOUT_MS"] == "0"
    assert env["JOB_TYPES"] == "TEST"

    async def all_running() -> ClusterStatus | None:
        current = await backend.status()
        return current if current["runningCount"] == 2 else None

    status = await eventually(all_running)
    assert status["deployments"][0]["rolloutState"] == "COMPLETED"
    # Always-on workers are not a pool's launched workers.
    assert await backend.running(POOL) == []


async def test_a_scaled_worker_that_dies_is_replaced(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local()
    await backend.scale(2)
    pids = set(fake_workers_pids(await backend.status()))
    for pid in pids:
        await fake_workers.wait_env(pid)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)

    async def replaced() -> set[int] | None:
        # Until the backend has noticed the death, it still counts the victim among
        # its two processes: wait for the exit to be reported, then for the two again.
        status = await backend.status()
        if not any(f"worker pid {victim} exited with code -9" in m for m in messages(status)):
            return None
        current = set(fake_workers_pids(status, alive_only=True))
        return current if len(current) == 2 and service_pids(status) == 2 else None

    now = await eventually(replaced)
    assert victim not in now
    assert not exists(victim)
    assert (await backend.status())["deployments"][0]["failedTasks"] == 1


def fake_workers_pids(status: ClusterStatus, alive_only: bool = False) -> list[int]:
    """Always-on workers named by "started worker pid N" events (in the 5 latest events,
    newest first)."""
    matches = [re.fullmatch(r"started worker pid (\d+)", message) for message in messages(status)]
    pids = [int(match[1]) for match in matches if match]
    return [pid for pid in pids if is_alive(pid)] if alive_only else pids


async def test_scaling_down_stops_the_newest_workers(make_local: MakeLocal) -> None:
    backend = make_local()
    await backend.scale(3)
    newest_first = fake_workers_pids(await backend.status())
    assert len(newest_first) == 3
    await backend.scale(1)

    async def one_left() -> bool:
        return service_pids(await backend.status()) == 1

    await eventually(one_left)
    assert is_alive(newest_first[-1])
    assert not any(exists(pid) for pid in newest_first[:-1])
    assert "desired count set to 1" in messages(await backend.status())


async def test_scale_to_zero_stops_every_always_on_worker(make_local: MakeLocal) -> None:
    backend = make_local()
    await backend.scale(2)
    pids = fake_workers_pids(await backend.status())
    await backend.scale(0)

    async def all_gone() -> bool:
        return not any(exists(pid) for pid in pids) and service_pids(await backend.status()) == 0

    await eventually(all_gone)
    status = await backend.status()
    assert status["desiredCount"] == 0
    assert status["deployments"][0]["rolloutState"] == "COMPLETED"


async def test_redeploy_starts_new_workers_before_it_stops_the_old(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local(ready_seconds=0.3)
    await backend.scale(2)

    async def settled() -> bool:
        return (await backend.status())["runningCount"] == 2

    await eventually(settled)
    old = set(fake_workers_pids(await backend.status()))
    await backend.redeploy()
    status = await backend.status()
    assert [d["status"] for d in status["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert status["deployments"][0]["desiredCount"] == 2
    assert status["deployments"][1]["desiredCount"] == 0
    assert status["deployments"][1]["runningCount"] == 2

    lowest = 4

    async def rolled_out() -> ClusterStatus | None:
        nonlocal lowest
        current = await backend.status()
        lowest = min(lowest, sum(d["runningCount"] for d in current["deployments"]))
        done = [d["status"] for d in current["deployments"]] == ["PRIMARY"] and current["runningCount"] == 2
        return current if done else None

    status = await eventually(rolled_out)
    assert lowest >= 2  # never fewer than the desired count up while replacing
    assert status["deployments"][0]["rolloutState"] == "COMPLETED"
    assert "deployment 2 completed" in messages(status)

    async def both_new() -> set[int] | None:
        alive = {pid for pid in fake_workers.pids() if is_alive(pid)}
        return alive if len(alive) == 2 else None

    assert not (await eventually(both_new)) & old
    assert not any(exists(pid) for pid in old)


async def test_close_stops_every_worker_and_kills_those_ignoring_sigterm(
    make_local: MakeLocal, fake_workers: FakeWorkers
) -> None:
    backend = make_local({"FAKE_WORKER": "stubborn"}, stop_grace_seconds=0.5)
    launched = [int(pid) for pid in await backend.launch(POOL, 2)]
    await backend.scale(1)
    always_on = fake_workers_pids(await backend.status())
    for pid in [*launched, *always_on]:
        await fake_workers.wait_env(pid)  # SIGTERM is ignored from here on
    await backend.close()
    for pid in [*launched, *always_on]:
        assert not exists(pid), pid
    with pytest.raises(BackendUnavailable):
        await backend.launch(POOL)
    assert (await backend.status())["serviceStatus"] == "INACTIVE"


async def test_workers_that_fail_at_start_are_restarted_ever_more_slowly(make_local: MakeLocal) -> None:
    # Any exit within ready_seconds is a failed start, however slow the machine.
    backend = make_local(
        {"FAKE_WORKER": "exit", "FAKE_EXIT_CODE": "2"}, ready_seconds=10.0, restart_backoff_seconds=0.05
    )
    await backend.scale(1)

    async def backing_off() -> list[str] | None:
        notes = [m for m in messages(await backend.status()) if "at start; next start in" in m]
        return notes if len(notes) >= 3 else None

    notes = await eventually(backing_off)
    delays = [float(note.rsplit("next start in ", 1)[1].removesuffix(" s")) for note in notes]
    assert delays == sorted(delays, reverse=True)  # newest first, each longer than the last
    assert "exited with code 2" in notes[0]


async def test_without_credentials_nothing_starts_but_status_answers(make_local: MakeLocal) -> None:
    backend = make_local(unavailable="Local workers have no credentials")
    with pytest.raises(BackendUnavailable, match="no credentials"):
        await backend.launch(POOL)
    with pytest.raises(BackendUnavailable, match="no credentials"):
        await backend.scale(1)
    await backend.scale(0)
    assert (await backend.status())["desiredCount"] == 0


async def test_a_command_that_cannot_start_is_a_backend_error(make_local: MakeLocal) -> None:
    backend = make_local(command=["/nonexistent/reefguide", "worker"])
    with pytest.raises(BackendError, match="Cannot start a worker"):
        await backend.launch(POOL)
