"""How `reefguide serve` sets up the process it serves in."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from reefguide.http.server import YOUNG_COLLECTION_OBJECTS, tune_garbage_collector


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_the_collector_leaves_start_up_objects_alone_and_runs_less_often() -> None:
    survivor = object()
    tracked = [survivor]  # a container, so the collector tracks it

    tune_garbage_collector()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_OBJECTS
    # Frozen: no generation holds it any more.
    assert not any(any(obj is tracked for obj in gc.get_objects(generation)) for generation in range(3))
