"""The manager's polls: the backlog read over HTTP, each pool's workers counted by the
backend, launches as the formula says; failures logged and outlived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from reefguide.cluster.base import BackendError, BackendUnavailable, Pool
from reefguide.manager.loop import STALE_MIN_SECONDS, CapacityManager, HttpBacklog
from reefguide.worker import ApiKey, WorkerClient
from tests.manager.fakes import Clock, FakeBackend, FakeStatsApi, pool

REEFGUIDE = pool("default", ("TEST", "REGIONAL_ASSESSMENT"), cooldown_seconds=0.0)
ADRIA = pool("adria", ("ADRIA_MODEL_RUN",), sensitivity=2.1, cooldown_seconds=0.0)
BOUND_SECONDS = 5.0


@pytest.fixture
def api() -> FakeStatsApi:
    return FakeStatsApi()


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(api: FakeStatsApi) -> AsyncIterator[WorkerClient]:
    async with api.client() as http:
        yield http


@pytest.fixture
def make_manager(client: WorkerClient, backend: FakeBackend, clock: Clock) -> Callable[..., CapacityManager]:
    def make(*pools: Pool, **options: Any) -> CapacityManager:
        options.setdefault("clock", clock)
        return CapacityManager(HttpBacklog(client), backend, pools or (REEFGUIDE,), **options)

    return make


def decisions(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == "capacity decision"]


async def test_launches_what_the_formula_says_and_never_more_than_max_over_polls(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager()
    api.set(TEST=6, REGIONAL_ASSESSMENT=4)  # the pool's types add up: 10 -> 4

    first = await manager.poll_once()

    assert first.ok
    assert [(d.pending, d.tracked, d.target, d.launches) for d in first.decisions] == [(10, 0, 4, 4)]
    assert backend.launches == [("default", 4)]
    seen = []
    for backlog in (1000, 1000, 10**6, 3):
        api.set(TEST=backlog)
        await manager.poll_once()
        seen.append(backend.tracked("default"))
    assert seen == [5, 5, 5, 5]
    assert backend.launches == [("default", 4), ("default", 1)]


async def test_nothing_pending_launches_nothing(
    backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    outcome = await make_manager(REEFGUIDE, ADRIA).poll_once()
    assert outcome.ok
    assert [d.launches for d in outcome.decisions] == [0, 0]
    assert backend.launches == []


async def test_each_pool_counts_only_its_own_types(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    api.set(ADRIA_MODEL_RUN=2, SUITABILITY_ASSESSMENT=50)  # no pool serves SUITABILITY here
    outcome = await make_manager(REEFGUIDE, ADRIA).poll_once()
    assert {d.pool: d.pending for d in outcome.decisions} == {"default": 0, "adria": 2}
    assert backend.launches == [("adria", 1)]


async def test_ended_workers_are_forgotten_and_replaced_while_work_remains(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager()
    api.set(TEST=10)
    await manager.poll_once()
    backend.end("default", 3)  # three exit (crashed, or idle and gone)

    outcome = await manager.poll_once()

    assert [(d.tracked, d.launches) for d in outcome.decisions] == [(1, 3)]
    assert backend.tracked("default") == 4


async def test_the_cooldown_holds_back_the_next_launch_until_it_ends(
    api: FakeStatsApi, backend: FakeBackend, clock: Clock, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager(pool("default", ("TEST",), cooldown_seconds=60.0))
    api.set(TEST=10)
    await manager.poll_once()
    backend.end("default")

    clock.advance(59.5)
    held = await manager.poll_once()
    clock.advance(0.5)
    released = await manager.poll_once()

    assert [(d.launches, d.cooldown_remaining) for d in held.decisions] == [(0, 0.5)]
    assert [(d.launches, d.cooldown_remaining) for d in released.decisions] == [(4, 0.0)]
    assert backend.launches == [("default", 4), ("default", 4)]


async def test_a_dry_run_launches_nothing_but_logs_the_decision(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    api.set(TEST=10)
    with capture_logs() as logs:
        outcome = await make_manager(dry_run=True).poll_once()

    assert outcome.ok
    assert backend.launches == []
    assert backend.running_calls == 1  # what is running is still read
    [decision] = decisions(logs)
    assert decision["log_level"] == "info"
    assert decision["dry_run"] is True
    assert decision["launches"] == 4
    assert any(line["event"] == "dry run: launch skipped" and line["count"] == 4 for line in logs)


async def test_each_decision_is_logged_with_its_inputs_and_a_steady_state_at_debug(
    api: FakeStatsApi, backend: FakeBackend, clock: Clock, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager(pool("default", ("TEST",), cooldown_seconds=60.0, max_capacity=3))
    api.set(TEST=10)
    with capture_logs() as logs:
        await manager.poll_once()
        clock.advance(15)
        await manager.poll_once()
        await manager.poll_once()

    first, second, third = decisions(logs)
    assert {key: first[key] for key in ("pool", "job_types", "pending", "tracked", "target", "launches")} == {
        "pool": "default",
        "job_types": ["TEST"],
        "pending": 10,
        "tracked": 0,
        "target": 3,
        "launches": 3,
    }
    assert (first["cooldown_remaining"], first["max_capacity"], first["min_capacity"]) == (0.0, 3, 0)
    assert (second["log_level"], second["tracked"], second["launches"]) == ("info", 3, 0)
    assert second["cooldown_remaining"] == 45.0
    assert third["log_level"] == "debug"  # nothing changed
    launched = [line for line in logs if line["event"] == "workers launched"]
    assert launched == [
        {
            "event": "workers launched",
            "log_level": "info",
            "pool": "default",
            "count": 3,
            "workers": ["w1", "w2", "w3"],
        }
    ]


async def test_when_the_api_is_down_the_poll_fails_is_logged_and_the_next_one_works(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager()
    api.set(TEST=10)
    api.down = True
    with capture_logs() as logs:
        failed = await manager.poll_once()

    assert not failed.ok
    assert failed.errors == [
        "GET jobs/stats: ApiUnavailable: GET jobs/stats failed 3 times; "
        "last: ConnectError: Connection refused"
    ]
    assert backend.running_calls == 0  # nothing is decided blind
    assert backend.launches == []
    [line] = [line for line in logs if line["event"] == "cannot read the job backlog"]
    assert line["log_level"] == "error"

    api.down = False
    assert (await manager.poll_once()).ok
    assert backend.launches == [("default", 4)]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"jobTypes": {"TEST": {"pending": -1}}}, "ValidationError"),
        ({"message": "hello"}, "ValidationError"),
        ("not json", "JSONDecodeError"),
    ],
)
async def test_an_answer_the_manager_cannot_read_fails_the_poll(
    backend: FakeBackend, clock: Clock, answer: object, error: str
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, str):
            return httpx.Response(200, text=answer)
        return httpx.Response(200, json=answer)

    async with WorkerClient(
        "http://api.test/api", ApiKey("k"), transport=httpx.MockTransport(handle)
    ) as client:
        outcome = await CapacityManager(HttpBacklog(client), backend, [REEFGUIDE], clock=clock).poll_once()
    assert not outcome.ok
    assert error in outcome.errors[0]


async def test_a_refused_credential_fails_the_poll_without_stopping_the_manager(
    backend: FakeBackend, clock: Clock
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Invalid API key"})

    async with WorkerClient(
        "http://api.test/api", ApiKey("k"), transport=httpx.MockTransport(handle)
    ) as client:
        with capture_logs() as logs:
            outcome = await CapacityManager(
                HttpBacklog(client), backend, [REEFGUIDE], clock=clock
            ).poll_once()
    assert not outcome.ok
    [line] = [line for line in logs if line["event"] == "cannot read the job backlog"]
    assert line["status"] == 401


async def test_a_backend_failure_in_one_pool_is_logged_and_the_other_pools_are_served(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager(REEFGUIDE, ADRIA)
    api.set(TEST=10, ADRIA_MODEL_RUN=10)
    backend.fail_running["default"] = BackendUnavailable("ECS ListTasks: AccessDenied")
    backend.fail_launch["adria"] = BackendError("ECS started no task for pool adria: RESOURCE:MEMORY")

    with capture_logs() as logs:
        outcome = await manager.poll_once()

    assert outcome.errors == [
        "default: running: BackendUnavailable: ECS ListTasks: AccessDenied",
        "adria: launch: BackendError: ECS started no task for pool adria: RESOURCE:MEMORY",
    ]
    events = [line["event"] for line in logs if line["log_level"] == "error"]
    assert events == ["cannot count the pool's workers", "cannot launch workers"]

    # A failed launch starts no cooldown: the next poll tries again.
    backend.fail_running.clear()
    backend.fail_launch.clear()
    assert (await manager.poll_once()).ok
    assert backend.launches == [("default", 4), ("adria", 3)]


async def test_a_launch_that_falls_short_is_a_warning_and_the_rest_come_later(
    api: FakeStatsApi, backend: FakeBackend, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager()
    api.set(TEST=10)
    backend.launch_limit = 1
    with capture_logs() as logs:
        await manager.poll_once()
        await manager.poll_once()
    assert backend.tracked("default") == 2
    assert [line["event"] for line in logs if line["log_level"] == "warning"] == [
        "fewer workers launched than asked"
    ] * 2


async def test_healthy_while_polls_succeed_and_not_once_they_have_failed_for_a_while(
    api: FakeStatsApi, clock: Clock, make_manager: Callable[..., CapacityManager]
) -> None:
    manager = make_manager(poll_interval=3.0)
    assert manager.stale_after == STALE_MIN_SECONDS
    assert manager.healthy()  # just started: still trying
    clock.advance(STALE_MIN_SECONDS + 1)
    assert not manager.healthy()
    assert (await manager.poll_once()).ok
    assert manager.healthy()
    api.down = True
    clock.advance(STALE_MIN_SECONDS)
    await manager.poll_once()
    assert manager.healthy()  # the last success is not too old yet
    clock.advance(1)
    assert not manager.healthy()
    assert make_manager(poll_interval=10.0).stale_after == 50.0


# The loop, in real (short) time.


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND_SECONDS):
        while not condition():
            await asyncio.sleep(0.005)  # between checks of the condition, not instead of it


async def test_run_polls_every_interval_until_stopped(
    api: FakeStatsApi, client: WorkerClient, backend: FakeBackend
) -> None:
    manager = CapacityManager(HttpBacklog(client), backend, [REEFGUIDE], poll_interval=0.01)
    task = asyncio.create_task(manager.run())
    await wait_until(lambda: len(api.requests) >= 3)
    manager.stop()
    async with asyncio.timeout(BOUND_SECONDS):
        await task
    assert backend.running_calls >= 3


async def test_run_backs_off_after_failed_polls_and_recovers(
    api: FakeStatsApi, client: WorkerClient, backend: FakeBackend
) -> None:
    manager = CapacityManager(HttpBacklog(client), backend, [REEFGUIDE], poll_interval=0.01, draw=lambda: 1.0)
    api.down = True
    with capture_logs() as logs:
        task = asyncio.create_task(manager.run())
        await wait_until(lambda: sum(line["event"] == "poll failed; next poll later" for line in logs) >= 3)
        api.down = False
        api.set(TEST=1)
        await wait_until(lambda: backend.launches != [])
        manager.stop()
        async with asyncio.timeout(BOUND_SECONDS):
            await task
    waits = [line["retry_in"] for line in logs if line["event"] == "poll failed; next poll later"]
    assert waits[:3] == [0.01, 0.02, 0.04]
    assert backend.launches == [("default", 1)]


async def test_a_stop_during_a_hung_poll_ends_the_loop_after_the_grace(
    api: FakeStatsApi, client: WorkerClient, backend: FakeBackend
) -> None:
    backend.hang = asyncio.Event()
    manager = CapacityManager(HttpBacklog(client), backend, [REEFGUIDE], poll_interval=0.01, stop_grace=0.05)
    with capture_logs() as logs:
        task = asyncio.create_task(manager.run())
        await wait_until(lambda: backend.running_calls == 1)
        manager.stop()
        async with asyncio.timeout(BOUND_SECONDS):
            await task
    assert "stopping in the middle of a poll" in [line["event"] for line in logs]
