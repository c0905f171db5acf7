"""The server's garbage-collector settings: startup objects frozen, a higher first
threshold, every collection's pause on /metrics, and collections held off for a burst."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from breeze.ops.gc import BURST_THRESHOLD, GEN0_THRESHOLD, collections_deferred, tune_for_server
from breeze.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold, callbacks, enabled = gc.get_threshold(), list(gc.callbacks), gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks


def _pauses(generation: str) -> float:
    value = REGISTRY.get_sample_value("breeze_gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


@pytest.mark.usefixtures("restored_gc")
def test_tuning_freezes_what_exists_and_times_every_collection() -> None:
    tune_for_server()
    tune_for_server()  # twice (a second app in one process) adds no second timer
    assert gc.get_threshold()[0] == GEN0_THRESHOLD
    assert gc.get_freeze_count() > 0
    assert sum(1 for cb in gc.callbacks if getattr(cb, "__module__", "") == "breeze.ops.gc") == 1
    before = _pauses("2")
    gc.collect()
    assert _pauses("2") == before + 1
    tune_for_server(Settings().server.gc_young_threshold)  # what `breeze server` passes
    assert gc.get_threshold()[0] == Settings().server.gc_young_threshold
    tune_for_server(5_000)
    assert gc.get_threshold()[0] == 5_000


@pytest.mark.usefixtures("restored_gc")
def test_a_burst_holds_young_collections_off_and_restores_the_threshold() -> None:
    gc.set_threshold(700, 10, 10)
    started: list[int] = []
    gc.callbacks.append(
        lambda phase, info: started.append(info["generation"]) if phase == "start" else None
    )
    with collections_deferred(threshold=1_000_000):
        assert gc.get_threshold() == (1_000_000, 10, 10)
        kept = [[i] for i in range(20_000)]  # far over 700 new containers
        assert started == []
        assert gc.get_count()[0] >= len(kept)
    assert gc.get_threshold() == (700, 10, 10)
    more = [[i] for i in range(1_000)]  # the threshold is back: the pile is collected
    assert started and len(more) == 1_000


@pytest.mark.usefixtures("restored_gc")
def test_overlapping_bursts_restore_the_threshold_when_the_last_ends() -> None:
    gc.set_threshold(GEN0_THRESHOLD, 10, 10)
    first, second = collections_deferred(), collections_deferred()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == BURST_THRESHOLD
    first.__exit__(None, None, None)  # ends before the one that began after it
    assert gc.get_threshold()[0] == BURST_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("restored_gc")
def test_a_burst_that_fails_restores_the_threshold() -> None:
    gc.set_threshold(GEN0_THRESHOLD, 10, 10)
    with pytest.raises(RuntimeError), collections_deferred():
        raise RuntimeError("the launch failed")
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
