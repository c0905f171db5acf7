"""The server's garbage-collector settings: startup objects frozen, a higher first
threshold, and every collection's pause on /metrics."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from breeze.ops.gc import GEN0_THRESHOLD, tune_for_server
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
