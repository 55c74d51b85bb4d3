"""The original's scaling rule: a logarithmic target, clamped, with a cooldown between launches."""

from __future__ import annotations

import math

import pytest

from reefguide.manager.formula import decide, round_half_up, target_workers
from tests.manager.fakes import pool

# Sensitivity that makes the raw target exactly 2.5 for 1 pending job with factor 1.
HALF = 2.5 / math.log(2)

CASES = [
    # (pending, tracked, seconds since the last launch, pool settings) -> (target, launches)
    pytest.param(0, 0, None, {}, (0, 0), id="nothing pending: nothing to do"),
    pytest.param(0, 0, None, {"min_capacity": 2}, (2, 0), id="idle pools are not topped up to min"),
    pytest.param(1, 0, None, {}, (1, 1), id="one pending with min 0 starts one"),
    pytest.param(1, 0, None, {"sensitivity": 0.0}, (1, 1), id="at least one while anything is pending"),
    pytest.param(1, 1, None, {}, (1, 0), id="one pending, one worker: enough"),
    pytest.param(10, 0, None, {}, (4, 4), id="10 pending: 2.6 ln(10/3.3 + 1) = 3.62 -> 4"),
    pytest.param(10, 3, None, {}, (4, 1), id="only the difference is launched"),
    pytest.param(10, 5, None, {}, (4, 0), id="more workers than the target: none removed"),
    pytest.param(10, 0, None, {"sensitivity": 2.1}, (3, 3), id="ADRIA's gentler 2.1: 2.93 -> 3"),
    pytest.param(10, 0, None, {"min_capacity": 1}, (5, 5), id="min shifts the curve up"),
    pytest.param(1000, 0, None, {}, (5, 5), id="a large backlog is capped at max"),
    pytest.param(1000, 2, None, {}, (5, 3), id="capped at max, counting the workers there"),
    pytest.param(10**9, 0, None, {"max_capacity": 50}, (50, 50), id="a huge backlog is capped too"),
    pytest.param(100, 0, None, {"max_capacity": 0}, (0, 0), id="max 0: never a worker"),
    pytest.param(1000, 0, None, {"min_capacity": 1, "max_capacity": 1}, (1, 1), id="min = max"),
    pytest.param(10, 0, 59.9, {}, (4, 0), id="within the cooldown: no launch"),
    pytest.param(10, 0, 60.0, {}, (4, 4), id="the cooldown's end: launch"),
    pytest.param(10, 0, 0.0, {"cooldown_seconds": 0.0}, (4, 4), id="no cooldown"),
    pytest.param(1, 0, None, {"sensitivity": HALF, "factor": 1.0}, (3, 3), id="2.5 rounds up, as Math.round"),
]


@pytest.mark.parametrize(("pending", "tracked", "since", "settings", "expected"), CASES)
def test_launches_follow_the_formula_and_the_cooldown(
    pending: int, tracked: int, since: float | None, settings: dict[str, float], expected: tuple[int, int]
) -> None:
    decision = decide(pool(**settings), pending=pending, tracked=tracked, since_last_launch=since)
    assert (decision.target, decision.launches) == expected
    assert (decision.pending, decision.tracked) == (pending, tracked)


def test_the_decision_says_how_much_cooldown_is_left() -> None:
    assert decide(pool(), pending=5, tracked=0, since_last_launch=45.0).cooldown_remaining == 15.0
    assert decide(pool(), pending=5, tracked=0, since_last_launch=75.0).cooldown_remaining == 0.0
    assert decide(pool(), pending=5, tracked=0, since_last_launch=None).cooldown_remaining == 0.0


def test_halves_round_up_as_in_javascript_not_to_even_as_in_python() -> None:
    assert [round_half_up(value) for value in (0.5, 1.5, 2.5, 3.5)] == [1, 2, 3, 4]
    assert [round(value) for value in (0.5, 2.5)] == [0, 2]  # what round() would have done
    assert round_half_up(2.4999999) == 2
    assert round_half_up(0.0) == 0


def test_the_exact_half_case_really_is_a_half() -> None:
    # The table's rounding case depends on this float being exactly 2.5.
    assert HALF * math.log(1 / 1.0 + 1) == 2.5
    assert target_workers(1, pool(sensitivity=HALF, factor=1.0)) == 3


def test_the_target_never_decreases_as_the_backlog_grows() -> None:
    the_pool = pool(max_capacity=20)
    targets = [target_workers(pending, the_pool) for pending in range(0, 100_000, 37)]
    assert targets == sorted(targets)
    assert targets[-1] == 20
